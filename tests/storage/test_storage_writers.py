"""SQLite's one writer: this process's writers queue on the event loop, not in SQLite's busy handler, so a
burst of writes never leaves the readers without a connection."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from bot.clock import utc_now
from bot.storage import engine, open_database


async def test_a_burst_of_writers_waits_its_turn_while_readers_go_on(tmp_path: Path) -> None:
    async with await open_database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", tmp_path) as db:
        storage = db.storage
        await storage.users.touch_user(1, now=utc_now())
        release = asyncio.Event()

        async def long_write() -> None:
            async with storage.uow() as tx:
                await tx.users.touch_user(2, now=utc_now())
                await release.wait()

        holder = asyncio.create_task(long_write())
        await asyncio.sleep(0.05)
        writers = [asyncio.create_task(storage.users.touch_user(100 + n, now=utc_now())) for n in range(40)]
        await asyncio.sleep(0.05)
        # 40 writers wait, more than the connection pool holds (15): a read still gets one at once.
        assert (await asyncio.wait_for(storage.users.get_user(1), 2)) is not None
        assert not any(w.done() for w in writers)
        release.set()
        await asyncio.wait_for(asyncio.gather(holder, *writers), 30)
        assert all([await storage.users.get_user(100 + n) for n in range(40)])


async def test_a_write_opened_inside_another_of_the_process_fails_after_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    async with await open_database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", tmp_path) as db:
        storage = db.storage
        with pytest.raises(OperationalError, match="database is locked"):
            async with storage.uow():
                await storage.users.touch_user(3, now=utc_now())  # its own transaction: a second writer
        await storage.users.touch_user(4, now=utc_now())  # the lock was given back
        assert await storage.users.get_user(4) is not None
