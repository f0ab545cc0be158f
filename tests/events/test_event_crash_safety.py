"""Crash safety of event changes: a process killed with SIGKILL between the event write and its notices.

`EventService.publish`, `move` and `cancel` write the event and record its notices (outbox deliveries) in one
transaction. A child process runs the change with the outbox's `enqueue` replaced by a SIGKILL of itself: the
event row is written, its notices not yet. After the kill, the database must show no half change (an event
created, moved or cancelled without its notices: nobody would ever be told); the coordinator does it again
(a second child, not killed), and then every notice is there, once.

Runs on SQLite (a file in tmp_path), and on PostgreSQL (a schema of its own) when CATABOT_TEST_POSTGRES_URL
is set.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import sys
from pathlib import Path

from sqlalchemy import func, select

from bot.delivery.outbox import Status
from bot.events.records import EventFields, EventStatus
from bot.events.service import EVENT_CHANGE, EVENT_NOTICE
from bot.storage import open_database
from bot.storage.engine import transaction
from bot.storage.schema import deliveries, events
from tests.conftest import ROOT

SUBSCRIBERS = [901, 902, 903, 904, 905]
COORDINATOR = 900
START = dt.datetime(2099, 5, 20, 8, 0, tzinfo=dt.UTC)
MOVED = START + dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)

CHILD = """
import asyncio, datetime as dt, os, signal, sys
from pathlib import Path
from bot.events.records import EventFields
from bot.events.service import EventService
from bot.storage import open_database
from bot.storage.engine import transaction
from bot.storage.schema import deliveries, events
from bot.storage.outbox import OutboxRepository

url, action, kill = sys.argv[1], sys.argv[2], sys.argv[3] == "kill"
START = dt.datetime(2099, 5, 20, 8, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)

async def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # the event row is written, its notices are not

async def main():
    database = await open_database(url, Path.cwd())
    if kill:
        OutboxRepository.enqueue = die
    service = EventService(database.storage, [dt.timedelta(days=1)])
    if action == "publish":
        await service.publish(EventFields("Rencontre régionale", START), created_by=900)
    else:
        found = await database.storage.events.events_starting_between(START - MINUTE, START + MINUTE)
        event = found[0]
        if action == "move":
            await service.move(event.id, START + dt.timedelta(days=1), None)
        else:
            await service.cancel(event.id)
    await database.close()

asyncio.run(main())
"""


async def run_child(url: str, action: str, *, kill: bool) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, url, action, "kill" if kill else "live", cwd=ROOT
    )
    return await asyncio.wait_for(process.wait(), 60)


async def subscribe(url: str, base_dir: Path) -> None:
    async with await open_database(url, base_dir) as database:
        storage = database.storage
        for user in SUBSCRIBERS:
            await storage.users.touch_user(user)
            await storage.preferences.set_preference(user, "new_event_notices", True)
            await storage.preferences.set_preference(user, "remind_all", True)
        await storage.users.touch_user(COORDINATOR)


async def state(url: str, base_dir: Path) -> tuple[list[tuple[dt.datetime, EventStatus]], dict[str, int]]:
    """Every event (start, status), and the pending deliveries by kind."""
    async with (
        await open_database(url, base_dir) as database,
        transaction(database.engine, write=False) as conn,
    ):
        rows = (await conn.execute(select(events.c.starts_at, events.c.status))).all()
        stmt = (
            select(deliveries.c.kind, func.count())
            .where(deliveries.c.status == Status.PENDING.value)
            .group_by(deliveries.c.kind)
        )
        pending = {kind: count for kind, count in (await conn.execute(stmt)).all()}
    return sorted((start, EventStatus(status)) for start, status in rows), pending


async def test_event_notices_survive_a_sigkill_between_event_write_and_notice(
    db_url: str, tmp_path: Path
) -> None:
    await subscribe(db_url, tmp_path)
    killed = -signal.SIGKILL

    assert await run_child(db_url, "publish", kill=True) == killed
    assert await state(db_url, tmp_path) == ([], {}), "no event without its new-event notices"
    assert await run_child(db_url, "publish", kill=False) == 0
    published = ([(START, EventStatus.SCHEDULED)], {EVENT_NOTICE: len(SUBSCRIBERS)})
    assert await state(db_url, tmp_path) == published

    assert await run_child(db_url, "move", kill=True) == killed
    assert await state(db_url, tmp_path) == published, "not moved without telling the subscribers"
    assert await run_child(db_url, "move", kill=False) == 0
    moved = {EVENT_NOTICE: len(SUBSCRIBERS), EVENT_CHANGE: len(SUBSCRIBERS)}
    assert await state(db_url, tmp_path) == ([(MOVED, EventStatus.SCHEDULED)], moved)

    async with await open_database(db_url, tmp_path) as database:  # back to START, where the child looks
        event = (await database.storage.events.events_starting_between(MOVED - MINUTE, MOVED + MINUTE))[0]
        await database.storage.events.update_event(event.id, EventFields(event.title, START))

    assert await run_child(db_url, "cancel", kill=True) == killed
    before_cancel = ([(START, EventStatus.SCHEDULED)], moved)
    assert await state(db_url, tmp_path) == before_cancel, "not cancelled without telling the subscribers"
    assert await run_child(db_url, "cancel", kill=False) == 0
    cancelled = {EVENT_NOTICE: len(SUBSCRIBERS), EVENT_CHANGE: 2 * len(SUBSCRIBERS)}  # moved, then cancelled
    assert await state(db_url, tmp_path) == ([(START, EventStatus.CANCELLED)], cancelled)
