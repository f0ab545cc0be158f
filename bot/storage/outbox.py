"""The delivery outbox (`bot.delivery.outbox.OutboxStore`): one row per message to one chat, recorded
before anything is sent, drained by `bot.delivery.sender`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    and_,
    func,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.delivery.outbox import Delivery, Status
from bot.storage.base import (
    Repository,
    check_length,
    dialect_insert,
    utc,
    utc_value,
)
from bot.storage.schema import (
    deliveries,
)

_ENQUEUE_CHUNK = 1000  # rows per INSERT: 8 parameters each, far below SQLite's and asyncpg's limits
_ERROR_LENGTH = 300  # deliveries.last_error
FINAL = frozenset({Status.SENT, Status.BLOCKED, Status.FAILED, Status.SKIPPED})
UNFINISHED = (Status.PENDING.value, Status.SENDING.value)
CHAT_MOVED = "chat moved"  # reason of a delivery skipped because the new chat has the same one already


class OutboxRepository(Repository):
    """The outbox; `enqueue` is idempotent (a delivery's identity is unique)."""

    async def enqueue(
        self,
        kind: str,
        ref_id: int,
        chat_ids: Sequence[int],
        key: str,
        *,
        not_before: datetime,
        now: datetime,
        status: Status = Status.PENDING,
        reason: str | None = None,
    ) -> int:
        """Record one pending delivery per chat; existing (kind, ref_id, chat_id, key) are left as they are.

        Returns how many were new. Beyond `OutboxStore`: `status=Status.SKIPPED` (with a `reason`) records
        deliveries that must never be sent, e.g. reminders superseded by a closer one.

        One transaction; INSERT … ON CONFLICT DO NOTHING RETURNING executed with many rows, which SQLAlchemy
        ("insertmanyvalues") sends as multi-row INSERTs of `_ENQUEUE_CHUNK` rows, compiled once: 10,000 chats
        take a fraction of a second.
        """
        check_length("kind", kind, 24)
        check_length("key", key, 64, minimum=0)
        not_before, now = utc_value("not_before", not_before), utc(now)
        status = Status(status)
        if status not in (Status.PENDING, Status.SKIPPED):
            raise ValueError(f"enqueue: pending or skipped, got {status.value!r}")
        async with self._tx(write=True) as conn:
            return await enqueue_rows(conn, kind, ref_id, chat_ids, key, not_before, now, status, reason)

    async def existing_keys(self, kind: str, ref_ids: Sequence[int]) -> set[tuple[int, int, str]]:
        """(ref_id, chat_id, key) of every delivery of `kind` to these refs, whatever its status: what was
        recorded already (beyond `OutboxStore`, for planning reminders)."""
        if not ref_ids:
            return set()
        stmt = select(deliveries.c.ref_id, deliveries.c.chat_id, deliveries.c.key).where(
            deliveries.c.kind == kind, deliveries.c.ref_id.in_(list(dict.fromkeys(ref_ids)))
        )
        async with self._tx(write=False) as conn:
            return {(ref_id, chat_id, key) for ref_id, chat_id, key in (await conn.execute(stmt)).all()}

    async def claim(self, limit: int, *, now: datetime) -> list[Delivery]:
        """Up to `limit` pending deliveries due at `now`, oldest `not_before` first (then by id), now SENDING.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent senders take different rows; SQLite: the
        write transaction serialises them.
        """
        if limit < 1:
            return []
        now = utc(now)
        due = (
            select(deliveries.c.id)
            .where(deliveries.c.status == Status.PENDING.value, deliveries.c.not_before <= now)
            .order_by(deliveries.c.not_before, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with self._tx(write=True) as conn:
            ids = list((await conn.scalars(due)).all())
            if not ids:
                return []
            result = await conn.execute(
                update(deliveries)
                .where(deliveries.c.id.in_(ids), deliveries.c.status == Status.PENDING.value)
                .values(status=Status.SENDING.value, claimed_at=now)
                .returning(*deliveries.c)
            )
            rows = result.mappings().all()
        return sorted((delivery_record(row) for row in rows), key=lambda d: (d.not_before, d.id))

    async def finish(
        self, delivery_id: int, status: Status, *, now: datetime, reason: str | None = None
    ) -> None:
        """SENT, BLOCKED, FAILED or SKIPPED (ValueError otherwise); `reason` (cut to 300 characters) is kept
        as `last_error`, the previous one if None."""
        status = Status(status)
        if status not in FINAL:
            raise ValueError(f"finish: one of {sorted(s.value for s in FINAL)}, got {status.value!r}")
        values: dict[str, Any] = {"status": status.value, "finished_at": utc(now)}
        if reason is not None:
            values["last_error"] = error_reason(reason)
        async with self._tx(write=True) as conn:
            await conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    async def retry(self, delivery_id: int, *, at: datetime, reason: str, now: datetime) -> None:
        """Back to PENDING not before `at`, attempts + 1, `reason` kept as `last_error`."""
        utc(now)
        async with self._tx(write=True) as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=Status.PENDING.value,
                    not_before=utc_value("at", at),
                    attempts=deliveries.c.attempts + 1,
                    last_error=error_reason(reason),
                    claimed_at=None,
                )
            )

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its deliveries not sent yet (pending, or sending, so that the sender's
        retry goes to the new chat) follow it. One the new chat has already is SKIPPED (`CHAT_MOVED`)."""
        if old_chat_id == new_chat_id:
            return
        unfinished = and_(deliveries.c.chat_id == old_chat_id, deliveries.c.status.in_(UNFINISHED))
        at_new_chat = select(deliveries.c.kind, deliveries.c.ref_id, deliveries.c.key).where(
            deliveries.c.chat_id == new_chat_id
        )
        duplicate = tuple_(deliveries.c.kind, deliveries.c.ref_id, deliveries.c.key).in_(at_new_chat)
        async with self._tx(write=True) as conn:
            await conn.execute(
                update(deliveries)
                .where(unfinished, duplicate)
                .values(
                    status=Status.SKIPPED.value,
                    finished_at=utc(None),
                    last_error=CHAT_MOVED,
                    claimed_at=None,
                )
            )
            await conn.execute(update(deliveries).where(unfinished).values(chat_id=new_chat_id))

    async def release_stale(self, *, older_than: datetime) -> int:
        """SENDING deliveries claimed before `older_than` (their sender died) go back to PENDING; how many.

        Their attempts are left as they are."""
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.status == Status.SENDING.value,
                    deliveries.c.claimed_at < utc_value("older_than", older_than),
                )
                .values(status=Status.PENDING.value, claimed_at=None)
            )
        return result.rowcount

    async def counts(self, kind: str, ref_id: int) -> dict[Status, int]:
        """Deliveries of (kind, ref_id) per status, every status included (0 if none)."""
        stmt = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.kind == kind, deliveries.c.ref_id == ref_id)
            .group_by(deliveries.c.status)
        )
        async with self._tx(write=False) as conn:
            counted = {Status(status): int(n) for status, n in (await conn.execute(stmt)).all()}
        return {status: counted.get(status, 0) for status in Status}

    async def failures(self, kind: str, ref_id: int) -> dict[str, int]:
        """reason → count for the FAILED deliveries of (kind, ref_id), most frequent first ("" for none)."""
        reason = func.coalesce(deliveries.c.last_error, "")
        stmt = (
            select(reason, func.count())
            .where(
                deliveries.c.kind == kind,
                deliveries.c.ref_id == ref_id,
                deliveries.c.status == Status.FAILED.value,
            )
            .group_by(reason)
            .order_by(func.count().desc(), reason)
        )
        async with self._tx(write=False) as conn:
            return {str(text): int(n) for text, n in (await conn.execute(stmt)).all()}

    async def skip_pending(self, kind: str, ref_id: int, reason: str, *, now: datetime) -> int:
        """PENDING deliveries of (kind, ref_id) become SKIPPED with `reason`; how many. Claimed ones (SENDING)
        are left to their sender."""
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.kind == kind,
                    deliveries.c.ref_id == ref_id,
                    deliveries.c.status == Status.PENDING.value,
                )
                .values(status=Status.SKIPPED.value, finished_at=utc(now), last_error=error_reason(reason))
            )
        return result.rowcount

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        async with self._tx(write=False) as conn:
            result = await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))
            row = result.mappings().first()
        return None if row is None else delivery_record(row)


async def enqueue_rows(
    conn: AsyncConnection,
    kind: str,
    ref_id: int,
    chat_ids: Sequence[int],
    key: str,
    not_before: datetime,
    now: datetime,
    status: Status,
    reason: str | None,
) -> int:
    """`Storage.enqueue` inside the caller's transaction (arguments already checked); how many were new."""
    finished_at = None if status == Status.PENDING else now
    last_error = None if reason is None else error_reason(reason)
    unique = list(dict.fromkeys(chat_ids))
    added = 0
    stmt = dialect_insert(conn, deliveries).on_conflict_do_nothing().returning(deliveries.c.id)
    for start in range(0, len(unique), _ENQUEUE_CHUNK):
        rows = [
            {
                "kind": kind,
                "ref_id": ref_id,
                "chat_id": chat_id,
                "key": key,
                "status": status.value,
                "attempts": 0,
                "not_before": not_before,
                "finished_at": finished_at,
                "last_error": last_error,
                "created_at": now,
            }
            for chat_id in unique[start : start + _ENQUEUE_CHUNK]
        ]
        added += len((await conn.execute(stmt, rows)).all())
    return added


def error_reason(reason: str) -> str:
    return reason[:_ERROR_LENGTH]


def delivery_record(row: RowMapping) -> Delivery:
    return Delivery(
        id=row["id"],
        kind=row["kind"],
        ref_id=row["ref_id"],
        chat_id=row["chat_id"],
        key=row["key"],
        status=Status(row["status"]),
        attempts=row["attempts"],
        not_before=row["not_before"],
        last_error=row["last_error"],
    )
