"""Persistent state of the bot: users, invitations, questions, feedback, self-diagnoses (SQLite, PostgreSQL).

`open_database(url, base_dir)` applies the Alembic migrations and returns a `Database` whose `storage` has the
queries. Nothing here knows about Telegram.
"""

from __future__ import annotations

from bot.storage.database import Database, create_engine, normalize_url, open_database, upgrade
from bot.storage.repository import (
    DiagnosticResult,
    DiagnosticSession,
    DiagnosticStats,
    FeedbackSummary,
    QuestionSummary,
    RedeemResult,
    Stats,
    Storage,
    TerritoryStats,
    User,
)
from bot.storage.schema import Role

__all__ = [
    "Database",
    "DiagnosticResult",
    "DiagnosticSession",
    "DiagnosticStats",
    "FeedbackSummary",
    "QuestionSummary",
    "RedeemResult",
    "Role",
    "Stats",
    "Storage",
    "TerritoryStats",
    "User",
    "create_engine",
    "normalize_url",
    "open_database",
    "upgrade",
]
