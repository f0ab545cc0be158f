"""Persistent state of the bot (SQLite, PostgreSQL): one repository per concern, a unit of work over them.

`open_database(url, base_dir)` applies the Alembic migrations and returns a `Database` whose `storage` has
the repositories (see `bot.storage.repository`). The record types are the domain's (`bot.users.records`,
`bot.events.records`, …): the storage imports them, never the reverse. Nothing here knows about Telegram.
"""

from __future__ import annotations

from bot.storage.database import Database, create_engine, normalize_url, open_database, upgrade
from bot.storage.repository import Repositories, Storage

__all__ = [
    "Database",
    "Repositories",
    "Storage",
    "create_engine",
    "normalize_url",
    "open_database",
    "upgrade",
]
