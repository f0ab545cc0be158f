"""What the bot knows of a user: role, language, preferences; the outcome of redeeming an invitation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.messages import DEFAULT_LANGUAGE


class Role(StrEnum):
    """What a user may do, in increasing order (`Role.MEMBER < Role.COORDINATOR`).

    NEWCOMER, MEMBER and COORDINATOR are stored (`STORED_ROLES`); ADMIN is never stored: admins come from
    the config (`admins`)."""

    NEWCOMER = "newcomer"
    MEMBER = "member"
    COORDINATOR = "coordinator"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 (newcomer) to 3 (admin)."""
        return _RANKS[self]

    def _other_rank(self, other: Any) -> int:
        if not isinstance(other, Role):
            raise TypeError(f"cannot compare a Role with {type(other).__name__}")
        return other.rank

    def __lt__(self, other: Any) -> bool:
        return self.rank < self._other_rank(other)

    def __le__(self, other: Any) -> bool:
        return self.rank <= self._other_rank(other)

    def __gt__(self, other: Any) -> bool:
        return self.rank > self._other_rank(other)

    def __ge__(self, other: Any) -> bool:
        return self.rank >= self._other_rank(other)


_RANKS = {role: rank for rank, role in enumerate(Role)}
STORED_ROLES = (Role.NEWCOMER, Role.MEMBER, Role.COORDINATOR)


class RedeemResult(StrEnum):
    OK = "ok"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"


@dataclass(frozen=True)
class User:
    id: int
    language: str
    role: Role
    active: bool
    created_at: datetime
    last_seen_at: datetime


@dataclass(frozen=True)
class Preferences:
    remind_all: bool = False  # a reminder of every event the user may attend
    new_event_notices: bool = False  # a message when an event is created
    announcements: bool = True  # False: opted out of announcements
    topics: tuple[str, ...] = ()  # for announcements to a topic


@dataclass(frozen=True)
class Snapshot:
    """What one update needs of its user, read in one statement (`VisitRepository.snapshot`): their stored
    language and role (None for a user never seen), the flow in progress in the chat (its name and state,
    None without one) and whether coordinators' answers wait for them."""

    language: str | None
    role: Role | None
    flow: str | None
    state: dict[str, Any] | None
    answers_waiting: bool


def language_from_hint(hint: str | None) -> str:
    """The language a Telegram `language_code` stands for ("en-US" → "en"); French without a usable one."""
    if hint:
        primary = hint.strip().replace("_", "-").split("-")[0].lower()
        if 2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha():
            return primary
    return DEFAULT_LANGUAGE
