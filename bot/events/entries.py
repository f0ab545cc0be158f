"""One event as read from a file (`ImportedEvent`) and the checks every reader applies to its fields, with
the limits of `records` (the same as the chat flow and the storage)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from urllib.parse import urlsplit

from bot.events.clock import paris_to_utc
from bot.events.records import MAX_DESCRIPTION, MAX_LINK, MAX_TITLE, MAX_UID, Audience, EventStatus
from bot.text import visible

AUDIENCES = tuple(Audience)
STATUSES = tuple(EventStatus)
ALL_DAY_START = time(9, 0)
ALL_DAY_END = time(18, 0)


@dataclass(frozen=True)
class ImportedEvent:
    """One event read from a file; `starts_at`/`ends_at` are aware UTC datetimes."""

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str | None
    link: str | None
    description: str | None
    audience: str = "all"
    status: str = "scheduled"
    all_day: bool = False


def uid_problem(uid: str) -> str | None:
    if not uid:
        return "must be a non-empty text"
    if len(uid) > MAX_UID:
        return f"at most {MAX_UID} characters, got {len(uid)}"
    if re.search(r"\s", uid):
        return f"must not contain spaces, got « {uid} »"
    return None


def title_problem(title: str) -> str | None:
    """A title must show something (`bot.text.visible`: zero-width characters alone are empty)."""
    if not visible(title):
        return "must be a non-empty text"
    return length_problem(title, MAX_TITLE)


def length_problem(text: str, maximum: int) -> str | None:
    return f"at most {maximum} characters, got {len(text)}" if len(text) > maximum else None


def link_problem(link: str) -> str | None:
    parts = urlsplit(link)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or re.search(r"\s", link):
        return f"must be an http(s) URL, got « {link} »"
    return length_problem(link, MAX_LINK)


def shortened_description(text: str | None, warn: Callable[[str], None]) -> str | None:
    """The description, shortened to MAX_DESCRIPTION (with a warning) when longer."""
    description = optional_text(text)
    if description is not None and len(description) > MAX_DESCRIPTION:
        warn(f"{len(description)} characters, shortened to {MAX_DESCRIPTION}")
        description = description[: MAX_DESCRIPTION - 1].rstrip() + "…"
    return description


def one_line(text: str) -> str:
    return " ".join(text.split())


def optional_text(text: str | None) -> str | None:
    return text.strip() or None if text is not None else None


def all_day_span(first: date, last: date) -> tuple[datetime, datetime]:
    return (
        paris_to_utc(datetime.combine(first, ALL_DAY_START)),
        paris_to_utc(datetime.combine(last, ALL_DAY_END)),
    )
