"""Database URLs and engines: one async code path for SQLite (aiosqlite) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_DRIVER = "sqlite+aiosqlite"
POSTGRES_DRIVER = "postgresql+asyncpg"
SQLITE_BUSY_TIMEOUT_MS = 10_000
_WRITE_OPTION = "catabot_write"
_BARE_SCHEMES = {"sqlite": SQLITE_DRIVER, "postgres": POSTGRES_DRIVER, "postgresql": POSTGRES_DRIVER}


def normalize_url(url: str, base_dir: Path) -> str:
    """The SQLAlchemy async URL for a configured one.

    `postgres://` and `postgresql://` use asyncpg, `sqlite://` uses aiosqlite; a relative SQLite path is
    taken under `base_dir` (the config file's folder), made absolute, and its folder is created.
    Other URLs are kept as they are.
    """
    if "://" not in url:
        raise ValueError(f"{url!r} is not a database URL (expected e.g. sqlite+aiosqlite:///data/catabot.db)")
    original = make_url(url)
    parsed = _with_async_driver(original)
    sqlite_uri = parsed.query.get("uri") == "true"  # file:…?mode=ro&uri=true is SQLite's own URI form
    if (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not sqlite_uri
    ):
        path = Path(parsed.database).expanduser()
        if not path.is_absolute():
            path = base_dir / path
        path = path.resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(path))
    if parsed == original:
        return url
    return parsed.render_as_string(hide_password=False)  # special characters %-escaped


def sqlite_file(url: str) -> Path | None:
    """The file of a normalised SQLite URL (None for PostgreSQL, `:memory:` or SQLite's own `file:` URIs)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if parsed.query.get("uri") == "true" else Path(parsed.database)


def create_engine(url: str) -> AsyncEngine:
    """An async engine for a normalised URL.

    SQLite: foreign keys on, WAL journal, a busy timeout, and real transactions (SQLAlchemy emits BEGIN, and
    BEGIN IMMEDIATE for writes, so concurrent writers queue instead of failing). PostgreSQL: libpq's
    `?options=-csearch_path%3Dmyschema` is understood (asyncpg itself ignores it).
    """
    parsed = _with_async_driver(make_url(url))
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql":
        kwargs["pool_pre_ping"] = True
        options = parsed.query.get("options")
        if options:
            settings: dict[str, str] = {}
            for value in (options,) if isinstance(options, str) else options:
                settings.update(_parse_pg_options(value))
            parsed = parsed.difference_update_query(["options"])
            kwargs["connect_args"] = {"server_settings": settings}
    engine = create_async_engine(parsed, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    return engine


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, write: bool, foreign_keys: bool = True
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction, committed on success, rolled back on error.

    `write=True` takes SQLite's write lock at BEGIN, so a transaction that reads then writes never fails with
    "database is locked" halfway: concurrent writers wait (up to the busy timeout) instead.
    `foreign_keys=False` turns SQLite's foreign key enforcement off for this transaction (migrations: a batch
    migration copies a table and drops the old one, and with enforcement on that drop would cascade and delete
    the rows referencing it, as Alembic's batch-mode documentation warns); the keys are checked before commit.
    """
    async with _sqlite_writer(engine, write), engine.connect() as conn:
        relax = not foreign_keys and conn.dialect.name == "sqlite"
        if relax:  # the pragma is a no-op inside a transaction: set it before BEGIN
            await conn.run_sync(_sqlite_foreign_keys, False)
        try:
            if write:
                conn = await conn.execution_options(**{_WRITE_OPTION: True})
            async with conn.begin():
                yield conn
                if relax:
                    await conn.run_sync(_check_foreign_keys)
        finally:
            if relax:
                await conn.run_sync(_sqlite_foreign_keys, True)


# SQLite has one writer at a time. Writers of this process queue here, on the event loop, rather than in
# SQLite's busy handler: a writer waiting there holds a pooled connection and sleeps in growing steps (up to
# 100 ms), and under a burst of writes (a flood of /start) the readers behind them found no free connection.
_WRITERS: weakref.WeakKeyDictionary[AsyncEngine, dict[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _sqlite_writer(engine: AsyncEngine, write: bool) -> contextlib.AbstractAsyncContextManager[None]:
    if not write or engine.dialect.name != "sqlite":
        return contextlib.nullcontext()
    locks = _WRITERS.setdefault(engine, {})
    loop = asyncio.get_running_loop()
    if loop not in locks:
        for old in [other for other in locks if other.is_closed()]:
            del locks[old]
        locks[loop] = asyncio.Lock()
    return _held(locks[loop])


@asynccontextmanager
async def _held(lock: asyncio.Lock) -> AsyncIterator[None]:
    """The lock, waited for as long as SQLite's busy timeout at most (then "database is locked", as SQLite
    itself would say: e.g. a write transaction opened inside another one of this process)."""
    try:
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
            await lock.acquire()
    except TimeoutError:
        raise OperationalError("BEGIN IMMEDIATE", None, Exception("database is locked")) from None
    try:
        yield
    finally:
        lock.release()


def _sqlite_foreign_keys(connection: Connection, on: bool) -> None:
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    finally:
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"rows reference missing rows (table, rowid, parent, key): {broken[:5]}")


def _with_async_driver(url: URL) -> URL:
    driver = _BARE_SCHEMES.get(url.drivername)
    return url.set(drivername=driver) if driver else url


def _parse_pg_options(options: str) -> dict[str, str]:
    """`-c search_path=x -cstatement_timeout=5s --lock_timeout=1s` → server settings."""
    settings: dict[str, str] = {}
    tokens = shlex.split(options)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "-c" and i + 1 < len(tokens):
            setting, i = tokens[i + 1], i + 2
        elif token.startswith(("-c", "--")):
            setting, i = token[2:], i + 1
        else:
            raise ValueError(f"PostgreSQL options: expected -c name=value, got {token!r}")
        name, equals, value = setting.partition("=")
        if not equals or not name:
            raise ValueError(f"PostgreSQL options: expected name=value, got {setting!r}")
        settings[name.replace("-", "_")] = value
    return settings


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # the driver must not emit BEGIN: _on_begin does
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
