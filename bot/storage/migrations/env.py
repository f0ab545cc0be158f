"""Alembic environment, configured in code by `bot.storage.database.alembic_config` (no alembic.ini).

`upgrade()` passes an open connection in `config.attributes["connection"]` (from `AsyncConnection.run_sync`,
so it works inside the bot's event loop). With only `sqlalchemy.url` set (Alembic commands run from a plain
script, e.g. `revision --autogenerate`), an async engine is created and run with `asyncio.run`.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from bot.storage.engine import create_engine
from bot.storage.schema import JSONText, UTCDateTime, metadata

config = context.config


def render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Autogenerate writes plain SQLAlchemy types, so migrations never import the current schema module."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if kind == "type" and isinstance(obj, JSONText):
        return "sa.Text()"
    return False


def do_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_url(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(do_migrations)
    finally:
        await engine.dispose()


def _run_offline(url: str) -> None:
    context.configure(
        url=url, target_metadata=metadata, literal_binds=True, dialect_opts={"paramstyle": "named"}
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("Alembic: no connection and no sqlalchemy.url (see database.alembic_config)")
    if context.is_offline_mode():
        _run_offline(url)
    else:
        asyncio.run(_run_with_url(url))


_main()
