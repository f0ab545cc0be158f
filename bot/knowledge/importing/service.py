"""Import a document as a resource of the knowledge base: `parse` (refuse or prepare), show the draft,
`write`. Plain Python over bytes, so the CLI and a Telegram adapter call the same three steps.

Idempotent by source: a document is found again by its `imported_from` (its URL, or its file name when
it has none); re-importing rewrites that same file, and only when its text changed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import yaml

from bot.knowledge.importing.document import Draft, Extracted, ImportOptions, ImportRefused, Section
from bot.knowledge.importing.office import read_docx, read_pptx
from bot.knowledge.importing.pdf import read_pdf
from bot.knowledge.importing.sections import cut_sections, slug
from bot.knowledge.importing.uploads import PENDING, Uploads
from bot.knowledge.importing.web import read_html, read_markdown, read_text
from bot.knowledge.loader import RESOURCE_TYPES, check_knowledge, parse_resource

READERS: dict[str, Callable[[str, bytes], Extracted]] = {
    ".pdf": read_pdf,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".html": read_html,
    ".htm": read_html,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".txt": read_text,
}
EXPECTED_LANGUAGE = "fr"
_MARKDOWN_HEADING = re.compile(r"^#{1,6}(?=\s)", re.MULTILINE)
_NOTICE = "# Importé par `catabot knowledge import` : un nouvel import remplace ce fichier.\n"


def supported(file_name: str) -> bool:
    return Path(file_name).suffix.lower() in READERS


def _front_matter(meta: dict[str, object]) -> str:
    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, default_flow_style=None, width=1000)


def render(draft_meta: dict[str, object], sections: list[Section], cite: Callable[[Section], str]) -> str:
    """The resource file: front matter, then one `## ` section per section with its source marker."""
    parts = ["---\n", _NOTICE, _front_matter(draft_meta), "---\n"]
    for section in sections:
        body = _MARKDOWN_HEADING.sub("", section.text)  # a line of the document must not open a section
        parts.append(f"## {section.title}\n<!-- sources: {cite(section)} -->\n{body}\n\n")
    return "".join(parts).rstrip("\n") + "\n"


class DocumentImporter:
    """Turns documents into resources under `knowledge_dir/folder/`.

    `max_bytes` is the largest file accepted; `today` dates the resources written (their `updated`)."""

    def __init__(
        self,
        knowledge_dir: Path,
        *,
        folder: str = "documents",
        max_bytes: int = 20 * 1024 * 1024,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.knowledge_dir = knowledge_dir
        self.folder = knowledge_dir / folder
        self.max_bytes = max_bytes
        self.today = today
        self.uploads = Uploads(self.folder / PENDING)

    def check_file(self, file_name: str, size: int, download_limit: int | None = None) -> None:
        """Before reading a file of `size` bytes: raises ImportRefused(`import_unsupported`, `import_empty`,
        `import_too_large`, or `import_too_large_download` above `download_limit` bytes: what the channel
        it comes through lets us fetch, e.g. 20 MB for a Telegram bot)."""
        name = Path(file_name).name
        if not supported(name):
            raise ImportRefused(name, "import_unsupported", kinds=", ".join(sorted(READERS)))
        self.check_size(name, size)
        if download_limit is not None and size > download_limit:
            raise ImportRefused(
                name, "import_too_large_download", size=_megabytes(size), limit=_megabytes(download_limit)
            )

    def check_size(self, file_name: str, size: int) -> None:
        """Raises ImportRefused(`import_too_large` or `import_empty`) for a file of `size` bytes."""
        if size == 0:
            raise ImportRefused(file_name, "import_empty")
        if size > self.max_bytes:
            raise ImportRefused(
                file_name, "import_too_large", size=_megabytes(size), limit=_megabytes(self.max_bytes)
            )

    def parse(
        self,
        file_name: str,
        data: bytes,
        options: ImportOptions | None = None,
        *,
        reserved: set[str] | None = None,
    ) -> Draft:
        """Read a document and prepare its resource, writing nothing.

        `file_name` gives the format (by extension) and, without `options.source`, the source cited;
        `reserved` collects the ids taken by drafts of the same batch. Raises ImportRefused."""
        options = options or ImportOptions()
        name = Path(file_name).name
        self.check_file(name, len(data))
        reader = READERS[Path(name).suffix.lower()]
        if not data.strip():
            raise ImportRefused(name, "import_empty")
        base, _ = check_knowledge(self.knowledge_dir)
        source = self._source(name, options, {r.id for r in base.roles})
        extracted = reader(name, data)
        first_heading = next((b.text for b in extracted.blocks if b.heading == 1), "")
        title = options.title or extracted.title or " ".join(first_heading.split()) or _humanize(name)
        sections, language = cut_sections(extracted, title)
        if not sections:
            empty = "import_no_text" if extracted.page_kind == "page" else "import_no_content"
            raise ImportRefused(name, empty)
        existing = next((r for r in base.resources if r.imported_from == source), None)
        taken = {r.id for r in base.resources} | (reserved if reserved is not None else set())
        resource_id = existing.id if existing else _free_id(slug(title), taken, self.folder)
        if reserved is not None:
            reserved.add(resource_id)
        path = existing.path if existing else self.folder / f"{resource_id}.md"
        draft = Draft(name, source, title, options.date or extracted.date, language, sections,
                      resource_id, path, "", "created")  # fmt: skip
        draft.markdown = self._markdown(draft, options, existing.updated if existing else self.today())
        if existing:
            if path.read_text(encoding="utf-8") == draft.markdown:
                draft.outcome = "unchanged"
            else:
                draft.outcome = "updated"
                draft.markdown = self._markdown(draft, options, self.today())
        self._validate(draft, [r.id for r in base.roles])
        if language != EXPECTED_LANGUAGE:
            draft.warnings.append(("import_language", {"file": name, "language": language}))
        foreign = [s.title for s in sections if s.language not in (language, EXPECTED_LANGUAGE)]
        if foreign:
            draft.warnings.append(("import_sections_language", {"file": name, "titles": " ; ".join(foreign)}))
        return draft

    def parse_path(
        self, path: Path, options: ImportOptions | None = None
    ) -> tuple[list[Draft], list[ImportRefused], list[Path]]:
        """Drafts for a file, or for every supported file under a folder (hidden ones aside).

        Returns (drafts, refusals, skipped files of an unsupported type). A folder takes no `--source`:
        one URL cannot be the source of several documents."""
        options = options or ImportOptions()
        if path.is_dir():
            if options.source is not None:
                raise ImportRefused(path.name, "import_source_for_folder")
            files = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )  # fmt: skip
        elif path.is_file():
            files = [path]
        else:
            raise ImportRefused(str(path), "import_not_found")
        drafts: list[Draft] = []
        refusals: list[ImportRefused] = []
        skipped = [p for p in files if path.is_dir() and not supported(p.name)]
        reserved: set[str] = set()
        for file in (p for p in files if p not in skipped):
            try:
                self.check_size(file.name, file.stat().st_size)
                drafts.append(self.parse(file.name, file.read_bytes(), options, reserved=reserved))
            except ImportRefused as refusal:
                refusals.append(refusal)
        return drafts, refusals, skipped

    def write(self, draft: Draft) -> bool:
        """Store the draft's resource (atomically); False when it was unchanged and nothing was written."""
        if draft.outcome == "unchanged":
            return False
        path = Path(draft.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.tmp")
        temporary.write_text(draft.markdown, encoding="utf-8")
        os.replace(temporary, path)
        return True

    def _source(self, name: str, options: ImportOptions, roles: set[str]) -> str:
        if options.type not in RESOURCE_TYPES:
            raise ImportRefused(name, "import_bad_option", option="--type", value=options.type,
                                known=", ".join(sorted(RESOURCE_TYPES)))  # fmt: skip
        for role in options.roles:
            if role not in roles:
                raise ImportRefused(name, "import_bad_option", option="--roles", value=role,
                                    known=", ".join(sorted(roles)))  # fmt: skip
        if options.source is None:
            return name
        if not options.source.startswith(("http://", "https://")):
            raise ImportRefused(name, "import_bad_option", option="--source", value=options.source,
                                known="http(s)://…")  # fmt: skip
        return options.source.split("#", 1)[0]

    def _markdown(self, draft: Draft, options: ImportOptions, updated: dt.date) -> str:
        meta: dict[str, object] = {
            "id": draft.resource_id,
            "title": draft.title,
            "type": options.type,
            "sources": [draft.source],
            "roles": list(options.roles),
            "tags": list(options.tags),
            "updated": updated,
        }
        if draft.date:
            meta["document_date"] = draft.date
        meta |= {"language": draft.language, "imported_from": draft.source}
        return render(meta, draft.sections, draft.cite)

    def _validate(self, draft: Draft, roles: list[str]) -> None:
        """The loader must accept what would be written (checked on a scratch copy)."""
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / f"{draft.resource_id}.md"
            path.write_text(draft.markdown, encoding="utf-8")
            resource, problems = parse_resource(path, roles)
        if resource is None or problems:
            detail = "; ".join(p.message for p in problems)
            raise ImportRefused(draft.file, "import_invalid", detail=detail)


def _free_id(base: str, taken: set[str], folder: Path) -> str:
    candidate, n = base, 1
    while candidate in taken or (folder / f"{candidate}.md").exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _humanize(file_name: str) -> str:
    words = re.sub(r"[_-]+", " ", Path(file_name).stem).strip()
    return words[:1].upper() + words[1:] if words else file_name


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.3g}".replace(".", ",")
