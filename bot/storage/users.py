"""Users and invitations."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    RowMapping,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from bot.storage.base import (
    Repository,
    check_length,
    dialect_insert,
    ensure_user,
    utc,
)
from bot.storage.schema import (
    invitations,
    users,
)
from bot.users.records import STORED_ROLES, RedeemResult, Role, User, language_from_hint

CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or copied by hand safely
CODE_GROUP = 4  # "K7QF-2M9X": 31**8 ≈ 8.5e11 codes


class UserRepository(Repository):
    """Users (language, role, whether they blocked the bot) and invitation codes."""

    async def touch_user(
        self, user_id: int, *, language_hint: str | None = None, now: datetime | None = None
    ) -> User:
        """The user, created if new (language from `language_hint`, e.g. Telegram's "en-US" → "en"), seen now.

        A user who had blocked the bot is active again. The hint is ignored for a known user (they may have
        chosen their language).
        """
        now = utc(now)
        async with self._tx(write=True) as conn:
            values = dialect_insert(conn, users).values(
                id=user_id,
                language=language_from_hint(language_hint),
                role=Role.NEWCOMER.value,
                active=True,
                created_at=now,
                last_seen_at=now,
            )
            stmt = values.on_conflict_do_update(
                index_elements=[users.c.id],
                set_={"last_seen_at": values.excluded.last_seen_at, "active": values.excluded.active},
            ).returning(*USER_COLUMNS)
            row = (await conn.execute(stmt)).mappings().one()
        return user_record(row)

    async def get_user(self, user_id: int) -> User | None:
        async with self._tx(write=False) as conn:
            row = (await conn.execute(select(*USER_COLUMNS).where(users.c.id == user_id))).mappings().first()
        return None if row is None else user_record(row)

    async def set_language(self, user_id: int, language: str) -> bool:
        """False if the user is unknown."""
        check_length("language", language, 5, minimum=2)
        return await self._update_user(user_id, language=language)

    async def set_role(self, user_id: int, role: Role | str) -> bool:
        """False if the user is unknown. ValueError for a role that is not stored (admins come from the
        config)."""
        return await self._update_user(user_id, role=stored_role(role))

    async def set_active(self, user_id: int, active: bool) -> bool:
        """Mark the user as having blocked the bot (False) or not. False if the user is unknown."""
        return await self._update_user(user_id, active=active)

    async def users_with_role(self, role: Role | str) -> list[User]:
        """All the users with this role, active or not, by id."""
        stmt = select(users).where(users.c.role == stored_role(role)).order_by(users.c.id)
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [user_record(row) for row in rows]

    async def _update_user(self, user_id: int, **values: Any) -> bool:
        async with self._tx(write=True) as conn:
            result = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
        return result.rowcount > 0

    async def create_invitation(
        self, created_by: int, *, ttl_days: int = 30, now: datetime | None = None
    ) -> str:
        """A new single-use code such as "K7QF-2M9X", valid `ttl_days` days."""
        if ttl_days < 1:
            raise ValueError(f"ttl_days: must be 1 or more, got {ttl_days}")
        now = utc(now)
        for _ in range(10):
            code = new_code()
            try:
                async with self._tx(write=True) as conn:
                    await conn.execute(
                        insert(invitations).values(
                            code=code,
                            created_by=created_by,
                            created_at=now,
                            expires_at=now + timedelta(days=ttl_days),
                        )
                    )
            except IntegrityError:  # that code exists already: draw another
                continue
            return code
        raise RuntimeError("could not draw an unused invitation code")

    async def redeem_invitation(
        self, code: str, user_id: int, *, now: datetime | None = None
    ) -> RedeemResult:
        """Use a code (case and spaces ignored): the user becomes a member, unless already a coordinator.

        Atomic: of concurrent attempts with one code, exactly one gets OK.
        """
        key = normalize_code(code)
        if key is None:
            return RedeemResult.UNKNOWN
        now = utc(now)
        async with self._tx(write=True) as conn:
            claimed = await conn.execute(
                update(invitations)
                .where(
                    invitations.c.code == key, invitations.c.used_at.is_(None), invitations.c.expires_at > now
                )
                .values(used_by=user_id, used_at=now)
            )
            if claimed.rowcount == 1:
                await ensure_user(conn, user_id, now)
                await conn.execute(
                    update(users)
                    .where(users.c.id == user_id, users.c.role == Role.NEWCOMER.value)
                    .values(role=Role.MEMBER.value)
                )
                return RedeemResult.OK
            used_at = (
                await conn.execute(select(invitations.c.used_at).where(invitations.c.code == key))
            ).first()
        if used_at is None:
            return RedeemResult.UNKNOWN
        return RedeemResult.USED if used_at[0] is not None else RedeemResult.EXPIRED


def normalize_code(code: str) -> str | None:
    """The stored form of a typed invitation code ("k7qf 2m9x" → "K7QF-2M9X"), or None if it cannot be one."""
    chars = "".join(c for c in code.upper() if c.isalnum())
    if len(chars) != 2 * CODE_GROUP or any(c not in CODE_ALPHABET for c in chars):
        return None
    return f"{chars[:CODE_GROUP]}-{chars[CODE_GROUP:]}"


def new_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(2 * CODE_GROUP))
    return f"{chars[:CODE_GROUP]}-{chars[CODE_GROUP:]}"


# What a `User` holds; later columns (the pseudonymous handle) are read by the repositories that need them.
USER_COLUMNS = (
    users.c.id,
    users.c.language,
    users.c.role,
    users.c.active,
    users.c.created_at,
    users.c.last_seen_at,
)


def user_record(row: RowMapping) -> User:
    return User(
        id=row["id"],
        language=row["language"],
        role=Role(row["role"]),
        active=bool(row["active"]),
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
    )


def stored_role(role: Role | str) -> str:
    """The stored value of `role`; ValueError for ADMIN or an unknown role."""
    if (value := Role(role)) not in STORED_ROLES:
        raise ValueError(f"role {value.value!r} is not stored: admins come from the config")
    return value.value
