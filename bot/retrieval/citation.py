"""Citing a passage: which of its sources to link, for an imported one « Extrait de « titre », document du
2 juin 2021, page 3 », for a coordinators' answer « Réponse des coordinateurs du réseau, 29/11/2026 »."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from babel.dates import format_date

from bot.knowledge.contributions import contribution_date
from bot.messages import text
from bot.retrieval.chunker import Chunk
from bot.text import collapse_spaces, fold_accents

_APOSTROPHE = str.maketrans({"’": "'", "ʼ": "'"})

_PLACE = re.compile(r"#(page|slide)=(\d+)$")


def is_link(url: str) -> bool:
    """True for a URL a reader can open; False for the file name of a document imported without one."""
    return url.startswith(("http://", "https://"))


def by_coordinators(url: str) -> bool:
    """True for the source of a coordinators' answer added from Telegram (a file name, never shown)."""
    return contribution_date(url) is not None


def citation(chunk: Chunk, language: str) -> str | None:
    """The citation line of an imported document's passage (its title, date, page or slide) or of a
    coordinators' answer (their date), in `language`; None for a passage of a hand-written resource (cited
    by its title alone)."""
    answered_on = contribution_date(chunk.url)
    if answered_on is not None:
        return text("coordinators_source", language, date=f"{answered_on:%d/%m/%Y}")
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


@lru_cache(maxsize=1)
def _publishers() -> dict[str, tuple[str, ...]]:
    """host → the names passages use for it (publishers.txt), folded to lower case without accents."""
    table: dict[str, tuple[str, ...]] = {}
    for line in Path(__file__).with_name("publishers.txt").read_text(encoding="utf-8").splitlines():
        host, sep, names = line.partition(":")
        if sep and not line.startswith("#"):
            table[host.strip()] = tuple(_fold(n) for n in names.split(",") if n.strip())
    return table


def _fold(text: str) -> str:
    return collapse_spaces(fold_accents(text.translate(_APOSTROPHE)).lower())


def _host(url: str) -> str:
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


def _first_mention(host: str, passage: str) -> int | None:
    names = (host, *next((v for k, v in _publishers().items() if host == k or host.endswith("." + k)), ()))
    found = [m.start() for n in names if (m := re.search(rf"(?<!\w){re.escape(n)}(?!\w)", passage))]
    return min(found) if found else None


def shown_sources(sources: Sequence[str], passage: str) -> list[str]:
    """The links to show with `passage`, taken from its section's `sources` (in marker order).

    The sources whose publisher the passage names (« Selon associations.gouv.fr… », « Le RAMEAU décrit… »),
    in the order the passage names them, one link per site; when it names none, the first source. Empty
    only when `sources` is. Publisher names: publishers.txt (a site's host always counts).
    """
    folded = _fold(passage)
    named: dict[str, tuple[int, int]] = {}
    for order, url in enumerate(sources):
        host = _host(url)
        if host and host not in named and (at := _first_mention(host, folded)) is not None:
            named[host] = (at, order)
    chosen = [sources[order] for _, order in sorted(named.values())]
    return chosen or list(sources[:1])
