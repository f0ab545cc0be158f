"""Text helpers shared by the lexical index, sentence extraction and evaluation."""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'", "´": "'", "′": "'"})
# Characters that show nothing: format characters (category Cf: U+200B…U+200F, U+2060, U+FEFF…) and the
# Hangul fillers some keyboards use as "blank" text.
_INVISIBLE_EXTRA = frozenset("\u115f\u1160\u3164\uffa0")
_SPACES = re.compile(r"\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[«\"(A-ZÀ-Ý0-9*-])|\n+")


def fold_accents(text: str) -> str:
    """Remove diacritics: « Expérimentations » → « Experimentations »."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def clean_text(text: str) -> str:
    """What a user typed, as read: invisible characters removed, every apostrophe as `'`, spaces folded."""
    visible = "".join(" " if c in _INVISIBLE_EXTRA else c for c in text if unicodedata.category(c) != "Cf")
    return collapse_spaces(visible.translate(_APOSTROPHES))


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
