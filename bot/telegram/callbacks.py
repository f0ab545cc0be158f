"""Compact callback data (Telegram allows 1–64 bytes): `kind:arg:arg`. Anything else is refused politely.

Each feature module builds its own buttons' data; only the menu's, which several features answer, is here.
"""

from __future__ import annotations

from bot.text import parse_row_id

MAX_BYTES = 64


def fits(data: str) -> bool:
    return 1 <= len(data.encode()) <= MAX_BYTES


def menu(item: str) -> str:
    """The start menu's buttons: ask, diag, events, net."""
    return f"m:{item}"


def parse(data: str | None) -> tuple[str, list[str]]:
    """(kind, arguments); kind is "" for data we never produce."""
    if not data or not fits(data):
        return "", []
    kind, _, rest = data.partition(":")
    return kind, rest.split(":") if rest else []


def row_id(value: str) -> int | None:
    """The id of a stored question, event or campaign (or a page number) carried by a button, or None:
    `bot.text.parse_row_id`, ASCII digits in range."""
    return parse_row_id(value)


# `/start reponse`: the asker of a group question opens their private chat to receive the answer.
ANSWER_LINK = "reponse"
