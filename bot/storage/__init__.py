"""Persistent state of the bot: users, invitations, questions, feedback, self-diagnoses, events, the delivery
outbox, coordinator announcements ("campaigns") (SQLite, PostgreSQL).

`open_database(url, base_dir)` applies the Alembic migrations and returns a `Database` whose `storage` has the
queries. Nothing here knows about Telegram.
"""

from __future__ import annotations

from bot.storage.database import Database, create_engine, normalize_url, open_database, upgrade
from bot.storage.repository import (
    ANNOUNCEMENT,
    CAMPAIGN_KEY,
    AnnouncementAudience,
    Campaign,
    DiagnosticResult,
    DiagnosticSession,
    DiagnosticStats,
    Event,
    EventFields,
    FeedbackSummary,
    Preferences,
    QuestionSummary,
    RedeemResult,
    Stats,
    Storage,
    TerritoryStats,
    UpsertOutcome,
    User,
)
from bot.storage.schema import (
    Audience,
    CampaignAudience,
    CampaignStatus,
    EventStatus,
    MediaKind,
    Role,
    RsvpAnswer,
)

__all__ = [
    "ANNOUNCEMENT",
    "CAMPAIGN_KEY",
    "AnnouncementAudience",
    "Audience",
    "Campaign",
    "CampaignAudience",
    "CampaignStatus",
    "Database",
    "DiagnosticResult",
    "DiagnosticSession",
    "DiagnosticStats",
    "Event",
    "EventFields",
    "EventStatus",
    "FeedbackSummary",
    "MediaKind",
    "Preferences",
    "QuestionSummary",
    "RedeemResult",
    "Role",
    "RsvpAnswer",
    "Stats",
    "Storage",
    "TerritoryStats",
    "UpsertOutcome",
    "User",
    "create_engine",
    "normalize_url",
    "open_database",
    "upgrade",
]
