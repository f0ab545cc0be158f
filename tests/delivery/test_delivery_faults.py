"""The sender when the database refuses writes mid-campaign (SQLite and PostgreSQL): at most one duplicate."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event

from bot.delivery.outbox import Delivery, Status
from bot.delivery.sender import Sender, SenderSettings
from bot.storage.database import Database
from tests.delivery.test_delivery_sender import START, VirtualTime


class ReadOnlySwitch:
    """Makes the real database read-only (SQLite `PRAGMA query_only`, PostgreSQL
    `default_transaction_read_only`) for every connection checked out while `on`."""

    def __init__(self, db: Database) -> None:
        self.on = False
        self.refused = 0
        sqlite = db.engine.dialect.name == "sqlite"

        @event.listens_for(db.engine.sync_engine, "checkout")
        def _checkout(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
            cursor = dbapi_connection.cursor()
            try:
                if sqlite:
                    cursor.execute(f"PRAGMA query_only = {int(self.on)}")
                else:  # committed, or the transaction it opened would be the caller's, not read-only
                    cursor.execute(f"SET default_transaction_read_only = {'on' if self.on else 'off'}")
                    dbapi_connection.commit()
            finally:
                cursor.close()

        @event.listens_for(db.engine.sync_engine, "handle_error")
        def _error(_context: Any) -> None:
            self.refused += 1


class CountingTransport:
    """Sends instantly; after `fail_after` sends, switches the database read-only for `seconds`."""

    def __init__(self, time: VirtualTime, switch: ReadOnlySwitch, fail_after: int, seconds: float) -> None:
        self.time, self.switch = time, switch
        self.fail_after, self.seconds = fail_after, seconds
        self.sends: collections.Counter[int] = collections.Counter()
        self.until: dt.datetime | None = None

    def tick(self) -> None:
        if self.until is not None:
            self.switch.on = self.time.now < self.until

    async def send(self, delivery: Delivery) -> None:
        self.tick()
        self.sends[delivery.chat_id] += 1
        if sum(self.sends.values()) == self.fail_after:
            self.until = self.time.now + dt.timedelta(seconds=self.seconds)
            self.switch.on = True


async def test_a_read_only_database_mid_campaign_sends_at_most_one_message_twice(db: Database) -> None:
    time = VirtualTime()
    storage, switch = db.storage.outbox, ReadOnlySwitch(db)
    transport = CountingTransport(time, switch, fail_after=30, seconds=8.0)
    chats = list(range(1, 301))
    await storage.enqueue("announcement", 1, chats, "", not_before=START, now=START)

    async def sleep(seconds: float) -> None:
        await time.sleep(seconds)
        transport.tick()

    sender = Sender(storage, transport, SenderSettings(), clock=time.clock, sleep=sleep)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    for _ in range(3000):  # a bound on polling, not a timing: virtual time runs as fast as the database
        await asyncio.sleep(0.01)
        if not switch.on and (await storage.counts("announcement", 1)).get(Status.SENT) == len(chats):
            break
    stop.set()
    await asyncio.wait_for(task, 30)
    assert switch.refused > 0  # the database did refuse writes
    counts = await storage.counts("announcement", 1)
    assert {status: n for status, n in counts.items() if n} == {Status.SENT: 300}
    assert set(transport.sends) == set(chats)
    duplicates = sum(n - 1 for n in transport.sends.values())
    assert duplicates <= 1, f"{duplicates} people got the announcement twice"


@pytest.fixture(autouse=True)
def _quiet(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("ERROR")
