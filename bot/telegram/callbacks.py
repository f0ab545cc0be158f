"""Compact callback data (Telegram allows 1–64 bytes): `kind:arg:arg`. Anything else is refused politely."""

from __future__ import annotations

MAX_BYTES = 64


def fits(data: str) -> bool:
    return 1 <= len(data.encode()) <= MAX_BYTES


def menu(item: str) -> str:
    return f"m:{item}"


def lead(question_id: int, resource_id: str) -> str:
    return f"l:{question_id}:{resource_id}"


def feedback(question_id: int, value: int) -> str:
    return f"f:{question_id}:{value}"


def language(code: str) -> str:
    return f"lang:{code}"


def forget(confirm: bool) -> str:
    return f"forget:{'yes' if confirm else 'no'}"


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
