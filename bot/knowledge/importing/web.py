"""HTML (main content by trafilatura), Markdown and plain text, decoded by charset-normalizer."""

from __future__ import annotations

import datetime as dt
import re

import trafilatura
from charset_normalizer import from_bytes

from bot.knowledge.importing.document import Block, Extracted, ImportRefused

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FRONT_MATTER = re.compile(r"\A---\s*\n.*?\n---\s*\n", re.DOTALL)


def decode(name: str, data: bytes) -> str:
    """The text of a file in whatever encoding it was saved (a declared HTML/XML charset first).

    Raises ImportRefused(`import_corrupt`) when the bytes are not text in any known encoding."""
    best = from_bytes(data).best()
    if best is None:
        raise ImportRefused(name, "import_corrupt")
    return str(best).replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def markdown_blocks(text: str) -> list[Block]:
    """Headings (`#` to `######`) and paragraphs (separated by blank lines) of Markdown text."""
    blocks: list[Block] = []
    paragraph: list[str] = []

    def close() -> None:
        if paragraph:
            blocks.append(Block("\n".join(paragraph)))
            paragraph.clear()

    for line in _FRONT_MATTER.sub("", text).splitlines():
        match = _HEADING.match(line)
        if match:
            close()
            blocks.append(Block(match.group(2), heading=len(match.group(1))))
        elif line.strip():
            paragraph.append(line.rstrip())
        else:
            close()
    close()
    return blocks


def read_markdown(name: str, data: bytes) -> Extracted:
    return Extracted(markdown_blocks(decode(name, data)))


def read_text(name: str, data: bytes) -> Extracted:
    """Plain text: paragraphs only (no headings to cut at)."""
    paragraphs = re.split(r"\n\s*\n", decode(name, data))
    return Extracted([Block(p.strip("\n")) for p in paragraphs if p.strip()])


def read_html(name: str, data: bytes) -> Extracted:
    """The main content of a web page (menus, footers and ads left out), its title and date."""
    page = decode(name, data)
    content = trafilatura.extract(
        page, output_format="markdown", include_formatting=True, include_tables=True, favor_recall=True
    )
    metadata = trafilatura.extract_metadata(page)
    date = None
    if metadata is not None and metadata.date:
        try:
            date = dt.date.fromisoformat(metadata.date[:10])
        except ValueError:
            date = None
    title = (metadata.title or "").strip() if metadata is not None else ""
    return Extracted(markdown_blocks(content or ""), title=title, date=date)
