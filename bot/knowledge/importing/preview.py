"""What a coordinator reads before confirming an import, line by line, in their language."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from babel.dates import format_date

from bot.knowledge.importing.document import Draft
from bot.messages import text

Say = Callable[..., str]


def describe(draft: Draft, knowledge_dir: Path, language: str = "fr", say: Say = text) -> list[str]:
    """The lines a coordinator reads before confirming: the resource, then each section's title, place
    (page, slide or anchor) and size, then the warnings. `say(key, language, **values)` words each line
    (`bot.messages.text`; an adapter passes its own to escape the values for its markup, so the pieces
    inserted into a line are worded with plain `text` and escaped once, with the line)."""
    date = text("import_draft_date", language, date=format_date(draft.date, "long", locale=language))
    path = Path(draft.path)
    lines = [
        say(
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
        lines.append(say("import_section", language, title=section.title, place=place, chars=section.chars))
    lines += [say(key, language, **values) for key, values in draft.warnings]
    return lines
