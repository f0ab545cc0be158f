"""Persistent state of the bot (users, invitations, questions, feedback), SQLite or PostgreSQL.

`open_database(url, base_dir)` applies the Alembic migrations and returns a `Database` whose `storage` has the
queries. Nothing here knows about Telegram.
"""

from __future__ import annotations

from bot.storage.database import Database, create_engine, normalize_url, open_database, upgrade
from bot.storage.repository import (
    FeedbackSummary,
    QuestionSummary,
    RedeemResult,
    Stats,
    Storage,
    User,
)
from bot.storage.schema import Role

__all__ = [
    "Database",
    "FeedbackSummary",
    "QuestionSummary",
    "RedeemResult",
    "Role",
    "Stats",
    "Storage",
    "User",
    "create_engine",
    "normalize_url",
    "open_database",
    "upgrade",
]
