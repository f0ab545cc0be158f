"""PDF: the text layer read in reading order (pdfminer.six's layout analysis keeps columns apart), the
outline (bookmarks) as the document's own headings, the title and creation date from its metadata (pypdf).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import statistics
from typing import Any

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTComponent, LTTextContainer, LTTextLine
from pypdf import PasswordType, PdfReader

from bot.knowledge.importing.document import Block, Extracted, ImportRefused


def _open(name: str, data: bytes) -> PdfReader:
    try:
        reader = PdfReader(io.BytesIO(data))
        # An empty user password opens files that only restrict printing or copying: they read like others.
        if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
            raise ImportRefused(name, "import_encrypted")
        len(reader.pages)
    except ImportRefused:
        raise
    except Exception as exc:  # a damaged file can fail anywhere inside the parser
        raise ImportRefused(name, "import_corrupt") from exc
    return reader


def _outline(reader: PdfReader) -> list[tuple[int, int, str]]:
    """(page, level, title) of every bookmark, in order; [] when the file has none or they are broken."""
    found: list[tuple[int, int, str]] = []

    def walk(items: list[Any], level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
                continue
            page = reader.get_destination_page_number(item)
            title = " ".join(str(item.title or "").split())
            if page is not None and page >= 0 and title:
                found.append((page + 1, min(level, 6), title))

    try:
        walk(list(reader.outline), 1)
    except Exception:  # a broken outline is not worth refusing a readable document
        return []
    return found


def _gap(upper: LTComponent, lower: LTComponent) -> float | None:
    """White space (points) between a line or box and the one read after it, None when the second is not
    below the first (another column) or does not overlap it horizontally."""
    gap = upper.y0 - lower.y1
    overlap = min(upper.x1, lower.x1) - max(upper.x0, lower.x0)
    return gap if overlap > 0 and gap > -0.3 * min(upper.height, lower.height) else None


def _paragraphs(boxes: list[LTTextContainer[Any]]) -> list[str]:
    """The page's text boxes, those that are lines of one paragraph joined: layout analysis makes a box of
    every line when the line spacing is wide (justified text, 1.5 spacing). Two boxes are one paragraph
    when the space between them is no larger than the page's usual space between lines (+30 % of a
    line's height, at most 1.2 lines); a larger space is a visual paragraph break."""
    if len(boxes) < 2:
        return [box.get_text() for box in boxes]
    heights = [line.height for box in boxes for line in box if isinstance(line, LTTextLine)]
    height = statistics.median(heights) if heights else min(b.height for b in boxes)
    gaps = [
        g
        for box in boxes
        for upper, lower in itertools.pairwise(box)
        if (g := _gap(upper, lower)) is not None
    ]
    between = [_gap(upper, lower) for upper, lower in itertools.pairwise(boxes)]
    usual = statistics.median([g for g in gaps + between if g is not None and g >= 0] or [0.0])
    limit = min(usual + 0.3 * height, 1.2 * height)
    out = [boxes[0].get_text()]
    for box, gap in zip(boxes[1:], between, strict=True):
        if gap is not None and gap <= limit:
            out[-1] = out[-1].rstrip("\n") + "\n" + box.get_text()
        else:
            out.append(box.get_text())
    return out


def _pages_text(name: str, data: bytes) -> list[list[str]]:
    try:
        return [
            _paragraphs([box for box in page if isinstance(box, LTTextContainer) and box.get_text().strip()])
            for page in extract_pages(io.BytesIO(data), password="", laparams=LAParams())
        ]
    except Exception as exc:
        raise ImportRefused(name, "import_corrupt") from exc


def _date(reader: PdfReader) -> dt.date | None:
    try:
        created = reader.metadata.creation_date if reader.metadata else None
    except Exception:  # a malformed date string in the metadata
        return None
    return created.date() if created else None


def read_pdf(name: str, data: bytes) -> Extracted:
    """Blocks of a PDF, one per text box, with their page; raises ImportRefused (`import_no_text` when
    no page has a text layer, i.e. a scan that needs OCR first)."""
    reader = _open(name, data)
    pages = _pages_text(name, data)
    if not any(pages):
        raise ImportRefused(name, "import_no_text")
    headings: dict[int, list[tuple[int, str]]] = {}
    for page, level, title in _outline(reader):
        headings.setdefault(page, []).append((level, title))
    blocks: list[Block] = []
    for number, boxes in enumerate(pages, start=1):
        titles = headings.get(number, [])
        blocks += [Block(title, number, level) for level, title in titles]
        shown = {" ".join(t.split()) for _, t in titles}
        blocks += [Block(box, number) for box in boxes if " ".join(box.split()) not in shown]
    title = ""
    try:
        title = str((reader.metadata.title if reader.metadata else None) or "").strip()
    except Exception:
        title = ""
    return Extracted(blocks, "page", len(pages), title, _date(reader))
