"""Chat flows in progress (`conversations`) and periodic-job leases (`job_leases`), over the shared engine.

A flow's state is a JSON object keyed by (chat, user, flow) with an expiry: an expired row reads as absent
and is deleted by `purge_expired`. Both tables work the same on SQLite and PostgreSQL (INSERT … ON CONFLICT).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, or_, select

from bot.storage.base import Repository, dialect_insert, ensure_user, utc_value
from bot.storage.schema import conversations, job_leases

FLOW_MAX = 32
HOLDER_MAX = 64


class ConversationRepository(Repository):
    """The `conversations` and `job_leases` tables. Times are timezone-aware (UTC); naive ones are refused."""

    async def load(self, chat_id: int, user_id: int, flow: str, *, now: datetime) -> dict[str, Any] | None:
        """The state of `flow` for this chat and user, or None when there is none or it expired."""
        stmt = select(conversations.c.state).where(
            conversations.c.chat_id == chat_id,
            conversations.c.user_id == user_id,
            conversations.c.flow == flow,
            conversations.c.expires_at > now,
        )
        async with self._tx(write=False) as conn:
            state = (await conn.execute(stmt)).scalar_one_or_none()
        return dict(state) if isinstance(state, dict) else None

    async def latest(self, chat_id: int, user_id: int, *, now: datetime) -> tuple[str, dict[str, Any]] | None:
        """(flow, state) of the flow in progress changed last for this chat and user, or None."""
        async with self._tx(write=False) as conn:
            row = (await conn.execute(latest_flow(chat_id, user_id, now))).first()
        return (row[0], dict(row[1])) if row is not None else None

    async def save(
        self,
        chat_id: int,
        user_id: int,
        flow: str,
        state: dict[str, Any],
        *,
        now: datetime,
        expires_at: datetime,
    ) -> None:
        """Create or replace the state of `flow` (a JSON-serialisable dict). ValueError for a flow name over
        32 characters or an expiry not after `now`. An unknown user is recorded (an admin from the config)."""
        if not 1 <= len(flow) <= FLOW_MAX:
            raise ValueError(f"flow: 1 to {FLOW_MAX} characters, got {len(flow)}")
        if expires_at <= now:
            raise ValueError("expires_at: must be after now")
        async with self._tx(write=True) as conn:
            await ensure_user(conn, user_id, utc_value("now", now))
            stmt = dialect_insert(conn, conversations).values(
                chat_id=chat_id,
                user_id=user_id,
                flow=flow,
                state=state,
                updated_at=now,
                expires_at=expires_at,
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[conversations.c.chat_id, conversations.c.user_id, conversations.c.flow],
                    set_={"state": stmt.excluded.state, "updated_at": now, "expires_at": expires_at},
                )
            )

    async def end(self, chat_id: int, user_id: int, flow: str | None = None) -> int:
        """Delete `flow` (every flow when None) for this chat and user; how many rows went."""
        conditions = [conversations.c.chat_id == chat_id, conversations.c.user_id == user_id]
        if flow is not None:
            conditions.append(conversations.c.flow == flow)
        async with self._tx(write=True) as conn:
            result = await conn.execute(delete(conversations).where(*conditions))
        return result.rowcount

    async def purge_expired(self, *, now: datetime) -> int:
        """Delete every flow whose expiry has passed; how many."""
        async with self._tx(write=True) as conn:
            result = await conn.execute(delete(conversations).where(conversations.c.expires_at <= now))
        return result.rowcount

    async def take_lease(self, name: str, holder: str, *, now: datetime, until: datetime) -> bool:
        """Whether `holder` may run job `name` now: True when nobody holds its lease, the lease ran out, or
        `holder` holds it already (then it is extended to `until`). One statement, so two instances racing
        for one tick cannot both win."""
        if not 1 <= len(holder) <= HOLDER_MAX:
            raise ValueError(f"holder: 1 to {HOLDER_MAX} characters, got {len(holder)}")
        async with self._tx(write=True) as conn:
            insert = dialect_insert(conn, job_leases).values(name=name, holder=holder, until=until)
            stmt = insert.on_conflict_do_update(
                index_elements=[job_leases.c.name],
                set_={"holder": holder, "until": until},
                where=or_(job_leases.c.until <= now, job_leases.c.holder == holder),
            ).returning(job_leases.c.name)
            return (await conn.execute(stmt)).first() is not None

    async def release_lease(self, name: str, holder: str) -> None:
        """Give up `name` if `holder` holds it (at shutdown, so another instance takes over at once)."""
        async with self._tx(write=True) as conn:
            await conn.execute(
                delete(job_leases).where(and_(job_leases.c.name == name, job_leases.c.holder == holder))
            )


def latest_flow(chat_id: int, user_id: int, now: datetime) -> Select[tuple[str, Any]]:
    """(flow, state) of the unexpired flow changed last for this chat and user: at most one row."""
    return (
        select(conversations.c.flow, conversations.c.state)
        .where(
            conversations.c.chat_id == chat_id,
            conversations.c.user_id == user_id,
            conversations.c.expires_at > now,
        )
        .order_by(conversations.c.updated_at.desc(), conversations.c.flow)
        .limit(1)
    )
