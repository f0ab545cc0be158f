"""The queries of the bot: `Storage`, over an async engine (SQLite or PostgreSQL, same code).

Every method is one transaction. Times are timezone-aware UTC datetimes; methods where time matters take a
keyword `now` (default: the current time) so tests can use their own clock.

`Storage` is also the outbox of `bot.delivery.outbox` (it implements `OutboxStore`). A campaign (a
coordinator's announcement) sends its messages through it: deliveries of kind `ANNOUNCEMENT`, key
`CAMPAIGN_KEY`, whose `ref_id` is the campaign id.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Select,
    Subquery,
    Table,
    Text,
    and_,
    delete,
    false,
    func,
    insert,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.delivery.outbox import Delivery, Status
from bot.storage.engine import transaction
from bot.storage.schema import (
    Audience,
    CampaignAudience,
    CampaignStatus,
    EventStatus,
    MediaKind,
    Role,
    RsvpAnswer,
    campaigns,
    deliveries,
    diagnostic_results,
    diagnostic_sessions,
    event_subscriptions,
    events,
    feedback,
    invitations,
    preferences,
    questions,
    rsvps,
    users,
)

DEFAULT_LANGUAGE = "fr"
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read aloud or copied by hand safely
CODE_GROUP = 4  # "K7QF-2M9X": 31**8 ≈ 8.5e11 codes
MISSING = "missing"  # the diagnostic statuses counted by `diagnostic_stats`
FRAGILE = "fragile"
_USER_ID = frozenset({"user_id"})
_MEMBER_ROLES = (Role.MEMBER.value, Role.COORDINATOR.value)
_PREFERENCE_FLAGS = frozenset({"remind_all", "new_event_notices", "announcements"})
_TOPIC_LENGTH = 64
_ENQUEUE_CHUNK = 1000  # rows per INSERT: 8 parameters each, far below SQLite's and asyncpg's limits
_ERROR_LENGTH = 300  # deliveries.last_error
_FINAL = frozenset({Status.SENT, Status.BLOCKED, Status.FAILED, Status.SKIPPED})
_UNFINISHED = (Status.PENDING.value, Status.SENDING.value)
CHAT_MOVED = "chat moved"  # reason of a delivery skipped because the new chat has the same one already
ANNOUNCEMENT = "announcement"  # the delivery kind of a campaign's messages (ref_id: the campaign id)
CAMPAIGN_KEY = "main"  # the delivery key of a campaign's message to one chat
_MEDIA_LENGTH = 200  # campaigns.media_file_id and campaigns.media_name
_CAMPAIGN_PRIVATE = frozenset({"author_id", "approved_by", "progress_chat_id", "progress_message_id"})

UpsertOutcome = Literal["created", "updated", "unchanged"]


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


@dataclass(frozen=True)
class EventFields:
    """What a coordinator (or an import) says about an event; `Storage` checks it."""

    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    place: str | None = None
    link: str | None = None
    description: str | None = None
    audience: Audience | str = Audience.ALL


@dataclass(frozen=True)
class Event:
    id: int
    uid: str | None  # the external id of an imported event
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str | None
    link: str | None
    description: str | None
    audience: Audience
    status: EventStatus
    revision: int  # starts at 1, +1 whenever starts_at changes (reminders are keyed by it)
    created_by: int | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class Preferences:
    remind_all: bool = False  # a reminder of every event the user may attend
    new_event_notices: bool = False  # a message when an event is created
    announcements: bool = True  # False: opted out of announcements
    topics: tuple[str, ...] = ()  # for announcements to a topic


@dataclass(frozen=True)
class Campaign:
    """A coordinator's announcement: what to send, to whom, when, and how far it got."""

    id: int
    author_id: int | None  # None once the author was forgotten (the campaign is kept)
    text: str  # Telegram HTML, already safe
    media_kind: MediaKind | None
    media_file_id: str | None  # Telegram file_id, to send the media again
    media_name: str | None
    audience: CampaignAudience
    topic: str | None  # with the "topic" audience only
    status: CampaignStatus
    send_at: datetime | None  # None: as soon as launched
    approved_by: int | None
    created_at: datetime
    updated_at: datetime
    recipients: int  # deliveries planned at launch
    opted_out: int  # users of the audience left out at launch because they opted out
    progress_chat_id: int | None  # the message that shows the progress, if any
    progress_message_id: int | None
    finished_at: datetime | None  # when it became done or cancelled


class AnnouncementAudience(StrEnum):
    ALL = "all"
    MEMBERS = "members"  # members and coordinators
    COORDINATORS = "coordinators"
    TOPIC = "topic"  # users who follow the topic


_EVENT_FIELDS = tuple(field.name for field in fields(EventFields))


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
    """Users, invitations, questions, feedback, self-diagnoses, events and the delivery outbox."""

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

    async def last_question(self, user_id: int, chat_type: str, *, since: datetime) -> str | None:
        """The text of the user's latest question in this chat type asked at or after `since`, if any."""
        async with transaction(self._engine, write=False) as conn:
            found = await conn.scalar(
                select(questions.c.text)
                .where(
                    questions.c.user_id == user_id,
                    questions.c.chat_type == chat_type,
                    questions.c.created_at >= _utc(since),
                )
                .order_by(questions.c.created_at.desc(), questions.c.id.desc())
                .limit(1)
            )
        return None if found is None else str(found)

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

    # -- events -------------------------------------------------------------------------------------------

    async def create_event(
        self,
        fields: EventFields,
        *,
        created_by: int | None,
        uid: str | None = None,
        now: datetime | None = None,
    ) -> Event:
        """A new scheduled event, revision 1. IntegrityError if `uid` exists already (see `upsert_event`)."""
        values = _event_values(fields)
        if uid is not None:
            _check_length("uid", uid, 200)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                insert(events)
                .values(
                    uid=uid,
                    status=EventStatus.SCHEDULED.value,
                    revision=1,
                    created_by=created_by,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .returning(*events.c)
            )
            row = result.mappings().one()
        return _event(row)

    async def update_event(
        self, event_id: int, fields: EventFields, *, now: datetime | None = None
    ) -> tuple[Event, frozenset[str]] | None:
        """Replace the event's fields; return it with the names of the fields that changed (None: unknown).

        The revision goes up when `starts_at` changes; nothing is written when nothing changed. The status
        is left as it is.
        """
        values = _event_values(fields)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            row = await _locked_event(conn, events.c.id == event_id)
            if row is None:
                return None
            return await _apply_event_values(conn, row, values, now)

    async def upsert_event(
        self, uid: str, fields: EventFields, *, now: datetime | None = None
    ) -> tuple[Event, UpsertOutcome]:
        """Create or update the event imported with this external id: importing twice never duplicates it.

        "created", "updated" (some field changed, see `update_event`) or "unchanged". The status is left as it
        is: a cancelled event imported again stays cancelled.
        """
        _check_length("uid", uid, 200)
        values = _event_values(fields)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            stmt = _insert(conn, events).values(
                uid=uid,
                status=EventStatus.SCHEDULED.value,
                revision=1,
                created_by=None,
                created_at=now,
                updated_at=now,
                **values,
            )
            result = await conn.execute(
                stmt.on_conflict_do_nothing(index_elements=[events.c.uid]).returning(*events.c)
            )
            created = result.mappings().first()
            if created is not None:
                return _event(created), "created"
            row = await _locked_event(conn, events.c.uid == uid)
            assert row is not None  # it conflicted, and events are never deleted
            event, changed = await _apply_event_values(conn, row, values, now)
        return event, "updated" if changed else "unchanged"

    async def cancel_event(self, event_id: int, *, now: datetime | None = None) -> Event | None:
        """Mark the event cancelled (once: cancelling again changes nothing). None if unknown."""
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(
                update(events)
                .where(events.c.id == event_id, events.c.status != EventStatus.CANCELLED.value)
                .values(status=EventStatus.CANCELLED.value, updated_at=now)
            )
            row = (await conn.execute(select(events).where(events.c.id == event_id))).mappings().first()
        return None if row is None else _event(row)

    async def get_event(self, event_id: int) -> Event | None:
        async with transaction(self._engine, write=False) as conn:
            row = (await conn.execute(select(events).where(events.c.id == event_id))).mappings().first()
        return None if row is None else _event(row)

    async def upcoming_events(
        self,
        *,
        now: datetime | None = None,
        include_members_only: bool = False,
        limit: int = 10,
        offset: int = 0,
    ) -> list[Event]:
        """Scheduled events not over at `now` (ends_at, or else starts_at, ≥ now), soonest first.

        Members-only events are left out unless `include_members_only`.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset: 0 or more, got {limit} and {offset}")
        stmt = (
            select(events)
            .where(_upcoming(_utc(now), include_members_only))
            .order_by(events.c.starts_at, events.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_event(row) for row in rows]

    async def count_upcoming(self, *, now: datetime | None = None, include_members_only: bool = False) -> int:
        """How many events `upcoming_events` lists over all its pages."""
        stmt = select(func.count()).select_from(events).where(_upcoming(_utc(now), include_members_only))
        async with transaction(self._engine, write=False) as conn:
            return int(await conn.scalar(stmt) or 0)

    async def events_starting_between(self, start: datetime, end: datetime) -> list[Event]:
        """Scheduled events (any audience) with start ≤ starts_at < end, soonest first: the reminder tick."""
        stmt = (
            select(events)
            .where(
                events.c.status == EventStatus.SCHEDULED.value,
                events.c.starts_at >= _utc_value("start", start),
                events.c.starts_at < _utc_value("end", end),
            )
            .order_by(events.c.starts_at, events.c.id)
        )
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_event(row) for row in rows]

    # -- per-user event settings --------------------------------------------------------------------------

    async def toggle_reminder(self, user_id: int, event_id: int, *, now: datetime | None = None) -> bool:
        """Switch "remind me" of this event for the user; return the new state.

        An unknown `user_id` is created as a newcomer; LookupError for an unknown event.
        """
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            removed = await conn.execute(
                delete(event_subscriptions).where(
                    event_subscriptions.c.user_id == user_id, event_subscriptions.c.event_id == event_id
                )
            )
            if removed.rowcount > 0:
                return False
            await _check_event(conn, event_id)
            await _ensure_user(conn, user_id, now)
            stmt = _insert(conn, event_subscriptions).values(
                user_id=user_id, event_id=event_id, created_at=now
            )
            await conn.execute(stmt.on_conflict_do_nothing())
        return True

    async def reminder_event_ids(self, user_id: int) -> set[int]:
        """The events the user asked to be reminded of."""
        stmt = select(event_subscriptions.c.event_id).where(event_subscriptions.c.user_id == user_id)
        async with transaction(self._engine, write=False) as conn:
            return set((await conn.scalars(stmt)).all())

    async def set_rsvp(
        self, user_id: int, event_id: int, answer: RsvpAnswer | str, *, now: datetime | None = None
    ) -> None:
        """The user's answer ("yes", "maybe", "no"), replacing the previous one.

        ValueError for another answer; an unknown `user_id` is created as a newcomer; LookupError for an
        unknown event.
        """
        value = RsvpAnswer(answer).value
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            await _check_event(conn, event_id)
            await _ensure_user(conn, user_id, now)
            stmt = _insert(conn, rsvps).values(
                user_id=user_id, event_id=event_id, answer=value, updated_at=now
            )
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[rsvps.c.user_id, rsvps.c.event_id],
                    set_={"answer": stmt.excluded.answer, "updated_at": stmt.excluded.updated_at},
                )
            )

    async def rsvp_of(self, user_id: int, event_id: int) -> RsvpAnswer | None:
        stmt = select(rsvps.c.answer).where(rsvps.c.user_id == user_id, rsvps.c.event_id == event_id)
        async with transaction(self._engine, write=False) as conn:
            answer = await conn.scalar(stmt)
        return None if answer is None else RsvpAnswer(answer)

    async def rsvp_counts(self, event_id: int) -> dict[str, int]:
        """{"yes": n, "maybe": n, "no": n}, zeros included."""
        stmt = (
            select(rsvps.c.answer, func.count()).where(rsvps.c.event_id == event_id).group_by(rsvps.c.answer)
        )
        async with transaction(self._engine, write=False) as conn:
            counted = {answer: int(n) for answer, n in (await conn.execute(stmt)).all()}
        return {answer.value: counted.get(answer.value, 0) for answer in RsvpAnswer}

    async def get_preferences(self, user_id: int) -> Preferences:
        """The user's preferences; the defaults for a user who never changed any (or is unknown)."""
        stmt = select(preferences).where(preferences.c.user_id == user_id)
        async with transaction(self._engine, write=False) as conn:
            row = (await conn.execute(stmt)).mappings().first()
        if row is None:
            return Preferences()
        return Preferences(
            remind_all=bool(row["remind_all"]),
            new_event_notices=bool(row["new_event_notices"]),
            announcements=bool(row["announcements"]),
            topics=tuple(_topics(row["topics"])),
        )

    async def set_preference(
        self, user_id: int, name: str, value: bool, *, now: datetime | None = None
    ) -> None:
        """Set "remind_all", "new_event_notices" or "announcements" (ValueError for another name).

        An unknown `user_id` is created as a newcomer.
        """
        if name not in _PREFERENCE_FLAGS:
            raise ValueError(f"preference: one of {sorted(_PREFERENCE_FLAGS)}, got {name!r}")
        await self._set_preferences(user_id, _utc(now), {name: bool(value)})

    async def set_topics(self, user_id: int, topics: Iterable[str], *, now: datetime | None = None) -> None:
        """The topics whose announcements the user receives (duplicates dropped, order kept)."""
        await self._set_preferences(user_id, _utc(now), {"topics": _topics(list(topics))})

    async def _set_preferences(self, user_id: int, now: datetime, values: dict[str, Any]) -> None:
        async with transaction(self._engine, write=True) as conn:
            await _ensure_user(conn, user_id, now)
            stmt = _insert(conn, preferences).values(user_id=user_id, **values)
            await conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[preferences.c.user_id],
                    set_={name: stmt.excluded[name] for name in values},
                )
            )

    async def reminder_recipients(self, event: Event) -> list[int]:
        """Active users to remind of the event: those who asked for it, and those who want every reminder.

        Only members and coordinators for a members-only event. By id.
        """
        chosen = select(event_subscriptions.c.user_id).where(event_subscriptions.c.event_id == event.id)
        everything = select(preferences.c.user_id).where(preferences.c.remind_all == true())
        return await self._user_ids(
            or_(users.c.id.in_(chosen), users.c.id.in_(everything)), _event_audience(event)
        )

    async def event_notice_recipients(self, event: Event) -> list[int]:
        """Active users who want to hear about new events (members and coordinators only for a members-only
        event). By id."""
        wanted = select(preferences.c.user_id).where(preferences.c.new_event_notices == true())
        return await self._user_ids(users.c.id.in_(wanted), _event_audience(event))

    async def announcement_recipients(
        self, audience: AnnouncementAudience | str, topic: str | None = None
    ) -> list[int]:
        """Active users of the audience who did not opt out of announcements, by id.

        Audiences: "all", "members" (members and coordinators), "coordinators", "topic" (users following
        `topic`, which is then required).
        """
        return [
            user_id for user_id, opted_in in await self._announcement_audience(audience, topic) if opted_in
        ]

    async def announcement_opted_out_count(
        self, audience: AnnouncementAudience | str, topic: str | None = None
    ) -> int:
        """How many active users of the audience `announcement_recipients` leaves out: they opted out."""
        return sum(not opted_in for _, opted_in in await self._announcement_audience(audience, topic))

    async def _announcement_audience(
        self, audience: AnnouncementAudience | str, topic: str | None
    ) -> list[tuple[int, bool]]:
        """(user id, not opted out) of the active users of the audience, by id."""
        audience = AnnouncementAudience(audience)
        if (audience == AnnouncementAudience.TOPIC) != (topic is not None):
            raise ValueError(f"announcement audience {audience.value!r}: a topic with 'topic' and only then")
        opted_in = func.coalesce(preferences.c.announcements, true())
        stmt = (
            select(users.c.id, opted_in, preferences.c.topics)
            .select_from(users.outerjoin(preferences, preferences.c.user_id == users.c.id))
            .where(users.c.active == true())
            .order_by(users.c.id)
        )
        if audience == AnnouncementAudience.MEMBERS:
            stmt = stmt.where(users.c.role.in_(_MEMBER_ROLES))
        elif audience == AnnouncementAudience.COORDINATORS:
            stmt = stmt.where(users.c.role == Role.COORDINATOR.value)
        elif audience == AnnouncementAudience.TOPIC:
            # Users following some topic; the topic itself is matched below, in Python (JSON in TEXT).
            stmt = stmt.where(type_coerce(preferences.c.topics, Text()) != "[]")
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).all()
        return [
            (user_id, bool(flag))
            for user_id, flag, topics in rows
            if topic is None or topic in _topics(topics or [])
        ]

    async def _user_ids(self, *conditions: ColumnElement[bool]) -> list[int]:
        stmt = select(users.c.id).where(users.c.active == true(), *conditions).order_by(users.c.id)
        async with transaction(self._engine, write=False) as conn:
            return list((await conn.scalars(stmt)).all())

    # -- campaigns (coordinator announcements) ------------------------------------------------------------

    async def create_campaign(
        self,
        author_id: int,
        text: str,
        *,
        media_kind: MediaKind | str | None = None,
        media_file_id: str | None = None,
        media_name: str | None = None,
        now: datetime | None = None,
    ) -> Campaign:
        """A new draft, for the "me" audience until `set_campaign_audience` chooses another.

        `text` is stored as it is (Telegram HTML); it may be blank only with a media. `media_kind` ("photo"
        or "document") and `media_file_id` go together (ValueError otherwise). An unknown `author_id` is
        created as a newcomer.
        """
        values = _campaign_media(text, media_kind, media_file_id, media_name)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            await _ensure_user(conn, author_id, now)
            result = await conn.execute(
                insert(campaigns)
                .values(
                    author_id=author_id,
                    text=text,
                    audience=CampaignAudience.ME.value,
                    topic=None,
                    status=CampaignStatus.DRAFT.value,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .returning(*campaigns.c)
            )
            row = result.mappings().one()
        return _campaign(row)

    async def get_campaign(self, campaign_id: int) -> Campaign | None:
        async with transaction(self._engine, write=False) as conn:
            result = await conn.execute(select(campaigns).where(campaigns.c.id == campaign_id))
            row = result.mappings().first()
        return None if row is None else _campaign(row)

    async def campaigns(self, limit: int = 10, offset: int = 0) -> list[Campaign]:
        """Every campaign, whatever its status, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset: 0 or more, got {limit} and {offset}")
        stmt = (
            select(campaigns)
            .order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with transaction(self._engine, write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [_campaign(row) for row in rows]

    async def set_campaign_audience(
        self,
        campaign_id: int,
        audience: CampaignAudience | str,
        topic: str | None = None,
        *,
        now: datetime | None = None,
    ) -> Campaign | None:
        """Choose who receives a draft: "all", "members", "coordinators", "topic" (with `topic`, and only
        then) or "me" (ValueError otherwise). The campaign, or None if it is unknown or no longer a draft."""
        audience = CampaignAudience(audience)
        if (audience == CampaignAudience.TOPIC) != (topic is not None):
            raise ValueError(f"campaign audience {audience.value!r}: a topic with 'topic' and only then")
        if topic is not None:
            _check_length("topic", topic, _TOPIC_LENGTH)
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.DRAFT.value)
                .values(audience=audience.value, topic=topic, updated_at=now)
                .returning(*campaigns.c)
            )
            row = result.mappings().first()
        return None if row is None else _campaign(row)

    async def schedule_campaign(
        self, campaign_id: int, send_at: datetime | None, *, now: datetime | None = None
    ) -> bool:
        """Remember when to send a draft (None: as soon as it is launched). False if it is unknown or no
        longer a draft. Launching it (`launch_campaign`) plans its deliveries for that time."""
        at = None if send_at is None else _utc_value("send_at", send_at)
        values = {"send_at": at, "updated_at": _utc(now)}
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.DRAFT.value)
                .values(**values)
            )
        return result.rowcount > 0

    async def set_campaign_status(
        self,
        campaign_id: int,
        status: CampaignStatus | str,
        *,
        now: datetime | None = None,
        expect: AbstractSet[str] | None = None,
    ) -> bool:
        """Change the status, only if the current one is in `expect` (any, if None); whether it changed.

        Compare-and-set in one UPDATE: of concurrent changes expecting the same status, exactly one succeeds
        (two coordinators pressing at once cannot both act). DONE and CANCELLED set `finished_at`. Nothing
        else is done: cancelling does not touch the deliveries (see `skip_pending`).
        """
        status = CampaignStatus(status)
        now = _utc(now)
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
            values["finished_at"] = now
        stmt = update(campaigns).where(campaigns.c.id == campaign_id)
        if expect is not None:
            stmt = stmt.where(campaigns.c.status.in_(_campaign_statuses(expect)))
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(stmt.values(**values))
        return result.rowcount > 0

    async def approve_campaign(
        self, campaign_id: int, approver_id: int, *, now: datetime | None = None
    ) -> bool:
        """Record that `approver_id` approves a campaign AWAITING_APPROVAL; whether they may.

        Never its author (a forgotten author's campaign may be approved by anyone), and only one approver per
        campaign: a second coordinator is refused, the same one may approve again (a retry). The status is
        left to `launch_campaign` (expect AWAITING_APPROVAL): a cancellation in between wins, and the launch
        then does nothing.
        """
        now = _utc(now)
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(
                    campaigns.c.id == campaign_id,
                    campaigns.c.status == CampaignStatus.AWAITING_APPROVAL.value,
                    or_(campaigns.c.author_id.is_(None), campaigns.c.author_id != approver_id),
                    or_(campaigns.c.approved_by.is_(None), campaigns.c.approved_by == approver_id),
                )
                .values(approved_by=approver_id, updated_at=now)
            )
        return result.rowcount > 0

    async def launch_campaign(
        self,
        campaign_id: int,
        recipients: Sequence[int],
        opted_out: int,
        *,
        expect: AbstractSet[str],
        audience: CampaignAudience | str,
        topic: str | None = None,
        now: datetime | None = None,
    ) -> Campaign | None:
        """Launch a campaign whose status is in `expect`: one transaction, so it is all or nothing.

        The status becomes SCHEDULED (`send_at` in the future) or SENDING; the counts are stored (`recipients`
        without duplicates, `opted_out`); one pending `ANNOUNCEMENT` delivery per recipient is recorded (key
        `CAMPAIGN_KEY`), not before `send_at` (or `now`): the sender only claims due deliveries, so scheduling
        needs no other job. Deliveries recorded already are left as they are: launching twice sends once.

        `audience` and `topic` are those the recipients were chosen for. The launched campaign, or None
        (nothing done) if it is unknown, its status is not in `expect` or its audience is another one (it
        changed meanwhile).
        """
        if opted_out < 0:
            raise ValueError(f"opted_out: 0 or more, got {opted_out}")
        same_topic = campaigns.c.topic.is_(None) if topic is None else campaigns.c.topic == topic
        now = _utc(now)
        unique = list(dict.fromkeys(recipients))
        async with transaction(self._engine, write=True) as conn:
            locked = select(campaigns.c.send_at).where(
                campaigns.c.id == campaign_id,
                campaigns.c.status.in_(_campaign_statuses(expect)),
                campaigns.c.audience == CampaignAudience(audience).value,
                same_topic,
            )
            found = (await conn.execute(locked.with_for_update())).first()
            if found is None:
                return None
            send_at: datetime | None = found[0]
            due = send_at is None or send_at <= now
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(
                    status=(CampaignStatus.SENDING if due else CampaignStatus.SCHEDULED).value,
                    recipients=len(unique),
                    opted_out=opted_out,
                    updated_at=now,
                )
                .returning(*campaigns.c)
            )
            row = result.mappings().one()
            not_before = now if send_at is None else send_at
            await _enqueue(
                conn, ANNOUNCEMENT, campaign_id, unique, CAMPAIGN_KEY, not_before, now, Status.PENDING, None
            )
        return _campaign(row)

    async def set_campaign_counts(self, campaign_id: int, recipients: int, opted_out: int) -> bool:
        """Store how many deliveries were planned and how many users were left out (opted out); False if the
        campaign is unknown. `launch_campaign` does it already."""
        if recipients < 0 or opted_out < 0:
            raise ValueError(f"campaign counts: 0 or more, got {recipients} and {opted_out}")
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(recipients=recipients, opted_out=opted_out)
            )
        return result.rowcount > 0

    async def set_campaign_progress_message(self, campaign_id: int, chat_id: int, message_id: int) -> bool:
        """The message that shows the campaign's progress (to edit it); False if the campaign is unknown."""
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(progress_chat_id=chat_id, progress_message_id=message_id)
            )
        return result.rowcount > 0

    async def finish_campaign_if_done(self, campaign_id: int, *, now: datetime | None = None) -> bool:
        """A launched campaign becomes DONE (with `finished_at`) once none of its deliveries is pending or
        being sent; whether it did. One UPDATE, so it happens once.

        Launched: SENDING, or SCHEDULED with `send_at` come (nobody has to mark it SENDING first).
        """
        now = _utc(now)
        unfinished = select(deliveries.c.id).where(
            deliveries.c.kind == ANNOUNCEMENT,
            deliveries.c.ref_id == campaign_id,
            deliveries.c.status.in_(_UNFINISHED),
        )
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(
                    campaigns.c.id == campaign_id,
                    or_(
                        campaigns.c.status == CampaignStatus.SENDING.value,
                        and_(
                            campaigns.c.status == CampaignStatus.SCHEDULED.value,
                            campaigns.c.send_at <= now,
                        ),
                    ),
                    ~unfinished.exists(),
                )
                .values(status=CampaignStatus.DONE.value, finished_at=now, updated_at=now)
            )
        return result.rowcount > 0

    # -- outbox (bot.delivery.outbox.OutboxStore) ---------------------------------------------------------

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
        _check_length("kind", kind, 24)
        _check_length("key", key, 64, minimum=0)
        not_before, now = _utc_value("not_before", not_before), _utc(now)
        status = Status(status)
        if status not in (Status.PENDING, Status.SKIPPED):
            raise ValueError(f"enqueue: pending or skipped, got {status.value!r}")
        async with transaction(self._engine, write=True) as conn:
            return await _enqueue(conn, kind, ref_id, chat_ids, key, not_before, now, status, reason)

    async def existing_keys(self, kind: str, ref_ids: Sequence[int]) -> set[tuple[int, int, str]]:
        """(ref_id, chat_id, key) of every delivery of `kind` to these refs, whatever its status: what was
        recorded already (beyond `OutboxStore`, for planning reminders)."""
        if not ref_ids:
            return set()
        stmt = select(deliveries.c.ref_id, deliveries.c.chat_id, deliveries.c.key).where(
            deliveries.c.kind == kind, deliveries.c.ref_id.in_(list(dict.fromkeys(ref_ids)))
        )
        async with transaction(self._engine, write=False) as conn:
            return {(ref_id, chat_id, key) for ref_id, chat_id, key in (await conn.execute(stmt)).all()}

    async def claim(self, limit: int, *, now: datetime) -> list[Delivery]:
        """Up to `limit` pending deliveries due at `now`, oldest `not_before` first (then by id), now SENDING.

        PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent senders take different rows; SQLite: the
        write transaction serialises them.
        """
        if limit < 1:
            return []
        now = _utc(now)
        due = (
            select(deliveries.c.id)
            .where(deliveries.c.status == Status.PENDING.value, deliveries.c.not_before <= now)
            .order_by(deliveries.c.not_before, deliveries.c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        async with transaction(self._engine, write=True) as conn:
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
        return sorted((_delivery(row) for row in rows), key=lambda d: (d.not_before, d.id))

    async def finish(
        self, delivery_id: int, status: Status, *, now: datetime, reason: str | None = None
    ) -> None:
        """SENT, BLOCKED, FAILED or SKIPPED (ValueError otherwise); `reason` (cut to 300 characters) is kept
        as `last_error`, the previous one if None."""
        status = Status(status)
        if status not in _FINAL:
            raise ValueError(f"finish: one of {sorted(s.value for s in _FINAL)}, got {status.value!r}")
        values: dict[str, Any] = {"status": status.value, "finished_at": _utc(now)}
        if reason is not None:
            values["last_error"] = _reason(reason)
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(update(deliveries).where(deliveries.c.id == delivery_id).values(**values))

    async def retry(self, delivery_id: int, *, at: datetime, reason: str, now: datetime) -> None:
        """Back to PENDING not before `at`, attempts + 1, `reason` kept as `last_error`."""
        _utc(now)
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(
                update(deliveries)
                .where(deliveries.c.id == delivery_id)
                .values(
                    status=Status.PENDING.value,
                    not_before=_utc_value("at", at),
                    attempts=deliveries.c.attempts + 1,
                    last_error=_reason(reason),
                    claimed_at=None,
                )
            )

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its deliveries not sent yet (pending, or sending, so that the sender's
        retry goes to the new chat) follow it. One the new chat has already is SKIPPED (`CHAT_MOVED`)."""
        if old_chat_id == new_chat_id:
            return
        unfinished = and_(deliveries.c.chat_id == old_chat_id, deliveries.c.status.in_(_UNFINISHED))
        at_new_chat = select(deliveries.c.kind, deliveries.c.ref_id, deliveries.c.key).where(
            deliveries.c.chat_id == new_chat_id
        )
        duplicate = tuple_(deliveries.c.kind, deliveries.c.ref_id, deliveries.c.key).in_(at_new_chat)
        async with transaction(self._engine, write=True) as conn:
            await conn.execute(
                update(deliveries)
                .where(unfinished, duplicate)
                .values(
                    status=Status.SKIPPED.value,
                    finished_at=_utc(None),
                    last_error=CHAT_MOVED,
                    claimed_at=None,
                )
            )
            await conn.execute(update(deliveries).where(unfinished).values(chat_id=new_chat_id))

    async def release_stale(self, *, older_than: datetime) -> int:
        """SENDING deliveries claimed before `older_than` (their sender died) go back to PENDING; how many.

        Their attempts are left as they are."""
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.status == Status.SENDING.value,
                    deliveries.c.claimed_at < _utc_value("older_than", older_than),
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
        async with transaction(self._engine, write=False) as conn:
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
        async with transaction(self._engine, write=False) as conn:
            return {str(text): int(n) for text, n in (await conn.execute(stmt)).all()}

    async def skip_pending(self, kind: str, ref_id: int, reason: str, *, now: datetime) -> int:
        """PENDING deliveries of (kind, ref_id) become SKIPPED with `reason`; how many. Claimed ones (SENDING)
        are left to their sender."""
        async with transaction(self._engine, write=True) as conn:
            result = await conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.kind == kind,
                    deliveries.c.ref_id == ref_id,
                    deliveries.c.status == Status.PENDING.value,
                )
                .values(status=Status.SKIPPED.value, finished_at=_utc(now), last_error=_reason(reason))
            )
        return result.rowcount

    async def get_delivery(self, delivery_id: int) -> Delivery | None:
        async with transaction(self._engine, write=False) as conn:
            result = await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))
            row = result.mappings().first()
        return None if row is None else _delivery(row)

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

        Other people's ids are left out (who used the user's invitations, who invited them, who approved their
        campaigns); so are the ids of the messages showing a campaign's progress.
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
            events_created = (
                await conn.execute(
                    select(events.c.id, events.c.title, events.c.starts_at, events.c.created_at)
                    .where(events.c.created_by == user_id)
                    .order_by(events.c.created_at, events.c.id)
                )
            ).mappings()
            events_created_list = [_plain(row) for row in events_created]
            reminders = (
                await conn.execute(
                    select(event_subscriptions.c.event_id, event_subscriptions.c.created_at)
                    .where(event_subscriptions.c.user_id == user_id)
                    .order_by(event_subscriptions.c.created_at, event_subscriptions.c.event_id)
                )
            ).mappings()
            reminders_list = [_plain(row) for row in reminders]
            answers = (
                await conn.execute(
                    select(rsvps.c.event_id, rsvps.c.answer, rsvps.c.updated_at)
                    .where(rsvps.c.user_id == user_id)
                    .order_by(rsvps.c.updated_at, rsvps.c.event_id)
                )
            ).mappings()
            answers_list = [_plain(row) for row in answers]
            own_preferences = select(preferences).where(preferences.c.user_id == user_id)
            prefs = (await conn.execute(own_preferences)).mappings().first()
            messages = (
                await conn.execute(
                    select(
                        deliveries.c.kind,
                        deliveries.c.ref_id,
                        deliveries.c.status,
                        deliveries.c.created_at,
                        deliveries.c.not_before,
                        deliveries.c.finished_at,
                    )
                    .where(deliveries.c.chat_id == user_id)
                    .order_by(deliveries.c.created_at, deliveries.c.id)
                )
            ).mappings()
            messages_list = [_plain(row) for row in messages]
            authored = (
                await conn.execute(
                    select(campaigns)
                    .where(campaigns.c.author_id == user_id)
                    .order_by(campaigns.c.created_at, campaigns.c.id)
                )
            ).mappings()
            authored_list = [_plain(row, exclude=_CAMPAIGN_PRIVATE) for row in authored]
            approved = await conn.scalars(
                select(campaigns.c.id).where(campaigns.c.approved_by == user_id).order_by(campaigns.c.id)
            )
            approved_list = [{"id": campaign_id} for campaign_id in approved]
        return {
            "user": None if profile is None else _plain(profile),
            "questions": asked_list,
            "feedback": votes_list,
            "invitations_created": created_list,
            "invitations_used": used_list,
            "diagnostic_session": None if session is None else _plain(session, exclude=_USER_ID),
            "diagnostic_results": results_list,
            "events_created": events_created_list,
            "event_reminders": reminders_list,
            "rsvps": answers_list,
            "preferences": None if prefs is None else _plain(prefs, exclude=_USER_ID),
            "deliveries": messages_list,
            "campaigns": authored_list,
            "campaigns_approved": approved_list,
        }

    async def forget_user(self, user_id: int) -> None:
        """Erase the user: profile, questions (with everyone's votes on them), votes, unused invitations.

        Their self-diagnosis in progress and results go too, and so do their event reminders, answers,
        preferences and the deliveries to their private chat. Invitations already used are kept, without the
        user's id, so a used code stays used; so are the events they created, without their id, and the
        campaigns they wrote: the text stays (it was sent to others), the author becomes NULL (as the foreign
        key would do). Their approvals of campaigns and the progress messages in their chat are forgotten.
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
            await conn.execute(delete(event_subscriptions).where(event_subscriptions.c.user_id == user_id))
            await conn.execute(delete(rsvps).where(rsvps.c.user_id == user_id))
            await conn.execute(delete(preferences).where(preferences.c.user_id == user_id))
            await conn.execute(delete(deliveries).where(deliveries.c.chat_id == user_id))
            await conn.execute(update(events).where(events.c.created_by == user_id).values(created_by=None))
            await conn.execute(
                update(campaigns).where(campaigns.c.author_id == user_id).values(author_id=None)
            )
            await conn.execute(
                update(campaigns).where(campaigns.c.approved_by == user_id).values(approved_by=None)
            )
            await conn.execute(
                update(campaigns)
                .where(campaigns.c.progress_chat_id == user_id)
                .values(progress_chat_id=None, progress_message_id=None)
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


async def _enqueue(
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
    last_error = None if reason is None else _reason(reason)
    unique = list(dict.fromkeys(chat_ids))
    added = 0
    stmt = _insert(conn, deliveries).on_conflict_do_nothing().returning(deliveries.c.id)
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


def _event_values(fields: EventFields) -> dict[str, Any]:
    """The columns of `fields`, checked (same rules on both backends) and normalised (UTC, Audience)."""
    _check_length("title", fields.title, 200)
    for name, maximum in (("place", 300), ("link", 500)):
        value = getattr(fields, name)
        if value is not None:
            _check_length(name, value, maximum)
    starts_at = _utc_value("starts_at", fields.starts_at)
    ends_at = None if fields.ends_at is None else _utc_value("ends_at", fields.ends_at)
    if ends_at is not None and ends_at < starts_at:
        raise ValueError(f"ends_at {ends_at} is before starts_at {starts_at}")
    return {
        "title": fields.title,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "place": fields.place,
        "link": fields.link,
        "description": fields.description,
        "audience": Audience(fields.audience).value,
    }


async def _locked_event(conn: AsyncConnection, condition: ColumnElement[bool]) -> RowMapping | None:
    """The event's row, locked until the end of the transaction on PostgreSQL (SQLite: the write lock)."""
    stmt = select(events).where(condition).with_for_update()
    return (await conn.execute(stmt)).mappings().first()


async def _apply_event_values(
    conn: AsyncConnection, row: RowMapping, values: Mapping[str, Any], now: datetime
) -> tuple[Event, frozenset[str]]:
    """Write the values that differ from `row` (revision + 1 if starts_at is one); the event, what changed."""
    changed = frozenset(name for name in _EVENT_FIELDS if values[name] != row[name])
    if not changed:
        return _event(row), changed
    new: dict[str, Any] = {name: values[name] for name in changed} | {"updated_at": now}
    if "starts_at" in changed:
        new["revision"] = events.c.revision + 1
    result = await conn.execute(
        update(events).where(events.c.id == row["id"]).values(**new).returning(*events.c)
    )
    return _event(result.mappings().one()), changed


def _upcoming(now: datetime, include_members_only: bool) -> ColumnElement[bool]:
    conditions = [
        events.c.status == EventStatus.SCHEDULED.value,
        func.coalesce(events.c.ends_at, events.c.starts_at) >= now,
    ]
    if not include_members_only:
        conditions.append(events.c.audience == Audience.ALL.value)
    return and_(*conditions)


async def _check_event(conn: AsyncConnection, event_id: int) -> None:
    if await conn.scalar(select(events.c.id).where(events.c.id == event_id)) is None:
        raise LookupError(f"unknown event {event_id}")


def _event_audience(event: Event) -> ColumnElement[bool]:
    """The users who may attend the event: everyone, or members and coordinators."""
    if Audience(event.audience) == Audience.MEMBERS:
        return users.c.role.in_(_MEMBER_ROLES)
    return true()


def _event(row: RowMapping) -> Event:
    return Event(
        id=row["id"],
        uid=row["uid"],
        title=row["title"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        place=row["place"],
        link=row["link"],
        description=row["description"],
        audience=Audience(row["audience"]),
        status=EventStatus(row["status"]),
        revision=row["revision"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _topics(value: object) -> list[str]:
    """`value` as a list of topics (1 to 64 characters each), duplicates dropped; ValueError otherwise."""
    if not isinstance(value, list) or not all(isinstance(topic, str) for topic in value):
        raise ValueError(f"topics: expected a list of strings, got {value!r}")
    for topic in value:
        _check_length("topic", topic, _TOPIC_LENGTH)
    return list(dict.fromkeys(value))


def _campaign_media(
    text: str, media_kind: MediaKind | str | None, media_file_id: str | None, media_name: str | None
) -> dict[str, Any]:
    """The media columns of a new campaign, checked."""
    if (media_kind is None) != (media_file_id is None):
        raise ValueError("campaign media: media_kind and media_file_id go together")
    if media_file_id is not None:
        _check_length("media_file_id", media_file_id, _MEDIA_LENGTH)
    if media_name is not None:
        if media_kind is None:
            raise ValueError("campaign media: media_name without a media")
        _check_length("media_name", media_name, _MEDIA_LENGTH)
    if not text.strip() and media_kind is None:
        raise ValueError("campaign text: blank, and no media")
    return {
        "media_kind": None if media_kind is None else MediaKind(media_kind).value,
        "media_file_id": media_file_id,
        "media_name": media_name,
    }


def _campaign_statuses(expect: AbstractSet[str]) -> list[str]:
    """The stored values of `expect` (ValueError for a status that does not exist)."""
    return sorted(CampaignStatus(status).value for status in expect)


def _campaign(row: RowMapping) -> Campaign:
    return Campaign(
        id=row["id"],
        author_id=row["author_id"],
        text=row["text"],
        media_kind=None if row["media_kind"] is None else MediaKind(row["media_kind"]),
        media_file_id=row["media_file_id"],
        media_name=row["media_name"],
        audience=CampaignAudience(row["audience"]),
        topic=row["topic"],
        status=CampaignStatus(row["status"]),
        send_at=row["send_at"],
        approved_by=row["approved_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        recipients=row["recipients"],
        opted_out=row["opted_out"],
        progress_chat_id=row["progress_chat_id"],
        progress_message_id=row["progress_message_id"],
        finished_at=row["finished_at"],
    )


def _reason(reason: str) -> str:
    return reason[:_ERROR_LENGTH]


def _delivery(row: RowMapping) -> Delivery:
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
    return _utc_value("now", now)


def _utc_value(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {value!r}: pass a timezone-aware datetime (UTC)")
    return value.astimezone(UTC)


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
