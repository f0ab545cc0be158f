"""Questions asked, feedback on the answers, and the usage counts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
)

from bot.qa.records import FeedbackSummary, NewQuestion, QuestionSummary, Stats, Status
from bot.storage.base import (
    Repository,
    check_length,
    dialect_insert,
    ensure_users,
    utc,
    utc_value,
)
from bot.storage.coordination import give_handles
from bot.storage.schema import (
    feedback,
    questions,
    users,
)
from bot.users.records import Role


class QuestionRepository(Repository):
    """The questions (kept `question_retention_days`), their feedback, usage statistics."""

    @staticmethod
    def check_fields(chat_type: str, language: str) -> None:
        """Raises ValueError if a question of this chat type and language cannot be recorded."""
        check_length("chat_type", chat_type, 16)
        check_length("language", language, 5)

    async def record_question(
        self,
        user_id: int | None,
        chat_type: str,
        text: str,
        language: str,
        answered: bool,
        resource_id: str | None,
        confidence: float | None,
        *,
        now: datetime | None = None,
    ) -> int:
        """Store a question and return its id. An unknown `user_id` is created as a newcomer."""
        new = NewQuestion(user_id, chat_type, text, language, answered, resource_id, confidence, utc(now))
        [question_id] = await self.record_questions([new])
        return question_id

    async def record_questions(self, new: Sequence[NewQuestion]) -> list[int]:
        """Store these questions in one transaction and return their ids, in the same order.

        Unknown askers are created as newcomers; a question `kept` is stored pending for the coordinators and
        its asker gets a handle if they have none (as `CoordinationRepository.keep` would). Raises
        ValueError (nothing stored) for a field too long, SQLAlchemyError if the database refuses the write
        (nothing stored either)."""
        for q in new:
            self.check_fields(q.chat_type, q.language)
            if q.resource_id is not None:
                check_length("resource_id", q.resource_id, 255)
        if not new:
            return []
        rows = [
            {
                "user_id": q.user_id,
                "chat_type": q.chat_type,
                "text": q.text,
                "normalized_text": normalize_question(q.text),
                "language": q.language,
                "answered": q.answered,
                "resource_id": q.resource_id,
                "confidence": q.confidence,
                "created_at": utc_value("asked_at", q.asked_at),
            }
            for q in new
        ]
        if any(q.kept for q in new):  # named only then: databases of older versions (migration tests) lack it
            for row, q in zip(rows, new, strict=True):
                row["status"] = Status.PENDING.value if q.kept else None
        askers = {q.user_id: utc_value("asked_at", q.asked_at) for q in new if q.user_id is not None}
        async with self._tx(write=True) as conn:
            if askers:
                await ensure_users(conn, askers, visit=True)  # asking is a visit (see `note_seen`)
            # PostgreSQL returns the ids in the order of `rows` (SQLAlchemy's INSERT … SELECT … ORDER BY);
            # SQLite has no such form, but gives each row of one INSERT the next rowid: sorted, they match.
            ordered = conn.dialect.name == "postgresql"
            stmt = insert(questions).returning(questions.c.id, sort_by_parameter_order=ordered)
            ids = [int(question_id) for question_id in (await conn.execute(stmt, rows)).scalars()]
            ids = ids if ordered else sorted(ids)
            await give_handles(conn, [q.user_id for q in new if q.kept and q.user_id is not None])
        return ids

    async def record_feedback(
        self, question_id: int, user_id: int, value: int, *, now: datetime | None = None
    ) -> bool:
        """A vote (+1 or -1) on an answer; a second vote of the same user replaces the first.

        False if the question is unknown (e.g. already purged).
        """
        if value not in (1, -1):
            raise ValueError(f"feedback value: +1 or -1, got {value}")
        now = utc(now)
        async with self._tx(write=True) as conn:
            if await conn.scalar(select(questions.c.id).where(questions.c.id == question_id)) is None:
                return False
            stmt = dialect_insert(conn, feedback).values(
                question_id=question_id, user_id=user_id, value=value, created_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[feedback.c.question_id, feedback.c.user_id],
                    set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at},
                )
            )
        return True

    async def last_question(self, user_id: int, chat_type: str, *, since: datetime) -> str | None:
        """The text of the user's latest question in this chat type asked at or after `since`, if any."""
        [found] = await self.last_questions([(user_id, chat_type, since)])
        return found

    async def last_questions(self, asks: Sequence[tuple[int, str, datetime]]) -> list[str | None]:
        """For each (user id, chat type, since): the text of that user's latest question in that chat type
        asked at or after `since`, or None; one query for all of them."""
        if not asks:
            return []
        ranked = (
            select(
                questions.c.user_id,
                questions.c.chat_type,
                questions.c.text,
                questions.c.created_at,
                func.row_number()
                .over(
                    partition_by=(questions.c.user_id, questions.c.chat_type),
                    order_by=(questions.c.created_at.desc(), questions.c.id.desc()),
                )
                .label("rank"),
            )
            .where(
                questions.c.user_id.in_(sorted({user_id for user_id, _, _ in asks})),
                questions.c.created_at >= min(utc_value("since", since) for _, _, since in asks),
            )
            .subquery()
        )
        stmt = select(ranked.c.user_id, ranked.c.chat_type, ranked.c.text, ranked.c.created_at).where(
            ranked.c.rank == 1
        )
        async with self._tx(write=False) as conn:
            latest = {(u, c): (str(text), at) for u, c, text, at in (await conn.execute(stmt)).all()}
        found: list[str | None] = []
        for user_id, chat_type, since in asks:  # the latest since the earliest `since`: is it within its own?
            text, at = latest.get((user_id, chat_type), (None, None))
            found.append(text if at is not None and at >= utc_value("since", since) else None)
        return found

    async def question_text(self, question_id: int) -> str | None:
        """The text of a stored question, or None once it was purged or forgotten."""
        async with self._tx(write=False) as conn:
            found = await conn.scalar(select(questions.c.text).where(questions.c.id == question_id))
        return None if found is None else str(found)

    async def unanswered_questions(self, limit: int = 10) -> list[QuestionSummary]:
        """Questions the bot could not answer and no coordinator handled yet, grouped by
        `normalize_question`, most recently asked first.

        Each group shows its latest wording.
        """
        groups = _latest_per_group(
            select(questions.c.text, questions.c.created_at).where(
                questions.c.answered == false(), _not_handled()
            ),
            questions.c.created_at,
            questions.c.normalized_text,
        )
        stmt = (
            select(groups.c.text, groups.c.count, groups.c.last)
            .where(groups.c.rank == 1)
            .order_by(groups.c.last.desc(), groups.c.count.desc(), groups.c.text)
            .limit(limit)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [QuestionSummary(text=row["text"], count=row["count"], last_asked=row["last"]) for row in rows]

    async def disliked_answers(self, limit: int = 10) -> list[FeedbackSummary]:
        """Answers voted down that no coordinator handled yet, grouped by question (`normalize_question`)
        and resource, latest vote first.

        Each group shows the latest wording of the question.
        """
        groups = _latest_per_group(
            select(questions.c.text, questions.c.resource_id, feedback.c.created_at)
            .select_from(feedback.join(questions, feedback.c.question_id == questions.c.id))
            .where(feedback.c.value == -1, _not_handled()),
            feedback.c.created_at,
            questions.c.normalized_text,
            questions.c.resource_id,
        )
        stmt = (
            select(groups.c.text, groups.c.resource_id, groups.c.count, groups.c.last)
            .where(groups.c.rank == 1)
            .order_by(groups.c.last.desc(), groups.c.count.desc(), groups.c.text)
            .limit(limit)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [
            FeedbackSummary(
                question=row["text"], resource_id=row["resource_id"], count=row["count"], last=row["last"]
            )
            for row in rows
        ]

    async def purge_old_questions(self, older_than_days: int, *, now: datetime | None = None) -> int:
        """Delete the questions (and their votes) asked more than `older_than_days` ago; return how many."""
        if older_than_days < 0:
            raise ValueError(f"older_than_days: must be 0 or more, got {older_than_days}")
        cutoff = utc(now) - timedelta(days=older_than_days)
        old = select(questions.c.id).where(questions.c.created_at < cutoff)
        async with self._tx(write=True) as conn:
            await conn.execute(delete(feedback).where(feedback.c.question_id.in_(old)))
            result = await conn.execute(delete(questions).where(questions.c.created_at < cutoff))
        return result.rowcount

    async def stats(self) -> Stats:
        user_counts = select(
            func.count(),
            func.count().filter(users.c.active == true()),
            func.count().filter(users.c.role == Role.MEMBER.value),
            func.count().filter(users.c.role == Role.COORDINATOR.value),
        ).select_from(users)
        question_counts = select(
            func.count(), func.count().filter(questions.c.answered == true())
        ).select_from(questions)
        async with self._tx(write=False) as conn:
            n_users, active, members, coordinators = (await conn.execute(user_counts)).one()
            n_questions, answered = (await conn.execute(question_counts)).one()
        return Stats(
            users=n_users,
            active_users=active,
            members=members,
            coordinators=coordinators,
            questions=n_questions,
            answered=answered,
            answer_rate=answered / n_questions if n_questions else 0.0,
        )


def normalize_question(text: str) -> str:
    """The grouping key of a question: lowercase, spaces collapsed, trailing ?!.… dropped."""
    key = " ".join(text.replace("’", "'").split()).lower()
    return key.rstrip(" ?!.…") or key


def _latest_per_group(
    rows: Select[Any], when: ColumnElement[datetime], *group: ColumnElement[Any]
) -> Subquery:
    """`rows` with, per group, `count` and `last` (latest `when`); `rank` 1 marks each group's latest row."""
    return rows.add_columns(
        func.count().over(partition_by=group).label("count"),
        func.max(when).over(partition_by=group).label("last"),
        func.row_number()
        .over(partition_by=group, order_by=(when.desc(), questions.c.id.desc()))
        .label("rank"),
    ).subquery()


def _not_handled() -> Any:
    """Not answered nor dismissed by a coordinator (pending, or never kept)."""
    return or_(questions.c.status.is_(None), questions.c.status == Status.PENDING.value)
