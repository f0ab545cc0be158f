"""The text of an events file whatever its encoding: UTF-8 (with or without BOM) first, else the encoding
charset-normalizer detects (Windows-1252 exports of Outlook, Latin-1…); never a text with U+FFFD in it."""

from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from bot.errors import Problem

PREFERRED = ("cp1252", "iso8859_15", "latin_1")


def decode(path: Path, data: bytes) -> tuple[str | None, Problem | None]:
    """(text, None), or (None, a problem naming the file) when the encoding cannot be told or the text has
    replacement characters (U+FFFD, a sign of an earlier bad conversion)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        matches = from_bytes(data)
        best = matches.best()
        if best is None:
            return None, Problem(path, 1, "cannot tell the text's encoding: save the file as UTF-8")
        # Short French texts fit several Latin code pages equally well: among the equals, Windows-1252 (what
        # Outlook and Excel write in France) wins.
        tied = [m for m in matches if m.chaos == best.chaos and m.coherence == best.coherence]
        text = str(next((m for m in tied if m.encoding in PREFERRED), best))
    if "\ufffd" in text:
        line = text.count("\n", 0, text.index("\ufffd")) + 1
        return None, Problem(path, line, "contains replacement characters (U+FFFD): save the file as UTF-8")
    return text, None
