"""The queries of the bot: `Storage`, over an async engine (SQLite or PostgreSQL, same code).

Every method is one transaction. Times are timezone-aware UTC datetimes; methods where time matters take a
keyword `now` (default: the current time) so tests can use their own clock.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    Subquery,
    Table,
    delete,
    false,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.storage.engine import transaction
from bot.storage.schema import (
    Role,
    diagnostic_results,
    diagnostic_sessions,
    feedback,
    invitations,
    questions,
    users,
)

DEFAULT_LANGUAGE = "fr"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or copied by hand safely
CODE_GROUP = 4  # "K7QF-2M9X": 31**8 ≈ 8.5e11 codes
MISSING = "missing"  # the diagnostic statuses counted by `diagnostic_stats`
FRAGILE = "fragile"
_USER_ID = frozenset({"user_id"})


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
class QuestionSummary:
    """Unanswered questions asked in the same words (see `normalize_question`)."""

    text: str  # one of the original wordings
    count: int
    last_asked: datetime


@dataclass(frozen=True)
class FeedbackSummary:
    """Thumbs-down votes on the same question answered with the same resource."""

    question: str  # one of the original wordings
    resource_id: str | None
    count: int
    last: datetime


@dataclass(frozen=True)
class Stats:
    users: int
    active_users: int  # users who have not blocked the bot
    members: int
    coordinators: int
    questions: int
    answered: int
    answer_rate: float  # answered / questions, 0.0 without questions


@dataclass(frozen=True)
class DiagnosticSession:
    """A self-diagnosis in progress."""

    user_id: int
    answers: dict[str, str]  # step id → option id, in the order they were saved
    paused: bool
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DiagnosticResult:
    """A finished self-diagnosis."""

    id: int
    user_id: int | None
    created_at: datetime
    territory: str | None  # the answer to "type of territory"
    structure: str | None
    version: str  # of the questionnaire
    scores: dict[str, int]  # métier id → score 0-100
    statuses: dict[str, str]  # métier id → status ("missing", "fragile", …)
    answers: dict[str, str]  # step id → option id


@dataclass(frozen=True)
class TerritoryStats:
    territory: str | None  # None: territory not given
    diagnostics: int
    missing: dict[str, int]  # métier id → results of this territory type where it was "missing"


@dataclass(frozen=True)
class DiagnosticStats:
    """Anonymous counts over every stored result: no user ids, no answers.

    The métier dicts have every métier seen in a result (0 included), sorted by id.
    """

    diagnostics: int
    missing: dict[str, int]  # métier id → results where it was "missing"
    fragile: dict[str, int]  # métier id → results where it was "fragile"
    territories: list[TerritoryStats]  # most diagnostics first, "not given" last among equals


def normalize_question(text: str) -> str:
    """The grouping key of a question: lowercase, spaces collapsed, trailing ?!.… dropped."""
    key = " ".join(text.replace("’", "'").split()).lower()
    return key.rstrip(" ?!.…") or key


def normalize_code(code: str) -> str | None:
    """The stored form of a typed invitation code ("k7qf 2m9x" → "K7QF-2M9X"), or None if it cannot be one."""
    chars = "".join(c for c in code.upper() if c.isalnum())
    if len(chars) != 2 * CODE_GROUP or any(c not in CODE_ALPHABET for c in chars):
        return None
    return f"{chars[:CODE_GROUP]}-{chars[CODE_GROUP:]}"


def new_code() -> str:
    chars = "".join(secrets.choice(CODE_ALPHABET) for _ in range(2 * CODE_GROUP))
    return f"{chars[:CODE_GROUP]}-{chars[CODE_GROUP:]}"


class Storage:
    """Users, invitations, questions, feedback and self-diagnoses."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- users --------------------------------------------------------------------------------------------

    async def touch_user(
        self, user_id: int, *, language_hint: str | None = None, now: datetime | None = None
    ) -> User:
        """The user, created if new (language from `language_hint`, e.g. Telegram's "en-US" → "en"), seen now.

        A user who had blocked the bot is active again. The hint is ignored for a known user (they may have
        chosen their language).
        """
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            values = _insert(conn, users).values(
                id=user_id,
                language=_language_from_hint(language_hint),
                role=Role.NEWCOMER.value,
                active=True,
                created_at=now,
                last_seen_at=now,
            )
            stmt = values.on_conflict_do_update(
                index_elements=[users.c.id],
                set_={"last_seen_at": values.excluded.last_seen_at, "active": values.excluded.active},
            ).returning(*users.c)
            row = (await conn.execute(stmt)).mappings().one()
        return _user(row)

    async def get_user(self, user_id: int) -> User | None:
        async with transaction(self._engine, write=False) as conn:
            row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
        return None if row is None else _user(row)

    async def set_language(self, user_id: int, language: str) -> bool:
        """False if the user is unknown."""
        _check_length("language", language, 5, minimum=2)
        return await self._update_user(user_id, language=language)

    async def set_role(self, user_id: int, role: Role | str) -> bool:
        """False if the user is unknown. ValueError for a role that does not exist."""
        return await self._update_user(user_id, role=Role(role).value)

    async def set_active(self, user_id: int, active: bool) -> bool:
        """Mark the user as having blocked the bot (False) or not. False if the user is unknown."""
        return await self._update_user(user_id, active=active)

    async def users_with_role(self, role: Role | str) -> list[User]:
        """All the users with this role, active or not, by id."""
        stmt = select(users).where(users.c.role == Role(role).value).order_by(users.c.id)
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_user(row) for row in rows]

    async def _update_user(self, user_id: int, **values: Any) -> bool:
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(update(users).where(users.c.id == user_id).values(**values))
        return result.rowcount > 0

    # -- invitations --------------------------------------------------------------------------------------

    async def create_invitation(
        self, created_by: int, *, ttl_days: int = 30, now: datetime | None = None
    ) -> str:
        """A new single-use code such as "K7QF-2M9X", valid `ttl_days` days."""
        if ttl_days < 1:
            raise ValueError(f"ttl_days: must be 1 or more, got {ttl_days}")
        now = _utc(now)
        for _ in range(10):
            code = new_code()
            try:
                async with transaction(self._engine, write=True) as conn:
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
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            claimed = await conn.execute(
                update(invitations)
                .where(
                    invitations.c.code == key, invitations.c.used_at.is_(None), invitations.c.expires_at > now
                )
                .values(used_by=user_id, used_at=now)
            )
            if claimed.rowcount == 1:
                await _ensure_user(conn, user_id, now)
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

    # -- questions and feedback ---------------------------------------------------------------------------

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
        _check_length("chat_type", chat_type, 16)
        _check_length("language", language, 5)
        if resource_id is not None:
            _check_length("resource_id", resource_id, 255)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            if user_id is not None:
                await _ensure_user(conn, user_id, now)
            question_id = await conn.scalar(
                insert(questions)
                .values(
                    user_id=user_id,
                    chat_type=chat_type,
                    text=text,
                    normalized_text=normalize_question(text),
                    language=language,
                    answered=answered,
                    resource_id=resource_id,
                    confidence=confidence,
                    created_at=now,
                )
                .returning(questions.c.id)
            )
        assert question_id is not None
        return int(question_id)

    async def record_feedback(
        self, question_id: int, user_id: int, value: int, *, now: datetime | None = None
    ) -> bool:
        """A vote (+1 or -1) on an answer; a second vote of the same user replaces the first.

        False if the question is unknown (e.g. already purged).
        """
        if value not in (1, -1):
            raise ValueError(f"feedback value: +1 or -1, got {value}")
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            if await conn.scalar(select(questions.c.id).where(questions.c.id == question_id)) is None:
                return False
            stmt = _insert(conn, feedback).values(
                question_id=question_id, user_id=user_id, value=value, created_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[feedback.c.question_id, feedback.c.user_id],
                    set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at},
                )
            )
        return True

    async def question_text(self, question_id: int) -> str | None:
        """The text of a stored question, or None once it was purged or forgotten."""
        async with transaction(self._engine, write=False) as conn:
            found = await conn.scalar(select(questions.c.text).where(questions.c.id == question_id))
        return None if found is None else str(found)

    async def unanswered_questions(self, limit: int = 10) -> list[QuestionSummary]:
        """Questions the bot could not answer, grouped by `normalize_question`, most recently asked first.

        Each group shows its latest wording.
        """
        groups = _latest_per_group(
            select(questions.c.text, questions.c.created_at).where(questions.c.answered == false()),
            questions.c.created_at,
            questions.c.normalized_text,
        )
        stmt = (
            select(groups.c.text, groups.c.count, groups.c.last)
            .where(groups.c.rank == 1)
            .order_by(groups.c.last.desc(), groups.c.count.desc(), groups.c.text)
            .limit(limit)
        )
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [QuestionSummary(text=row["text"], count=row["count"], last_asked=row["last"]) for row in rows]

    async def disliked_answers(self, limit: int = 10) -> list[FeedbackSummary]:
        """Answers voted down, grouped by question (`normalize_question`) and resource, latest vote first.

        Each group shows the latest wording of the question.
        """
        groups = _latest_per_group(
            select(questions.c.text, questions.c.resource_id, feedback.c.created_at)
            .select_from(feedback.join(questions, feedback.c.question_id == questions.c.id))
            .where(feedback.c.value == -1),
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
        async with transaction(self._engine, write=False) as conn:
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
        cutoff = _utc(now) - timedelta(days=older_than_days)
        old = select(questions.c.id).where(questions.c.created_at < cutoff)
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(delete(feedback).where(feedback.c.question_id.in_(old)))
            result = await conn.execute(delete(questions).where(questions.c.created_at < cutoff))
        return result.rowcount

    # -- self-diagnosis -----------------------------------------------------------------------------------

    async def load_diagnostic(self, user_id: int) -> DiagnosticSession | None:
        """The user's self-diagnosis in progress, or None."""
        stmt = select(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id)
        async with transaction(self._engine, write=False) as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return None
        return DiagnosticSession(
            user_id=row["user_id"],
            answers=_str_map("answers", row["answers"]),
            paused=bool(row["paused"]),
            started_at=row["started_at"],
            updated_at=row["updated_at"],
        )

    async def save_diagnostic(
        self, user_id: int, answers: Mapping[str, str], *, paused: bool = False, now: datetime | None = None
    ) -> None:
        """Store the answers so far (replacing the previous ones), and whether the user paused.

        The first save starts the session (`started_at`); an unknown `user_id` is created as a newcomer.
        """
        stored = _str_map("answers", answers)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            await _ensure_user(conn, user_id, now)
            stmt = _insert(conn, diagnostic_sessions).values(
                user_id=user_id, answers=stored, paused=paused, started_at=now, updated_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[diagnostic_sessions.c.user_id],
                    set_={
                        "answers": stmt.excluded.answers,
                        "paused": stmt.excluded.paused,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
            )

    async def clear_diagnostic(self, user_id: int) -> None:
        """Drop the self-diagnosis in progress, if any (its results are kept)."""
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(delete(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id))

    async def save_diagnostic_result(
        self,
        user_id: int | None,
        *,
        territory: str | None,
        structure: str | None,
        version: str,
        scores: Mapping[str, int],
        statuses: Mapping[str, str],
        answers: Mapping[str, str],
        clear_progress: bool = True,
        now: datetime | None = None,
    ) -> int:
        """Store a finished self-diagnosis and return its id; an unknown `user_id` is created as a newcomer.

        With `clear_progress` (the default), the user's session in progress is dropped in the same
        transaction, so a restart can never offer to finish a diagnosis already saved.
        """
        if territory is not None:
            _check_length("territory", territory, 32)
        if structure is not None:
            _check_length("structure", structure, 32)
        _check_length("version", version, 16)
        values = {
            "scores": _score_map(scores),
            "statuses": _str_map("statuses", statuses),
            "answers": _str_map("answers", answers),
        }
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            if user_id is not None:
                await _ensure_user(conn, user_id, now)
                if clear_progress:
                    await conn.execute(
                        delete(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id)
                    )
            result_id = await conn.scalar(
                insert(diagnostic_results)
                .values(
                    user_id=user_id,
                    created_at=now,
                    territory=territory,
                    structure=structure,
                    questionnaire_version=version,
                    **values,
                )
                .returning(diagnostic_results.c.id)
            )
        assert result_id is not None
        return int(result_id)

    async def diagnostic_results(self, user_id: int, limit: int = 2) -> list[DiagnosticResult]:
        """The user's latest results, newest first (by default the last one and the one before)."""
        stmt = (
            select(diagnostic_results)
            .where(diagnostic_results.c.user_id == user_id)
            .order_by(diagnostic_results.c.created_at.desc(), diagnostic_results.c.id.desc())
            .limit(limit)
        )
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_diagnostic_result(row) for row in rows]

    async def diagnostic_stats(self) -> DiagnosticStats:
        """How often each métier came out "missing" or "fragile", overall and per type of territory.

        Anonymous: only the territory and the statuses of each result are read: no user, no answers.
        """
        stmt = select(diagnostic_results.c.territory, diagnostic_results.c.statuses)
        missing: Counter[str] = Counter()
        fragile: Counter[str] = Counter()
        metiers: set[str] = set()
        per_territory: Counter[str | None] = Counter()
        missing_per_territory: dict[str | None, Counter[str]] = {}
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).all()
        for territory, raw in rows:
            statuses = _str_map("statuses", raw)
            metiers.update(statuses)
            per_territory[territory] += 1
            territory_missing = missing_per_territory.setdefault(territory, Counter())
            for metier, status in statuses.items():
                if status == MISSING:
                    missing[metier] += 1
                    territory_missing[metier] += 1
                elif status == FRAGILE:
                    fragile[metier] += 1

        def by_metier(counts: Counter[str]) -> dict[str, int]:
            return {metier: counts[metier] for metier in sorted(metiers)}

        territories = [
            TerritoryStats(
                territory=territory, diagnostics=count, missing=by_metier(missing_per_territory[territory])
            )
            for territory, count in sorted(
                per_territory.items(), key=lambda item: (-item[1], item[0] is None, item[0] or "")
            )
        ]
        return DiagnosticStats(
            diagnostics=len(rows),
            missing=by_metier(missing),
            fragile=by_metier(fragile),
            territories=territories,
        )

    # -- statistics and personal data ---------------------------------------------------------------------

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
        async with transaction(self._engine, write=False) as conn:
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

    async def export_user(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the user, as JSON-serialisable data (datetimes in ISO 8601).

        Other people's ids are left out (who used the user's invitations, who invited them).
        """
        async with transaction(self._engine, write=False) as conn:
            profile = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
            asked = (
                await conn.execute(
                    select(questions).where(questions.c.user_id == user_id).order_by(questions.c.created_at)
                )
            ).mappings()
            asked_list = [_plain(row, exclude=frozenset({"user_id", "normalized_text"})) for row in asked]
            votes = (
                await conn.execute(
                    select(feedback.c.question_id, feedback.c.value, feedback.c.created_at)
                    .where(feedback.c.user_id == user_id)
                    .order_by(feedback.c.created_at)
                )
            ).mappings()
            votes_list = [_plain(row) for row in votes]
            created = (
                await conn.execute(
                    select(
                        invitations.c.code,
                        invitations.c.created_at,
                        invitations.c.expires_at,
                        invitations.c.used_at,
                    )
                    .where(invitations.c.created_by == user_id)
                    .order_by(invitations.c.created_at)
                )
            ).mappings()
            created_list = [_plain(row) for row in created]
            used = (
                await conn.execute(
                    select(invitations.c.code, invitations.c.used_at)
                    .where(invitations.c.used_by == user_id)
                    .order_by(invitations.c.used_at)
                )
            ).mappings()
            used_list = [_plain(row) for row in used]
            own_session = select(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id)
            session = (await conn.execute(own_session)).mappings().first()
            results = (
                await conn.execute(
                    select(diagnostic_results)
                    .where(diagnostic_results.c.user_id == user_id)
                    .order_by(diagnostic_results.c.created_at, diagnostic_results.c.id)
                )
            ).mappings()
            results_list = [_plain(row, exclude=_USER_ID) for row in results]
        return {
            "user": None if profile is None else _plain(profile),
            "questions": asked_list,
            "feedback": votes_list,
            "invitations_created": created_list,
            "invitations_used": used_list,
            "diagnostic_session": None if session is None else _plain(session, exclude=_USER_ID),
            "diagnostic_results": results_list,
        }

    async def forget_user(self, user_id: int) -> None:
        """Erase the user: profile, questions (with everyone's votes on them), votes, unused invitations.

        Their self-diagnosis in progress and results go too. Invitations already used are kept, without the
        user's id, so a used code stays used.
        """
        own_questions = select(questions.c.id).where(questions.c.user_id == user_id)
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(delete(feedback).where(feedback.c.user_id == user_id))
            await conn.execute(delete(feedback).where(feedback.c.question_id.in_(own_questions)))
            await conn.execute(delete(questions).where(questions.c.user_id == user_id))
            await conn.execute(delete(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id))
            await conn.execute(delete(diagnostic_results).where(diagnostic_results.c.user_id == user_id))
            await conn.execute(
                delete(invitations).where(
                    invitations.c.created_by == user_id, invitations.c.used_at.is_(None)
                )
            )
            await conn.execute(
                update(invitations).where(invitations.c.created_by == user_id).values(created_by=None)
            )
            await conn.execute(
                update(invitations).where(invitations.c.used_by == user_id).values(used_by=None)
            )
            await conn.execute(delete(users).where(users.c.id == user_id))


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


def _insert(conn: AsyncConnection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT: same syntax and API on both backends."""
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


async def _ensure_user(conn: AsyncConnection, user_id: int, now: datetime) -> None:
    stmt = _insert(conn, users).values(
        id=user_id,
        language=DEFAULT_LANGUAGE,
        role=Role.NEWCOMER.value,
        active=True,
        created_at=now,
        last_seen_at=now,
    )
    await conn.execute(stmt.on_conflict_do_nothing(index_elements=[users.c.id]))


def _user(row: RowMapping) -> User:
    return User(
        id=row["id"],
        language=row["language"],
        role=Role(row["role"]),
        active=bool(row["active"]),
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
    )


def _diagnostic_result(row: RowMapping) -> DiagnosticResult:
    return DiagnosticResult(
        id=row["id"],
        user_id=row["user_id"],
        created_at=row["created_at"],
        territory=row["territory"],
        structure=row["structure"],
        version=row["questionnaire_version"],
        scores=_score_map(row["scores"]),
        statuses=_str_map("statuses", row["statuses"]),
        answers=_str_map("answers", row["answers"]),
    )


def _str_map(name: str, value: object) -> dict[str, str]:
    """`value` as a new dict of strings (order kept); ValueError if it is anything else."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{name}: expected a dict of strings to strings, got {value!r}")
    return dict(value)


def _score_map(value: object) -> dict[str, int]:
    """`value` as a new dict of métier id → score, each an int from 0 to 100; ValueError otherwise."""
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and type(v) is int and 0 <= v <= 100 for k, v in value.items()
    ):
        raise ValueError(f"scores: expected a dict of strings to integers 0-100, got {value!r}")
    return dict(value)


def _plain(row: RowMapping, exclude: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in row.items()
        if key not in exclude
    }


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass a timezone-aware datetime (UTC)")
    return now.astimezone(UTC)


def _language_from_hint(hint: str | None) -> str:
    if hint:
        primary = hint.strip().replace("_", "-").split("-")[0].lower()
        if 2 <= len(primary) <= 3 and primary.isascii() and primary.isalpha():
            return primary
    return DEFAULT_LANGUAGE


def _check_length(name: str, value: str, maximum: int, *, minimum: int = 1) -> None:
    """Same rule on both backends (SQLite does not enforce VARCHAR lengths)."""
    if not minimum <= len(value) <= maximum:
        raise ValueError(f"{name}: {minimum} to {maximum} characters, got {value!r}")
