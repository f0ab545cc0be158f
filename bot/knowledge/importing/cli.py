"""`catabot knowledge import`: the terminal's view of the importer (drafts, refusals), in French."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from babel.dates import format_date

from bot.knowledge.importing.document import Draft, ImportOptions, ImportRefused
from bot.knowledge.importing.service import DocumentImporter
from bot.messages import text


def words(value: str | None) -> tuple[str, ...]:
    """`--roles a,b` / `--tags a,b` as a tuple, blanks dropped."""
    return tuple(w.strip() for w in (value or "").split(",") if w.strip())


def describe(draft: Draft, knowledge_dir: Path, language: str = "fr") -> list[str]:
    """The lines a coordinator reads before confirming: the resource, then each section's title, place
    (page, slide or anchor) and size."""
    date = text("import_draft_date", language, date=format_date(draft.date, "long", locale=language))
    path = Path(draft.path)
    lines = [
        text(
            "import_draft",
            language,
            file=draft.file,
            path=path.relative_to(knowledge_dir) if path.is_relative_to(knowledge_dir) else path,
            title=draft.title,
            date=date if draft.date else "",
            outcome=text(f"import_outcome_{draft.outcome}", language),
        )
    ]
    for section in draft.sections:
        kind, _, number = section.anchor.partition("=")
        if kind in ("page", "slide") and number:
            place = text(f"source_{kind}", language, n=number)
        else:
            place = text("import_section_place", language, anchor=section.anchor)
        lines.append(text("import_section", language, title=section.title, place=place, chars=section.chars))
    lines += [text(key, language, **values) for key, values in draft.warnings]
    return lines


def run_import(
    importer: DocumentImporter,
    target: Path,
    options: ImportOptions,
    *,
    dry_run: bool,
    out: TextIO,
    err: TextIO,
) -> int:
    """Parse every file first; write only when none is refused. Returns the exit status (0 or 1)."""
    try:
        drafts, refusals, skipped = importer.parse_path(target, options)
    except ImportRefused as refused:
        refusals, drafts, skipped = [refused], [], []
    for path in skipped:
        print(text("import_skipped", file=path.name), file=err)
    for refusal in refusals:
        print(text(refusal.reason, **refusal.values), file=err)
    if refusals:
        print(text("import_refused", count=len(refusals)), file=err)
        return 1
    for draft in drafts:
        print("\n".join(describe(draft, importer.knowledge_dir)), file=out)
    if dry_run:
        print(text("import_dry_run"), file=out)
        return 0
    written = sum(importer.write(draft) for draft in drafts)
    print(text("import_done", written=written, unchanged=len(drafts) - written), file=out)
    return 0
