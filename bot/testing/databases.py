"""Throw-away PostgreSQL schemas for the tests and the benchmarks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.storage.engine import create_engine


@asynccontextmanager
async def scratch_schema(server_url: str, prefix: str) -> AsyncIterator[str]:
    """The URL of a fresh, empty schema `<prefix>_<12 hex>` on the PostgreSQL server at `server_url`
    (normalised, see `bot.storage.engine.normalize_url`), selected with `?options=-csearch_path=…` and
    dropped with everything in it afterwards, so that runs never see one another's tables."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(server_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()
