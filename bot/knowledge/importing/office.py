"""Word (python-docx) and PowerPoint (python-pptx) files: their headings, paragraphs, lists and tables."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import docx
import pptx
from docx.table import Table
from docx.text.paragraph import Paragraph
from pptx.util import Emu

from bot.knowledge.importing.document import Block, Extracted, ImportRefused

# Built-in heading styles keep their English names inside the file, whatever the language of Word.
_HEADING_STYLE = re.compile(r"^(?:heading|titre)\s*(\d)$", re.IGNORECASE)


def _core(properties: Any) -> tuple[str, dt.date | None]:
    title = str(properties.title or "").strip()
    created = properties.created
    return title, created.date() if isinstance(created, dt.datetime) else None


def _paragraph_block(paragraph: Paragraph) -> Block | None:
    text = paragraph.text.strip()
    if not text:
        return None
    style = (paragraph.style.name if paragraph.style is not None else "") or ""
    match = _HEADING_STYLE.match(style.strip())
    if match:
        return Block(text, heading=int(match.group(1)))
    if style.lower() == "title":
        return Block(text, heading=1)
    if "list" in style.lower() or "liste" in style.lower():
        return Block(f"- {text}")
    return Block(text)


def _table_block(table: Table) -> Block | None:
    rows = [" | ".join(cell.text.strip() for cell in row.cells) for row in table.rows]
    text = "\n".join(row for row in rows if row.strip(" |"))
    return Block(text) if text else None


def read_docx(name: str, data: bytes) -> Extracted:
    """Blocks of a Word file in body order (headings from the Heading N / Title styles)."""
    try:
        document = docx.Document(io.BytesIO(data))
        blocks = [
            block
            for item in document.iter_inner_content()
            if (block := _paragraph_block(item) if isinstance(item, Paragraph) else _table_block(item))
        ]
        title, date = _core(document.core_properties)
    except Exception as exc:  # not a zip, a zip without a document part, broken XML…
        raise ImportRefused(name, "import_corrupt") from exc
    return Extracted(blocks, "", 0, title, date)


def _shape_blocks(shape: Any, slide: int) -> list[Block]:
    if shape.has_text_frame:
        lines = []
        for paragraph in shape.text_frame.paragraphs:
            text = "".join(run.text for run in paragraph.runs).strip()
            if text:
                lines.append(f"- {text}" if paragraph.level > 0 else text)
        return [Block("\n".join(lines), slide)] if lines else []
    if getattr(shape, "has_table", False) and shape.has_table:
        rows = [" | ".join(c.text.strip() for c in row.cells) for row in shape.table.rows]
        return [Block("\n".join(rows), slide)]
    return []


def _position(shape: Any) -> tuple[int, int]:
    return (int(shape.top or Emu(0)), int(shape.left or Emu(0)))


def read_pptx(name: str, data: bytes) -> Extracted:
    """Blocks of a slide deck: each slide's title as a heading, then its text boxes top to bottom."""
    try:
        deck = pptx.Presentation(io.BytesIO(data))
        blocks: list[Block] = []
        for number, slide in enumerate(deck.slides, start=1):
            title_shape = slide.shapes.title
            title = title_shape.text_frame.text.strip() if title_shape is not None else ""
            if title:
                blocks.append(Block(" ".join(title.split()), number, heading=2))
            others = [s for s in slide.shapes if title_shape is None or s.shape_id != title_shape.shape_id]
            for shape in sorted(others, key=_position):
                blocks += _shape_blocks(shape, number)
        title, date = _core(deck.core_properties)
        slides = len(deck.slides)
    except Exception as exc:
        raise ImportRefused(name, "import_corrupt") from exc
    return Extracted(blocks, "slide", slides, title, date)
