"""Load and validate `knowledge/`: every problem is reported as `file:line: what is wrong`."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import Problem, ProblemsError
from bot.knowledge.sections import Section, is_source, parse_sections
from bot.text import NotUtf8, read_utf8

RESOURCE_TYPES = frozenset(
    {"fiche", "concept", "organisation", "dispositif", "evenement-passe", "chiffres", "ressource", "faq"}
)
REQUIRED_FIELDS = ("id", "title", "type", "sources", "roles", "tags", "updated")
# Written by `catabot knowledge import`: the document's own date, its language, the source it came from.
OPTIONAL_FIELDS = ("document_date", "language", "imported_from")
ID_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ROLES_FILE = "roles.yaml"
# An imported document without a URL is cited by its file name (`atelier.pdf`).


class KnowledgeError(ProblemsError):
    """`knowledge/` has problems (`problems`: each `file:line: what`)."""


@dataclass(frozen=True)
class Metier:
    """One of the catalyseurs' métiers (`knowledge/roles.yaml`)."""

    id: str
    label: str
    summary: str


@dataclass(frozen=True)
class Resource:
    id: str
    title: str
    type: str
    sources: tuple[str, ...]
    roles: tuple[str, ...]
    tags: tuple[str, ...]
    updated: dt.date
    body: str
    path: Path
    body_line: int
    sections: tuple[Section, ...] = ()
    document_date: dt.date | None = None
    language: str = ""
    imported_from: str = ""

    @property
    def url(self) -> str:
        return self.sources[0]


@dataclass
class KnowledgeBase:
    resources: list[Resource] = field(default_factory=list)
    roles: list[Metier] = field(default_factory=list)

    def by_id(self) -> dict[str, Resource]:
        return {r.id: r for r in self.resources}


def _key_lines(front: str) -> dict[str, int]:
    """Line (1-based, within the front matter) where each top-level key is written."""
    lines: dict[str, int] = {}
    for number, text in enumerate(front.splitlines(), start=1):
        match = re.match(r"^([A-Za-z_][\w-]*)\s*:", text)
        if match:
            lines.setdefault(match.group(1), number)
    return lines


def _yaml_problem(path: Path, exc: yaml.YAMLError, first_line: int) -> Problem:
    mark = getattr(exc, "problem_mark", None)
    line = first_line + (mark.line if mark is not None else 0)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return Problem(path, line, f"front matter is not valid YAML: {what}")


def _string_list(value: Any) -> list[str] | None:
    if isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value):
        return [v.strip() for v in value]
    return None


def read_source(path: Path) -> tuple[str | None, list[Problem]]:
    """The text of a knowledge file, or None and the problem (not UTF-8, with its line; unreadable)."""
    try:
        return read_utf8(path), []
    except NotUtf8 as exc:
        return None, [Problem(path, exc.line, str(exc))]
    except OSError as exc:
        return None, [Problem(path, 1, f"cannot read the file ({exc.strerror or exc})")]


def parse_resource(path: Path, known_roles: Iterable[str]) -> tuple[Resource | None, list[Problem]]:
    text, unreadable = read_source(path)
    if text is None:
        return None, unreadable
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, [Problem(path, 1, "missing front matter: the file must start with a '---' line")]
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        return None, [Problem(path, 1, "front matter is not closed by a '---' line")]
    front = "\n".join(lines[1:end])
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(path, exc, 2)]
    if not isinstance(meta, dict):
        return None, [Problem(path, 2, "front matter must be a mapping of fields")]
    key_line = {k: n + 1 for k, n in _key_lines(front).items()}
    problems: list[Problem] = []

    def bad(key: str, message: str) -> None:
        problems.append(Problem(path, key_line.get(key, 1), f"{key}: {message}"))

    for key in REQUIRED_FIELDS:
        if key not in meta or meta[key] is None:
            problems.append(Problem(path, 1, f"{key}: missing field"))
    for key in sorted(set(meta) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS)):
        bad(key, "unknown field")
    rid, title, kind = meta.get("id"), meta.get("title"), meta.get("type")
    if "id" in meta and not (isinstance(rid, str) and ID_PATTERN.match(rid)):
        bad("id", f"must be lowercase letters, digits and hyphens, got {rid!r}")
    elif isinstance(rid, str) and rid != path.stem:
        bad("id", f"{rid!r} differs from the file name {path.stem!r}")
    if "title" in meta and not (isinstance(title, str) and title.strip()):
        bad("title", "must be a non-empty text")
    if "type" in meta and kind not in RESOURCE_TYPES:
        bad("type", f"unknown type {kind!r} (known: {', '.join(sorted(RESOURCE_TYPES))})")
    sources = _string_list(meta.get("sources"))
    if "sources" in meta and (not sources or not all(is_source(s) for s in sources)):
        bad("sources", "must be a non-empty list of http(s) URLs (or the file name of an imported document)")
    roles = _string_list(meta.get("roles")) if meta.get("roles") != [] else []
    known = set(known_roles)
    if "roles" in meta and roles is None:
        bad("roles", "must be a list of métier ids (possibly empty: [])")
    for role in roles or []:
        if role not in known:
            bad("roles", f"unknown métier {role!r} (known: {', '.join(sorted(known))})")
    tags = _string_list(meta.get("tags")) if meta.get("tags") != [] else []
    if "tags" in meta and tags is None:
        bad("tags", "must be a list of words")
    updated = meta.get("updated")
    if "updated" in meta and not isinstance(updated, dt.date):
        bad("updated", f"must be a date written YYYY-MM-DD, got {updated!r}")
    document_date = meta.get("document_date")
    if document_date is not None and not isinstance(document_date, dt.date):
        bad("document_date", f"must be a date written YYYY-MM-DD, got {document_date!r}")
    for key in ("language", "imported_from"):
        if key in meta and not (isinstance(meta[key], str) and meta[key].strip()):
            bad(key, "must be a non-empty text")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        problems.append(Problem(path, end + 1, "the resource has no text after its front matter"))
    sections, found = parse_sections("\n".join(lines[end + 1 :]), end + 2, sources or ())
    problems += [Problem(path, line, message) for line, message in found]
    if problems:
        return None, problems
    resource = Resource(
        id=str(rid),
        title=str(title).strip(),
        type=str(kind),
        sources=tuple(sources or ()),
        roles=tuple(roles or ()),
        tags=tuple(tags or ()),
        updated=updated if isinstance(updated, dt.date) else dt.date.min,
        body=body,
        path=path,
        body_line=end + 2,
        sections=tuple(sections),
        document_date=document_date if isinstance(document_date, dt.date) else None,
        language=str(meta.get("language", "")),
        imported_from=str(meta.get("imported_from", "")),
    )
    return resource, []


def load_roles(directory: Path) -> tuple[list[Metier], list[Problem]]:
    path = directory / ROLES_FILE
    if not path.exists():
        return [], [Problem(path, 1, "file not found")]
    source, unreadable = read_source(path)
    if source is None:
        return [], unreadable
    try:
        data = yaml.safe_load(source)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return [], [
            Problem(path, (mark.line + 1) if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        ]
    entries = data.get("roles") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return [], [Problem(path, 1, "roles: expected a list of métiers")]
    roles: list[Metier] = []
    problems: list[Problem] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("id", "label", "summary")
        ):
            problems.append(Problem(path, 1, f"roles[{number}]: needs the text fields id, label and summary"))
            continue
        roles.append(Metier(entry["id"], entry["label"], entry["summary"]))
    return roles, problems


def title_key(title: str) -> str:
    """`title` compared case- and accent-insensitively, typographic apostrophes and spaces folded."""
    folded = unicodedata.normalize("NFKD", title.casefold().replace("\u2019", "'").replace("\u02bc", "'"))
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def _line_of(path: Path, key: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next((n for n, t in enumerate(lines, 1) if t.startswith(f"{key}:")), 1)


def check_knowledge(directory: Path) -> tuple[KnowledgeBase, list[Problem]]:
    """Load everything under `directory`, collecting every problem instead of stopping at the first."""
    if not directory.is_dir():
        return KnowledgeBase(roles=[]), [Problem(directory, 0, "knowledge folder not found (knowledge_dir)")]
    roles, problems = load_roles(directory)
    base = KnowledgeBase(roles=roles)
    seen: dict[str, Path] = {}
    titles: dict[str, Path] = {}
    for path in sorted(directory.rglob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        resource, found = parse_resource(path, (r.id for r in roles))
        problems.extend(found)
        if resource is None:
            continue
        if resource.id in seen:
            problems.append(
                Problem(
                    path,
                    _line_of(path, "id"),
                    f"id: duplicate id {resource.id!r}, also used by {seen[resource.id]}",
                )
            )
            continue
        seen[resource.id] = path
        other = titles.setdefault(title_key(resource.title), path)
        if other != path:
            problems.append(
                Problem(
                    path,
                    _line_of(path, "title"),
                    f"title: duplicate title {resource.title!r}, also used by {other}",
                )
            )
        base.resources.append(resource)
    if not base.resources and not problems:
        problems.append(Problem(directory, 0, "no resource (*.md) found"))
    return base, problems


def load_knowledge(directory: Path) -> KnowledgeBase:
    base, problems = check_knowledge(directory)
    if problems:
        raise KnowledgeError(problems)
    return base
