"""Compact callback data (Telegram allows 1–64 bytes): `kind:arg:arg`. Anything else is refused politely.

Each feature module builds its own buttons' data; only the menu's, which several features answer, is here.
"""

from __future__ import annotations

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


def as_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None
