"""PDF: the text layer read in reading order (pdfminer.six's layout analysis keeps columns apart), the
outline (bookmarks) as the document's own headings, the title and creation date from its metadata (pypdf).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTTextContainer
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
        raise ImportRefused(name, "import_corrupt", detail=type(exc).__name__) from exc
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


def _pages_text(name: str, data: bytes) -> list[list[str]]:
    try:
        return [
            [box.get_text() for box in page if isinstance(box, LTTextContainer) and box.get_text().strip()]
            for page in extract_pages(io.BytesIO(data), password="", laparams=LAParams())
        ]
    except Exception as exc:
        raise ImportRefused(name, "import_corrupt", detail=type(exc).__name__) from exc


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
