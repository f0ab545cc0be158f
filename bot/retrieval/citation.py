"""Citing an imported passage: « Extrait de « titre », document du 2 juin 2021, page 3 »."""

from __future__ import annotations

import datetime as dt
import re

from babel.dates import format_date

from bot.messages import text
from bot.retrieval.chunker import Chunk

_PLACE = re.compile(r"#(page|slide)=(\d+)$")


def is_link(url: str) -> bool:
    """True for a URL a reader can open; False for the file name of a document imported without one."""
    return url.startswith(("http://", "https://"))


def citation(chunk: Chunk, language: str) -> str | None:
    """The citation line of an imported document's passage (its title, date, page or slide), in
    `language`; None for a passage of a hand-written resource (cited by its title alone)."""
    if not chunk.imported:
        return None
    if chunk.document_date:
        date = format_date(dt.date.fromisoformat(chunk.document_date), "long", locale=language)
        line = text("source_extract_dated", language, title=chunk.title, date=date)
    else:
        line = text("source_extract", language, title=chunk.title)
    place = _PLACE.search(chunk.url)
    if place:
        line += ", " + text(f"source_{place.group(1)}", language, n=place.group(2))
    return line
