"""The coordinators' answers that became knowledge: FAQ resources under `knowledge/coordinateurs/`.

One file per answer, `coordinateurs-YYYY-MM-DD-N.md`, which is also its id and its source (a file name is a
source `bot.knowledge.sections.is_source` accepts): the passage is cited as an answer of the network's
coordinators of that date. The file holds the question and the answer as the coordinator edited them, and
nothing about who asked (no id, handle, language, or date of the question).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.knowledge.sections import marker_line

FOLDER = "coordinateurs"
PREFIX = "coordinateurs-"
TAG = "reponse-coordinateurs"
MAX_QUESTION = 300
MAX_ANSWER = 3000
_NAME = re.compile(r"^coordinateurs-(\d{4}-\d{2}-\d{2})-(\d+)\.md$")


class ContributionError(ValueError):
    """An empty or too long question or answer (`reason`: a catalogue key; `limit`: the maximum length)."""

    def __init__(self, reason: str, limit: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.limit = limit


@dataclass(frozen=True)
class Contribution:
    """A coordinators' answer in the knowledge: `id` (also the file's stem), its date, question and answer."""

    id: str
    date: dt.date
    question: str
    answer: str


def contribution_date(source: str) -> dt.date | None:
    """The date of the coordinators' answer whose source (file name) is `source`; None for any other."""
    found = _NAME.match(source)
    if found is None:
        return None
    try:
        return dt.date.fromisoformat(found.group(1))
    except ValueError:
        return None


def _clean(text: str, limit: int, what: str) -> str:
    """One paragraph per line kept; what would break the resource's structure removed: a line starting with
    `#` (a heading), HTML comments (a sources marker), a `---` line (the front matter)."""
    lines = []
    for line in text.replace("\r", "").split("\n"):
        line = line.replace("<!--", "").replace("-->", "").rstrip()
        line = re.sub(r"^\s*#+\s*", "", line)
        if re.fullmatch(r"\s*-{3,}\s*", line):
            continue
        lines.append(line)
    cleaned = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    if not cleaned:
        raise ContributionError(f"contribution_empty_{what}")
    if len(cleaned) > limit:
        raise ContributionError(f"contribution_too_long_{what}", limit)
    return cleaned


def render(contribution: Contribution) -> str:
    """The Markdown of a contribution, as `catabot knowledge check` accepts it."""
    source = f"{contribution.id}.md"
    front = {
        "id": contribution.id,
        "title": " ".join(contribution.question.split()),
        "type": "faq",
        "sources": [source],
        "roles": [],
        "tags": [TAG],
        "updated": contribution.date,
    }
    header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False, width=10_000)
    return f"---\n{header}---\n{marker_line([source])}\n{contribution.answer}\n"


class Contributions:
    """The contributions under `knowledge_dir/coordinateurs/`. Writes are atomic (a temporary file
    renamed), so a bot reading the knowledge never sees half a file."""

    def __init__(self, knowledge_dir: Path) -> None:
        self.folder = knowledge_dir / FOLDER

    def add(self, question: str, answer: str, today: dt.date) -> Contribution:
        """Write a new FAQ entry; raises ContributionError for an empty or too long text."""
        question, answer = _clean(question, MAX_QUESTION, "question"), _clean(answer, MAX_ANSWER, "answer")
        self.folder.mkdir(parents=True, exist_ok=True)
        taken = {int(m.group(2)) for p in self.folder.glob("*.md") if (m := _NAME.match(p.name))
                 and m.group(1) == today.isoformat()}  # fmt: skip
        number = max(taken, default=0) + 1
        contribution = Contribution(f"{PREFIX}{today.isoformat()}-{number}", today, question, answer)
        self._write(contribution)
        return contribution

    def get(self, resource_id: str) -> Contribution | None:
        path = self._path(resource_id)
        if path is None or not path.exists():
            return None
        front, _, body = path.read_text(encoding="utf-8").removeprefix("---\n").partition("\n---\n")
        meta = yaml.safe_load(front)
        answer = "\n".join(line for line in body.splitlines() if not line.startswith("<!--")).strip()
        date = _NAME.match(path.name)
        assert date is not None
        return Contribution(resource_id, dt.date.fromisoformat(date.group(1)), str(meta["title"]), answer)

    def correct(self, resource_id: str, answer: str, today: dt.date) -> Contribution | None:
        """Replace the answer (the source and id stay; `updated` becomes `today`); None if unknown."""
        found = self.get(resource_id)
        if found is None:
            return None
        fixed = Contribution(found.id, found.date, found.question, _clean(answer, MAX_ANSWER, "answer"))
        self._write(fixed, updated=today)
        return fixed

    def withdraw(self, resource_id: str) -> bool:
        path = self._path(resource_id)
        if path is None or not path.exists():
            return False
        path.unlink()
        return True

    def all(self) -> list[Contribution]:
        """Every contribution, the latest first."""
        found = [self.get(p.stem) for p in self.folder.glob("*.md") if _NAME.match(p.name)]
        return sorted((c for c in found if c), key=lambda c: (c.date, c.id), reverse=True)

    def _path(self, resource_id: str) -> Path | None:
        name = f"{resource_id}.md"
        return self.folder / name if _NAME.match(name) else None

    def _write(self, contribution: Contribution, *, updated: dt.date | None = None) -> None:
        path = self.folder / f"{contribution.id}.md"
        text = render(contribution)
        if updated is not None:
            old, new = contribution.date.isoformat(), updated.isoformat()
            text = text.replace(f"updated: {old}", f"updated: {new}", 1)
        staging = path.with_suffix(".tmp")
        staging.write_text(text, encoding="utf-8")
        staging.replace(path)
