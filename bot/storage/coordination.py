"""The questions kept for the coordinators: their status, the answer, the asker's verdict, the 👎 reasons,
and the askers' pseudonymous handles.

A question is answered (or dismissed) once: `handle` is one conditional UPDATE (`… WHERE status =
'pending'`), so of two coordinators acting at the same moment exactly one wins, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.qa.records import KeptQuestion, Status
from bot.storage.base import Repository, check_length, utc
from bot.storage.schema import feedback, questions, users

HANDLE_BYTES = 3  # six hex digits: 16 million handles, retried on the rare collision
HANDLE_DRAWS = 5  # attempts at drawing free handles


class CoordinationRepository(Repository):
    """Kept questions (`questions.status` not NULL) and what the coordinators did with them."""

    async def keep(self, question_id: int) -> bool:
        """Keep a question for the coordinators (once: a question already kept or handled stays as it is)
        and give its asker a handle if they have none. False if the question is unknown."""
        async with self._tx(write=True) as conn:
            found = (
                await conn.execute(select(questions.c.user_id).where(questions.c.id == question_id))
            ).first()
            if found is None:
                return False
            await conn.execute(
                update(questions)
                .where(questions.c.id == question_id, questions.c.status.is_(None))
                .values(status=Status.PENDING.value)
            )
            if found.user_id is not None:
                await give_handles(conn, [int(found.user_id)])
        return True

    async def kept(self, status: Status, *, limit: int = 10) -> list[KeptQuestion]:
        """Kept questions with this status, the oldest pending first (latest handled first otherwise)."""
        order = questions.c.created_at.asc() if status is Status.PENDING else questions.c.handled_at.desc()
        stmt = _kept_select().where(questions.c.status == status.value).order_by(order, questions.c.id)
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt.limit(limit))).mappings().all()
            reasons = await self._reasons(conn, [int(r["id"]) for r in rows])
        return [_kept(row, reasons.get(int(row["id"]), ())) for row in rows]

    async def get(self, question_id: int) -> KeptQuestion | None:
        """One kept question, or None (unknown, forgotten, purged, or never kept)."""
        stmt = _kept_select().where(questions.c.id == question_id, questions.c.status.is_not(None))
        async with self._tx(write=False) as conn:
            row = (await conn.execute(stmt)).mappings().first()
            reasons = await self._reasons(conn, [question_id])
        return None if row is None else _kept(row, reasons.get(question_id, ()))

    async def asker(self, question_id: int) -> int | None:
        """The Telegram id of who asked (to send them the answer; never shown to a coordinator)."""
        async with self._tx(write=False) as conn:
            found = await conn.scalar(select(questions.c.user_id).where(questions.c.id == question_id))
        return None if found is None else int(found)

    async def handle(
        self,
        question_id: int,
        status: Status,
        coordinator_id: int,
        coordinator_name: str,
        *,
        answer: str | None = None,
        covered_by: str | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Answer or dismiss a pending question; True for the one call that did, False for every other
        (already handled, or gone)."""
        if status is Status.PENDING:
            raise ValueError("handle: the new status must be answered or dismissed")
        name = coordinator_name[:64] or "?"
        stmt = (
            update(questions)
            .where(questions.c.id == question_id, questions.c.status == Status.PENDING.value)
            .values(
                status=status.value,
                handled_at=utc(now),
                handled_by=coordinator_id,
                handled_by_name=name,
                answer=answer,
                covered_by=covered_by,
            )
        )
        async with self._tx(write=True) as conn:
            result = await conn.execute(stmt)
        return bool(result.rowcount == 1)

    async def mark_delivered(self, question_id: int, *, now: datetime | None = None) -> bool:
        """The answer of this answered question reached its asker; False if it had already (or is gone)."""
        stmt = (
            update(questions)
            .where(
                questions.c.id == question_id,
                questions.c.status == Status.ANSWERED.value,
                questions.c.delivered_at.is_(None),
            )
            .values(delivered_at=utc(now))
        )
        async with self._tx(write=True) as conn:
            return bool((await conn.execute(stmt)).rowcount == 1)

    async def undelivered(self, user_id: int, *, limit: int = 10) -> list[KeptQuestion]:
        """This user's answered questions whose answer has not reached them yet, the oldest first."""
        stmt = (
            _kept_select()
            .where(*undelivered_conditions(user_id))
            .order_by(questions.c.handled_at, questions.c.id)
            .limit(limit)
        )
        async with self._tx(write=False) as conn:
            return [_kept(row, ()) for row in (await conn.execute(stmt)).mappings().all()]

    async def set_helped(self, question_id: int, user_id: int, value: int) -> bool:
        """The asker's verdict (+1 or -1) on the answer a coordinator sent them; False if not theirs."""
        if value not in (1, -1):
            raise ValueError(f"helped: +1 or -1, got {value}")
        stmt = (
            update(questions)
            .where(
                questions.c.id == question_id,
                questions.c.user_id == user_id,
                questions.c.status == Status.ANSWERED.value,
            )
            .values(helped=value)
        )
        async with self._tx(write=True) as conn:
            return bool((await conn.execute(stmt)).rowcount == 1)

    async def set_reason(self, question_id: int, user_id: int, reason: str) -> bool:
        """What was wrong with an answer this user voted down; False without such a vote."""
        check_length("reason", reason, 500)
        stmt = (
            update(feedback)
            .where(
                feedback.c.question_id == question_id, feedback.c.user_id == user_id, feedback.c.value == -1
            )
            .values(reason=reason)
        )
        async with self._tx(write=True) as conn:
            return bool((await conn.execute(stmt)).rowcount == 1)

    async def counts(self) -> tuple[dict[Status, int], list[tuple[datetime, datetime]]]:
        """How many kept questions per status, and (asked, answered) of every answered one."""
        by_status = select(questions.c.status, func.count()).where(questions.c.status.is_not(None))
        times = select(questions.c.created_at, questions.c.handled_at).where(
            questions.c.status == Status.ANSWERED.value, questions.c.handled_at.is_not(None)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(by_status.group_by(questions.c.status))).all()
            pairs = [(a, b) for a, b in (await conn.execute(times)).all()]
        return {Status(s): int(n) for s, n in rows}, pairs

    @staticmethod
    async def _reasons(conn: Any, ids: list[int]) -> dict[int, tuple[str, ...]]:
        if not ids:
            return {}
        stmt = (
            select(feedback.c.question_id, feedback.c.reason)
            .where(feedback.c.question_id.in_(ids), feedback.c.value == -1, feedback.c.reason.is_not(None))
            .order_by(feedback.c.created_at)
        )
        found: dict[int, tuple[str, ...]] = {}
        for question_id, reason in (await conn.execute(stmt)).all():
            found[int(question_id)] = (*found.get(int(question_id), ()), str(reason))
        return found


async def give_handles(conn: AsyncConnection, user_ids: Collection[int]) -> None:
    """Give each of these users a pseudonymous handle if they have none, in the caller's transaction.

    One UPDATE for all of them, in a savepoint: should a drawn handle be taken already (IntegrityError, about
    one chance in millions), only that attempt is undone and new handles are drawn, up to HANDLE_DRAWS times
    (then the users stay without a handle until their next kept question). Other errors propagate."""
    ids = sorted(set(user_ids))
    if not ids:
        return
    stmt = (
        update(users)
        .where(users.c.id == bindparam("user"), users.c.handle.is_(None))
        .values(handle=bindparam("new_handle"))
    )
    for _ in range(HANDLE_DRAWS):
        try:
            async with conn.begin_nested():
                await conn.execute(
                    stmt, [{"user": u, "new_handle": secrets.token_hex(HANDLE_BYTES)} for u in ids]
                )
            return
        except IntegrityError:  # another asker has that handle: draw again
            continue


def undelivered_conditions(user_id: int) -> tuple[ColumnElement[bool], ...]:
    """The questions of `user_id` answered by a coordinator whose answer has not reached them yet."""
    return (
        questions.c.user_id == user_id,
        questions.c.status == Status.ANSWERED.value,
        questions.c.delivered_at.is_(None),
    )


def _kept_select() -> Any:
    return select(
        questions.c.id, questions.c.text, questions.c.language, questions.c.created_at, users.c.handle,
        questions.c.status, questions.c.answered, questions.c.resource_id, questions.c.handled_at,
        questions.c.handled_by_name, questions.c.answer, questions.c.covered_by,
    ).select_from(questions.outerjoin(users, and_(users.c.id == questions.c.user_id)))  # fmt: skip


def _kept(row: RowMapping, reasons: tuple[str, ...]) -> KeptQuestion:
    return KeptQuestion(
        id=int(row["id"]), text=row["text"], language=row["language"], asked_at=row["created_at"],
        asker=row["handle"], status=Status(row["status"]), answered=bool(row["answered"]),
        resource_id=row["resource_id"], reasons=reasons, handled_at=row["handled_at"],
        handled_by_name=row["handled_by_name"], answer=row["answer"], covered_by=row["covered_by"],
    )  # fmt: skip
