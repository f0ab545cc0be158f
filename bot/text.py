"""Text helpers shared by the lexical index, sentence extraction and evaluation, and the one reader of
numbers and ids typed by people or carried by buttons (`parse_int`, `parse_id`)."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from bot.errors import CatabotError

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"})
# Characters that show nothing: format characters (category Cf: U+200B…U+200F, U+2060, U+FEFF…) and the
# Hangul fillers some keyboards use as "blank" text.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\"(A-ZÀ-Ý0-9*-])|\n+")


@functools.lru_cache(maxsize=8192)  # the same passage sentences are folded for every question
def fold_accents(text: str) -> str:
    """Remove diacritics: « Expérimentations » → « Experimentations »."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=8192)
def clean_text(text: str) -> str:
    """What a user typed, as read: invisible characters removed, every apostrophe as `'`, spaces folded."""
    visible = "".join(" " if c in _INVISIBLE_EXTRA else c for c in text if unicodedata.category(c) != "Cf")
    return collapse_spaces(visible.translate(_APOSTROPHES))


def visible(text: str) -> bool:
    """True when `text` shows at least one character: not only spaces and invisible characters (U+200B…,
    the Hangul fillers; see `clean_text`)."""
    return bool(clean_text(text))


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


MAX_ID = 2**63 - 1  # the largest id a 64-bit signed column holds (SQLite INTEGER, PostgreSQL BIGINT)
MAX_ROW_ID = 2**31 - 1  # the largest row id of an INTEGER key on PostgreSQL (questions, events, campaigns)
_ASCII_INTEGER = re.compile(r"-?[0-9]{1,19}")
# C0 control characters but tab, line feed and carriage return; DEL. PostgreSQL refuses NUL in text.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_int(value: str, low: int, high: int) -> int | None:
    """`value` as an integer in `low..high` (inclusive), or None.

    Only ASCII digits with an optional leading « - »: no sign « + », no spaces, no underscores, no other
    script's digits (« ² » or « ١ », which `str.isdigit` or `int` accept), at most 19 digits.
    """
    if not _ASCII_INTEGER.fullmatch(value):
        return None
    number = int(value)
    return number if low <= number <= high else None


def parse_id(value: str) -> int | None:
    """A Telegram user id from a button or a command: 1..2⁶³-1 in ASCII digits, or None."""
    return parse_int(value, 1, MAX_ID)


def parse_row_id(value: str) -> int | None:
    """The id of a stored question, event or campaign from a button: 1..2³¹-1 in ASCII digits, or None."""
    return parse_int(value, 1, MAX_ROW_ID)


def stored_text(value: str) -> str:
    """Text as it is stored: Unicode NFC, without NUL and the other control characters (tab, line feed
    and carriage return are kept)."""
    return _CONTROLS.sub("", unicodedata.normalize("NFC", value))
