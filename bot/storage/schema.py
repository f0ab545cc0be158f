"""The database schema: one SQLAlchemy Core `metadata` shared by the repository and the Alembic migrations.

Any change here needs a new migration in `migrations/versions/` (`test_storage` checks that they agree).
Migrations spell types plainly: `UTCDateTime` is `sa.DateTime(timezone=True)`, `JSONText` is `sa.Text()`,
`BigId` is `sa.BigInteger().with_variant(sa.Integer(), "sqlite")`.
Constraint names come from `NAMING_CONVENTION`, so the migrations name them the same way on every backend.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    true,
)

from bot.announcements.records import CampaignAudience, CampaignStatus, MediaKind
from bot.delivery.outbox import Status
from bot.events.records import Audience, EventStatus, RsvpAnswer
from bot.text import stored_text
from bot.users.records import STORED_ROLES, Role

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# A 64-bit autoincrement primary key: BIGSERIAL on PostgreSQL; on SQLite only INTEGER PRIMARY KEY
# autoincrements (it is 64-bit there anyway).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores `timestamptz`; SQLite has no time zone, so the value is stored as naive UTC (which keeps
    comparisons and ordering right) and read back as aware UTC. Naive datetimes are refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware datetime (UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JSONText(TypeDecorator[Any]):
    """JSON in a TEXT column: the same on every backend, and the key order of a dict is kept.

    Values are written compactly, non-ASCII characters as they are; anything `json.dumps` refuses is refused.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return json.loads(value)


class CleanText(TypeDecorator[str]):
    """Text written by people, stored as `bot.text.stored_text` gives it (NFC, no NUL or control
    characters): PostgreSQL refuses NUL in text, and both backends store the same characters."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else stored_text(value)


class CleanString(CleanText):
    """`CleanText` in a VARCHAR(n) column."""

    impl = String  # type: ignore[assignment]
    cache_ok = True


def _role_check() -> str:
    return _in_check("role", STORED_ROLES)


TOPIC_CHECK = "(audience IN ('topic', 'event')) = (topic IS NOT NULL)"  # campaigns: topic or event id


def _in_check(column: str, values: Iterable[StrEnum]) -> str:
    return f"{column} IN (" + ", ".join(f"'{value.value}'" for value in values) + ")"


users = Table(
    "users",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),  # the Telegram user id
    Column("language", String(5), nullable=False, server_default="fr"),
    Column("role", String(16), nullable=False, server_default=Role.NEWCOMER.value),
    Column("active", Boolean, nullable=False, server_default=true()),  # false once the user blocked the bot
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    # The pseudonym coordinators see instead of the Telegram id (bot.qa.coordination), set when first kept.
    Column("handle", String(12), nullable=True),
    CheckConstraint(_role_check(), name="role"),
    UniqueConstraint("handle"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("created_by", BigInteger, nullable=True),  # NULL once its author asked to be forgotten
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_by", BigInteger, nullable=True),  # NULL while unused, or once its user was forgotten
    Column("used_at", UTCDateTime, nullable=True),  # set once used: the code cannot be used again
)

questions = Table(
    "questions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("chat_type", String(16), nullable=False),
    Column("text", CleanText, nullable=False),
    Column("normalized_text", CleanText, nullable=False),  # grouping key, see repository.normalize_question
    Column("language", String(5), nullable=False),
    Column("answered", Boolean, nullable=False),
    Column("resource_id", String(255), nullable=True),  # the best result, if any
    Column("confidence", Float, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The coordinators' side (bot.qa.coordination): NULL (not kept), pending, answered or dismissed.
    Column("status", String(16), nullable=True),
    Column("handled_at", UTCDateTime, nullable=True),  # when it was answered or dismissed
    Column("handled_by", BigInteger, nullable=True),  # the coordinator; NULL once they were forgotten
    Column("handled_by_name", String(64), nullable=True),  # their first name, shown to other coordinators
    Column("answer", Text, nullable=True),  # the coordinator's answer as sent
    Column("covered_by", String(255), nullable=True),  # « déjà couvert par » this resource
    Column("helped", SmallInteger, nullable=True),  # the asker's verdict on it: 1 or -1
    Column("delivered_at", UTCDateTime, nullable=True),  # when the answer reached the asker (NULL: waiting)
    Index(None, "created_at"),
    Index(None, "answered"),
    Index(None, "user_id"),
    Index(None, "status"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("question_id", Integer, ForeignKey("questions.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", BigInteger, nullable=False),
    Column("value", SmallInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("reason", String(500), nullable=True),  # what was wrong, after a 👎 (a key or a sentence)
    UniqueConstraint("question_id", "user_id"),
    CheckConstraint("value IN (-1, 1)", name="value"),
)

# A self-diagnosis in progress (at most one per user), so it survives a restart of the bot.
diagnostic_sessions = Table(
    "diagnostic_sessions",
    metadata,
    Column(
        "user_id",
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("answers", JSONText, nullable=False),  # {step id: option id}, in the order answered
    Column("paused", Boolean, nullable=False, server_default=false()),
    Column("started_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Finished self-diagnoses, kept with their date (a user can compare with their previous one).
diagnostic_results = Table(
    "diagnostic_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("territory", String(32), nullable=True),  # the "type of territory" answer, for anonymous stats
    Column("structure", String(32), nullable=True),
    Column("questionnaire_version", String(16), nullable=False),
    Column("scores", JSONText, nullable=False),  # {métier id: score 0-100}
    Column("statuses", JSONText, nullable=False),  # {métier id: status, e.g. "missing", "fragile"}
    Column("answers", JSONText, nullable=False),  # {step id: option id}
    Index(None, "user_id"),
    Index(None, "created_at"),
)

# Events of the network (meetings, webinars, …), created by coordinators or imported (then with a `uid`).
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("uid", String(200), nullable=True),  # external id of an imported event, for idempotent imports
    Column("title", CleanString(200), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("place", CleanString(300), nullable=True),
    Column("link", CleanString(500), nullable=True),
    Column("description", CleanText, nullable=True),
    Column("audience", String(16), nullable=False, server_default=Audience.ALL.value),
    Column("status", String(16), nullable=False, server_default=EventStatus.SCHEDULED.value),
    Column("revision", Integer, nullable=False, server_default="1"),  # +1 whenever starts_at changes
    Column("created_by", BigInteger, nullable=True),  # NULL for imports, or once its author was forgotten
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("all_day", Boolean, nullable=False, server_default=false()),  # hours are 09:00–18:00 by convention
    UniqueConstraint("uid"),
    CheckConstraint(_in_check("audience", Audience), name="audience"),
    CheckConstraint(_in_check("status", EventStatus), name="status"),
    Index(None, "status", "starts_at"),
)

# "Me rappeler": the user wants a reminder before this event.
event_subscriptions = Table(
    "event_subscriptions",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Index(None, "event_id"),
)

# Whether the user comes to an event: one answer per user and event.
rsvps = Table(
    "rsvps",
    metadata,
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("event_id", Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("answer", String(8), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint(_in_check("answer", RsvpAnswer), name="answer"),
    Index(None, "event_id"),
)

# What the user wants to receive; no row means the defaults below.
preferences = Table(
    "preferences",
    metadata,
    Column(
        "user_id",
        BigInteger,
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("remind_all", Boolean, nullable=False, server_default=false()),  # reminders of every event
    Column("new_event_notices", Boolean, nullable=False, server_default=false()),
    Column("announcements", Boolean, nullable=False, server_default=true()),  # false: opted out
    Column("topics", JSONText, nullable=False, server_default="[]"),  # [topic, …] for topic announcements
)

# The outbox (see bot.delivery.outbox): one message to one chat, recorded before it is sent. Chat ids are
# not user ids (groups are negative), hence no foreign key.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("ref_id", BigInteger, nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("key", String(64), nullable=False),
    Column("status", String(12), nullable=False),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("not_before", UTCDateTime, nullable=False),
    Column("claimed_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("last_error", String(300), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("kind", "ref_id", "chat_id", "key"),
    CheckConstraint(_in_check("status", Status), name="status"),
    Index(None, "status", "not_before"),
    Index(None, "kind", "ref_id", "status"),
    Index(None, "chat_id"),
)

# A coordinator's announcement to many users ("campaign"); each message it sends is a delivery of kind
# "announcement" with `ref_id` = the campaign id. The text is kept when its author is forgotten, not the id.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("author_id", BigInteger, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("text", CleanText, nullable=False),  # Telegram HTML, already safe
    Column("media_kind", String(12), nullable=True),  # a photo or document sent with the text
    Column("media_file_id", String(200), nullable=True),  # Telegram file_id, to send the media again
    Column("media_name", String(200), nullable=True),
    Column("audience", String(16), nullable=False, server_default=CampaignAudience.ME.value),
    Column("topic", String(64), nullable=True),  # with the "topic" audience only
    Column("status", String(20), nullable=False, server_default=CampaignStatus.DRAFT.value),
    Column("send_at", UTCDateTime, nullable=True),  # NULL: as soon as launched
    Column("approved_by", BigInteger, nullable=True),  # NULL until approved, or the approver forgotten
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("recipients", Integer, nullable=False, server_default="0"),  # deliveries planned at launch
    Column("opted_out", Integer, nullable=False, server_default="0"),  # left out at launch: opted out
    Column("progress_chat_id", BigInteger, nullable=True),  # the message showing the progress, if any
    Column("progress_message_id", BigInteger, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),  # when it became done or cancelled
    CheckConstraint(_in_check("audience", CampaignAudience), name="audience"),
    CheckConstraint(_in_check("status", CampaignStatus), name="status"),
    CheckConstraint(_in_check("media_kind", MediaKind), name="media_kind"),
    CheckConstraint(TOPIC_CHECK, name="topic"),
    CheckConstraint("(media_kind IS NULL) = (media_file_id IS NULL)", name="media"),
    CheckConstraint("recipients >= 0 AND opted_out >= 0", name="counts"),
    Index(None, "status", "send_at"),
)

# A multi-step chat flow in progress (creating or moving an event, composing an announcement…), so that a
# restart, or another instance of the bot, continues where the user was. Gone after `expires_at`.
conversations = Table(
    "conversations",
    metadata,
    Column("chat_id", BigInteger, primary_key=True, autoincrement=False),
    Column("user_id", BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("flow", String(32), primary_key=True),  # e.g. "new_event", "announce"
    Column("state", JSONText, nullable=False),  # the flow's own JSON object
    Column("updated_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index(None, "expires_at"),
)

# Which instance of the bot runs a periodic job (reminder planning, progress messages) until when: with
# several instances on one database, each tick runs once.
job_leases = Table(
    "job_leases",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("until", UTCDateTime, nullable=False),
)
