"""Text helpers shared by the lexical index, sentence extraction and evaluation."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from bot.errors import CatabotError

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'"})
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\"(A-ZÀ-Ý0-9*-])|\n+")


def fold_accents(text: str) -> str:
    """Remove diacritics: « Expérimentations » → « Experimentations »."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def normalize_for_match(text: str) -> str:
    """The comparison form of the evaluation format (see ../shared/eval/README.md)."""
    text = fold_accents(text.translate(_APOSTROPHES)).lower()
    text = re.sub(r"[-_‐‑–—]", " ", text)
    text = re.sub(r"\s+%", "%", text)
    return _SPACES.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split a passage into sentences and list items, keeping their original wording."""
    parts = (p.strip() for p in _SENTENCE_END.split(text))
    return [p for p in parts if p]


def collapse_spaces(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


class NotUtf8(CatabotError, ValueError):
    """A file that is not UTF-8 text; `line` (1-based) holds the first undecodable byte."""

    def __init__(self, line: int, byte: int) -> None:
        super().__init__(f"not UTF-8 text (byte 0x{byte:02X}); save the file as UTF-8")
        self.line = line


def read_utf8(path: Path) -> str:
    """The text of a UTF-8 file (a BOM is dropped); `NotUtf8` naming the line otherwise; `OSError`."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotUtf8(data[: exc.start].count(b"\n") + 1, data[exc.start]) from None
