"""Who may do what. Every privileged action re-checks the role here, on the server side."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Callable, Iterable
from typing import Any

from bot.storage.repository import RedeemResult, Stats, Storage, User

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Role(enum.IntEnum):
    NEWCOMER = 0
    MEMBER = 1
    COORDINATOR = 2
    ADMIN = 3


_STORED = {"newcomer": Role.NEWCOMER, "member": Role.MEMBER, "coordinator": Role.COORDINATOR}


class NotAllowed(Exception):
    """The user's role does not allow this action."""


class UserService:
    def __init__(self, storage: Storage, admins: Iterable[int], clock: Clock = utc_now) -> None:
        self.storage = storage
        self.admins = frozenset(admins)
        self.clock = clock

    async def seen(self, user_id: int) -> User:
        return await self.storage.touch_user(user_id, now=self.clock())

    async def role(self, user_id: int) -> Role:
        if user_id in self.admins:
            return Role.ADMIN
        user = await self.storage.get_user(user_id)
        return _STORED.get(user.role, Role.NEWCOMER) if user else Role.NEWCOMER

    async def require(self, user_id: int, role: Role) -> None:
        if await self.role(user_id) < role:
            raise NotAllowed(role.name.lower())

    async def language(self, user_id: int) -> str:
        user = await self.storage.get_user(user_id)
        return user.language if user else "fr"

    async def set_language(self, user_id: int, language: str) -> None:
        await self.storage.touch_user(user_id, now=self.clock())
        await self.storage.set_language(user_id, language)

    async def name_coordinator(self, admin_id: int, target_id: int) -> None:
        await self.require(admin_id, Role.ADMIN)
        await self.storage.touch_user(target_id, now=self.clock())
        await self.storage.set_role(target_id, "coordinator")

    async def invite(self, coordinator_id: int) -> str:
        await self.require(coordinator_id, Role.COORDINATOR)
        return await self.storage.create_invitation(coordinator_id, now=self.clock())

    async def join(self, user_id: int, code: str) -> RedeemResult:
        await self.storage.touch_user(user_id, now=self.clock())
        return await self.storage.redeem_invitation(code, user_id, now=self.clock())

    async def blocked(self, user_id: int, blocked: bool) -> None:
        if blocked:
            await self.storage.set_active(user_id, False)
        else:
            await self.storage.touch_user(user_id, now=self.clock())

    async def stats(self) -> Stats:
        """The storage's counts, where admins (named in the configuration) count as coordinators."""
        stats = await self.storage.stats()
        extra = 0
        for admin in self.admins:
            user = await self.storage.get_user(admin)
            extra += user is None or user.role != "coordinator"
        return dataclasses.replace(stats, coordinators=stats.coordinators + extra)

    async def export(self, user_id: int) -> dict[str, Any]:
        return await self.storage.export_user(user_id)

    async def forget(self, user_id: int) -> None:
        await self.storage.forget_user(user_id)
