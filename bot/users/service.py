"""Who may do what. Every privileged action re-checks the role here, on the server side."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock, utc_now
from bot.errors import CatabotError
from bot.messages import DEFAULT_LANGUAGE
from bot.users.records import Preferences, RedeemResult, Role, User, language_from_hint

if TYPE_CHECKING:
    from bot.qa.records import Stats
    from bot.storage.repository import Storage


log = logging.getLogger(__name__)
SEEN_EVERY = dt.timedelta(minutes=5)  # `note_seen` writes a user's last visit at most this often
SEEN_REMEMBERED = 10_000  # users whose last write `note_seen` remembers (then it starts afresh)


class NotAllowed(CatabotError):
    """The user's role does not allow this action."""


class UserService:
    def __init__(self, storage: Storage, admins: Iterable[int], clock: Clock = utc_now) -> None:
        self.storage = storage
        self.admins = frozenset(admins)
        self.clock = clock
        self._seen_at: dict[int, dt.datetime] = {}  # user -> when `note_seen` last wrote it

    async def seen(self, user_id: int) -> User:
        """The user, created if new, seen now (one database write, every time)."""
        return await self.storage.users.touch_user(user_id, now=self.clock())

    async def note_seen(self, user_id: int) -> None:
        """Record a visit (creating the user if new), at most once per SEEN_EVERY per user in this process,
        so that /start, the menu and questions do not each queue a database write under load (the last
        visit is then up to SEEN_EVERY old). Call it after the reply: a failed write is logged, not raised."""
        now = self.clock()
        last = self._seen_at.get(user_id)
        if last is not None and dt.timedelta(0) <= now - last < SEEN_EVERY:
            return
        if len(self._seen_at) >= SEEN_REMEMBERED:
            self._seen_at.clear()
        self._seen_at[user_id] = now
        try:
            await self.storage.users.touch_user(user_id, now=now)
        except SQLAlchemyError as exc:  # a full disk, a read-only database: try again next time
            self._seen_at.pop(user_id, None)
            log.warning("marking user as seen failed (%s)", type(exc).__name__)

    async def role(self, user_id: int) -> Role:
        user = (
            None if user_id in self.admins else await self.storage.users.get_user(user_id)
        )  # no read needed
        return self.role_of(user_id, Role(user.role) if user else None)

    def role_of(self, user_id: int, stored: Role | None) -> Role:
        """The role of `user_id` whose stored role is `stored` (None: never seen): admins come from the
        config, whatever is stored."""
        if user_id in self.admins:
            return Role.ADMIN
        return stored if stored is not None else Role.NEWCOMER

    async def require(self, user_id: int, role: Role) -> None:
        if await self.role(user_id) < role:
            raise NotAllowed(role.name.lower())

    async def language(self, user_id: int, *, hint: str | None = None) -> str:
        """The user's stored language (ISO 639-1), else the one of `hint` (Telegram's `language_code`,
        "en-US" → "en"; French without one): see `first_language`, which records a newcomer whose language
        is not French, so that every reply speaks it until they choose another with /langue."""
        user = await self.storage.users.get_user(user_id)
        return user.language if user else await self.first_language(user_id, hint=hint)

    async def first_language(self, user_id: int, *, hint: str | None) -> str:
        """The language of a user met for the first time (none stored): the one of `hint`, and the user is
        recorded with it; French without a hint or with a French one (nothing is written then: an absent
        user reads as French, so a burst of newcomers costs no write before their replies). A failed write
        is logged."""
        if language_from_hint(hint) == DEFAULT_LANGUAGE:
            return DEFAULT_LANGUAGE
        try:
            user = await self.storage.users.touch_user(user_id, language_hint=hint, now=self.clock())
        except SQLAlchemyError as exc:
            log.warning("recording a new user failed (%s)", type(exc).__name__)
            return DEFAULT_LANGUAGE
        return user.language

    async def set_language(self, user_id: int, language: str) -> None:
        await self.storage.users.touch_user(user_id, now=self.clock())
        await self.storage.users.set_language(user_id, language)

    async def name_coordinator(self, admin_id: int, target_id: int) -> None:
        await self.require(admin_id, Role.ADMIN)
        await self.grant(target_id, Role.COORDINATOR)

    async def grant(self, user_id: int, role: Role) -> None:
        """Give `user_id` the stored `role` (the user is recorded first if new). No check of who asks: for
        callers that already act as an admin (`name_coordinator`, the sandbox's personas)."""
        await self.storage.users.touch_user(user_id, now=self.clock())
        await self.storage.users.set_role(user_id, role)

    async def invite(self, coordinator_id: int) -> str:
        await self.require(coordinator_id, Role.COORDINATOR)
        return await self.storage.users.create_invitation(coordinator_id, now=self.clock())

    async def join(self, user_id: int, code: str) -> RedeemResult:
        await self.storage.users.touch_user(user_id, now=self.clock())
        return await self.storage.users.redeem_invitation(code, user_id, now=self.clock())

    async def blocked(self, user_id: int, blocked: bool) -> None:
        if blocked:
            self._seen_at.pop(user_id, None)  # their next visit marks them active again
            await self.storage.users.set_active(user_id, False)
        else:
            await self.storage.users.touch_user(user_id, now=self.clock())

    async def preferences(self, user_id: int) -> Preferences:
        return await self.storage.preferences.get_preferences(user_id)

    async def toggle_preference(self, user_id: int, name: str) -> Preferences:
        """Switch one flag ("remind_all", "new_event_notices", "announcements"; ValueError otherwise)."""
        prefs = await self.storage.preferences.get_preferences(user_id)
        await self.storage.preferences.set_preference(
            user_id, name, not getattr(prefs, name), now=self.clock()
        )
        return await self.storage.preferences.get_preferences(user_id)

    async def toggle_topic(self, user_id: int, topic: str, topics: Sequence[str]) -> Preferences:
        """Follow or stop following `topic`; the user's topics are kept in the order of `topics`."""
        prefs = await self.storage.preferences.get_preferences(user_id)
        chosen = set(prefs.topics) ^ {topic}
        await self.storage.preferences.set_topics(
            user_id, [t for t in topics if t in chosen], now=self.clock()
        )
        return await self.storage.preferences.get_preferences(user_id)

    async def opt_out_announcements(self, user_id: int) -> None:
        await self.storage.preferences.set_preference(user_id, "announcements", False, now=self.clock())

    async def stats(self) -> Stats:
        """The storage's counts, where admins (named in the configuration) count as coordinators."""
        stats = await self.storage.questions.stats()
        extra = 0
        for admin in self.admins:
            user = await self.storage.users.get_user(admin)
            extra += user is None or user.role != Role.COORDINATOR
        return dataclasses.replace(stats, coordinators=stats.coordinators + extra)

    async def export(self, user_id: int) -> dict[str, Any]:
        return await self.storage.personal_data.export_user(user_id)

    async def forget(self, user_id: int) -> None:
        self._seen_at.pop(user_id, None)  # their next visit creates them afresh
        await self.storage.personal_data.forget_user(user_id)
