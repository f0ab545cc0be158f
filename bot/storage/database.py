"""Opening the database: URL, engine, Alembic migrations (`upgrade`), and the `Database` handle."""

from __future__ import annotations

import logging
from pathlib import Path
from types import TracebackType

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.engine import create_engine, normalize_url, sqlite_file, transaction
from bot.storage.repository import Storage

log = logging.getLogger(__name__)

__all__ = [
    "MIGRATIONS_DIR",
    "Database",
    "alembic_config",
    "create_engine",
    "current_revision",
    "normalize_url",
    "open_database",
    "upgrade",
    "upgrade_engine",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_MIGRATION_LOCK = 0x6361_7461  # PostgreSQL advisory lock key ("cata"): one migrating process at a time


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration, built in code: no alembic.ini needed, works from an installed package.

    With a URL, the Alembic commands work on their own (e.g. to write a new migration:
    `command.revision(alembic_config(url), message="...", autogenerate=True, rev_id="0002")`).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


async def upgrade(url: str) -> None:
    """`alembic upgrade head` on the database at `url` (already normalised, see `normalize_url`).

    A coroutine, so the bot can migrate from inside its running event loop.
    """
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply the migrations up to `revision` in one transaction; a no-op when the schema is up to date."""
    async with transaction(engine, write=True, foreign_keys=False) as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        await conn.run_sync(_upgrade, revision)


async def current_revision(engine: AsyncEngine) -> str | None:
    """The schema's Alembic revision (`None` for an empty database)."""
    async with transaction(engine, write=False) as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


class Database:
    """The open database: its engine and the `Storage` queries over it. Close it when the bot stops."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.storage = Storage(engine)

    async def close(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def open_database(url: str, base_dir: Path) -> Database:
    """Connect to the configured database, bring its schema up to date, and return it.

    A SQLite file that does not exist yet is created (with its folder), and a WARNING says so with its path:
    on a first start that is expected; otherwise `database.url` probably has a typo and the data is elsewhere.
    """
    url = normalize_url(url, base_dir)
    new_file = sqlite_file(url)
    if new_file is not None and not new_file.exists():
        log.warning(
            "no database at %s: creating a new, empty one (check database.url if you expected data)", new_file
        )
    engine = create_engine(url)
    try:
        await upgrade_engine(engine)
    except BaseException:
        await engine.dispose()
        raise
    return Database(engine)
