"""Throw-away databases for tests, on SQLite and (when `CATABOT_TEST_POSTGRES_URL` is set) PostgreSQL.

A pytest plugin (loaded by conftest.py): the fixtures `db_url` (one per backend), `db` (migrated, opened)
and `storage` serve every storage test; a module may override `db` to fill it first.

Each PostgreSQL database is a fresh schema (selected with `?options=-csearch_path%3D…`) dropped afterwards,
so tests can run in any order, repeatedly, and alongside other test sessions on the same server.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Table, inspect, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.database import Database, alembic_config, current_revision, open_database, upgrade_engine
from bot.storage.engine import create_engine, normalize_url, transaction
from bot.storage.repository import Storage
from bot.storage.schema import metadata
from bot.testing.databases import scratch_schema

POSTGRES_ENV = "CATABOT_TEST_POSTGRES_URL"
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)  # the storage tests' clock starts here
BACKENDS = ["sqlite", "postgresql"]


@asynccontextmanager
async def database_url(backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database for one test; skips the test for PostgreSQL without a server URL."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'catabot.db'}"
        return
    assert backend == "postgresql", backend
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set")
    server_url = normalize_url(base, tmp_path)
    async with scratch_schema(server_url, "catabot_test") as url:
        yield url


@pytest.fixture(params=BACKENDS)
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def db(db_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(db_url, tmp_path)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def storage(db: Database) -> Storage:
    return db.storage


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


async def migrate(engine: AsyncEngine, action: str, revision: str) -> None:
    """Run Alembic's upgrade or downgrade to `revision` on this engine's database."""

    def run(conn: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = conn
        if action == "downgrade":
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)

    async with transaction(engine, write=True, foreign_keys=False) as conn:
        await conn.run_sync(run)


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set(await conn.run_sync(lambda sync: inspect(sync).get_table_names()))


Rows = dict[str, list[dict[str, Any]]]


async def table_rows(engine: AsyncEngine, tables: Sequence[Table]) -> Rows:
    """The rows of `tables`, with the columns the database has at its current revision (a later revision may
    add columns that an older database does not have yet)."""
    async with engine.connect() as conn:
        present = await conn.run_sync(
            lambda c: {t.name: {col["name"] for col in inspect(c).get_columns(t.name)} for t in tables}
        )
    async with transaction(engine, write=False) as conn:
        return {
            table.name: [
                dict(row)
                for row in (
                    await conn.execute(select(*[c for c in table.c if c.name in present[table.name]]))
                ).mappings()
            ]
            for table in tables
        }


def shared_columns(a: Rows, b: Rows) -> tuple[Rows, Rows]:
    """`a` and `b` restricted to the columns both have, so data kept across a migration compares equal."""

    def keep(rows: Rows, other: Rows) -> Rows:
        return {
            name: [
                {k: v for k, v in row.items() if not other.get(name) or k in other[name][0]} for row in table
            ]
            for name, table in rows.items()
        }

    return keep(a, b), keep(b, a)


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    """What differs between the database's schema and the declared one (`bot.storage.schema`)."""

    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(differences)


async def previous_version(
    db_url: str,
    revision: str,
    populate: Callable[[Storage], Awaitable[object]],
    tables: Sequence[Table],
    new_tables: AbstractSet[str],
) -> Rows:
    """The database of the bot's previous version (schema `revision`, without `new_tables`), filled by
    `populate`: the rows of `tables` (none empty)."""
    engine = create_engine(db_url)
    try:
        await upgrade_engine(engine, revision)  # the database of the previous version of the bot
        assert await current_revision(engine) == revision
        assert not new_tables & await table_names(engine)
        await populate(Storage(engine))
        before = await table_rows(engine, tables)
        assert all(before.values())
    finally:
        await engine.dispose()
    return before


async def assert_upgraded_keeping(
    db: Database, before: Rows, tables: Sequence[Table], new_tables: AbstractSet[str], head: str
) -> None:
    """The new version has migrated the database to `head`: the rows of `before` are all kept, the
    `new_tables` are there and the schema is exactly the declared one."""
    assert await current_revision(db.engine) == head
    after, kept = shared_columns(await table_rows(db.engine, tables), before)
    assert after == kept
    assert await table_names(db.engine) >= new_tables
    assert await schema_differences(db.engine) == []
