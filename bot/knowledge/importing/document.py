"""What every reader produces and what the importer shows before writing: blocks, sections, refusals."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Literal

# How a paged document's places are named in its sources: `doc.pdf#page=3`, `deck.pptx#slide=3`.
PageKind = Literal["page", "slide", ""]


class ImportRefused(Exception):
    """A file that cannot be imported; nothing was written.

    `reason` is a message-catalogue key (`import_no_text`, `import_encrypted`, `import_empty`,
    `import_corrupt`, `import_unsupported`, `import_too_large`, `import_bad_option`…); `values` fill it
    in, `file` always among them.
    """

    def __init__(self, file: str, reason: str, **values: Any) -> None:
        super().__init__(f"{file}: {reason} {values or ''}".strip())
        self.file = file
        self.reason = reason
        self.values: dict[str, Any] = {"file": file, **values}


@dataclass(frozen=True)
class Block:
    """One paragraph, text box, list item or heading of a document, in reading order.

    `page` is the 1-based page or slide number (None in flowing formats: DOCX, HTML, Markdown, text);
    `heading` is 0 for body text, 1 to 6 for a heading of that level.
    """

    text: str
    page: int | None = None
    heading: int = 0


@dataclass
class Extracted:
    """A reader's output: the blocks, the document's own metadata (title, date) when it has them."""

    blocks: list[Block]
    page_kind: PageKind = ""
    pages: int = 0
    title: str = ""
    date: dt.date | None = None


@dataclass(frozen=True)
class Section:
    """One `## ` section of the resource written for a document.

    `anchor` is the fragment appended to the document's source (`page=3`, `slide=2`, `methode`, or "").
    """

    title: str
    text: str
    anchor: str
    page: int | None
    language: str

    @property
    def chars(self) -> int:
        return len(self.text)


@dataclass(frozen=True)
class ImportOptions:
    """What the coordinator adds to a document: its URL, a title, métiers, tags, type, date."""

    source: str | None = None
    title: str | None = None
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    type: str = "ressource"
    date: dt.date | None = None


@dataclass
class Draft:
    """A parsed document ready to be written: what `preview` shows and `write` stores.

    `outcome` is "created" (no resource yet for this source), "updated" or "unchanged".
    """

    file: str
    source: str
    title: str
    date: dt.date | None
    language: str
    sections: list[Section]
    resource_id: str
    path: Any  # pathlib.Path of the resource file
    markdown: str
    outcome: Literal["created", "updated", "unchanged"]
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def cite(self, section: Section) -> str:
        return f"{self.source}#{section.anchor}" if section.anchor else self.source
