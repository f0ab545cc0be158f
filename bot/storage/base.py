"""What every repository shares: where its connection comes from (its own transaction, or a unit of work's),
and the few helpers used by several of them (dialect-neutral INSERT … ON CONFLICT, UTC checks, lengths).

A repository method called outside a unit of work is one transaction. Inside `Storage.uow()` it runs on the
unit of work's connection, and everything commits (or rolls back) together at its end.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, Table, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.clock import utc_now
from bot.messages import DEFAULT_LANGUAGE
from bot.storage.engine import transaction
from bot.storage.schema import users
from bot.users.records import Role

MEMBER_ROLES = (Role.MEMBER.value, Role.COORDINATOR.value)


class Connector:
    """The connection of the repositories: a new transaction per call, or the one of a unit of work."""

    def __init__(self, engine: AsyncEngine, connection: AsyncConnection | None = None) -> None:
        self.engine = engine
        self.connection = connection

    @asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[AsyncConnection]:
        if self.connection is not None:  # inside a unit of work: its transaction, committed at its end
            yield self.connection
            return
        async with transaction(self.engine, write=write) as conn:
            yield conn


class Repository:
    """A set of queries over one concern; see `Connector` for the transactions."""

    def __init__(self, connector: Connector) -> None:
        self._connector = connector

    def _tx(self, *, write: bool) -> AbstractAsyncContextManager[AsyncConnection]:
        return self._connector.transaction(write=write)

    async def _user_ids(self, *conditions: ColumnElement[bool]) -> list[int]:
        stmt = select(users.c.id).where(users.c.active == true(), *conditions).order_by(users.c.id)
        async with self._tx(write=False) as conn:
            return list((await conn.scalars(stmt)).all())


def dialect_insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT: same syntax and API on both backends."""
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


async def ensure_user(conn: AsyncConnection, user_id: int, now: datetime) -> None:
    await ensure_users(conn, {user_id: now})


async def ensure_users(conn: AsyncConnection, seen: Mapping[int, datetime], *, visit: bool = False) -> None:
    """Create the users of `seen` (user id → first seen) not there yet, as French newcomers: one statement.
    With `visit`, known users are also seen then, and active again (as `UserRepository.touch_user`)."""
    insert = dialect_insert(conn, users)
    stmt = (
        insert.on_conflict_do_update(
            index_elements=[users.c.id],
            set_={"last_seen_at": insert.excluded.last_seen_at, "active": insert.excluded.active},
        )
        if visit
        else insert.on_conflict_do_nothing(index_elements=[users.c.id])
    )
    rows = [
        {
            "id": user_id,
            "language": DEFAULT_LANGUAGE,
            "role": Role.NEWCOMER.value,
            "active": True,
            "created_at": now,
            "last_seen_at": now,
        }
        for user_id, now in sorted(seen.items())  # the same lock order in every transaction
    ]
    await conn.execute(stmt, rows)


def plain(row: RowMapping, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in row.items()
        if key not in exclude
    }


def utc(now: datetime | None) -> datetime:
    if now is None:
        return utc_now()
    return utc_value("now", now)


def utc_value(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {value!r}: pass a timezone-aware datetime (UTC)")
    return value.astimezone(UTC)


def check_length(name: str, value: str, maximum: int, *, minimum: int = 1) -> None:
    """Same rule on both backends (SQLite does not enforce VARCHAR lengths)."""
    if not minimum <= len(value) <= maximum:
        raise ValueError(f"{name}: {minimum} to {maximum} characters, got {value!r}")
