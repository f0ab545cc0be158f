"""`catabot knowledge import`: the terminal's view of the importer (drafts, refusals), in French."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from bot.knowledge.importing.document import ImportOptions, ImportRefused
from bot.knowledge.importing.preview import describe
from bot.knowledge.importing.service import DocumentImporter
from bot.messages import text


def words(value: str | None) -> tuple[str, ...]:
    """`--roles a,b` / `--tags a,b` as a tuple, blanks dropped."""
    return tuple(w.strip() for w in (value or "").split(",") if w.strip())


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
