"""Leases over the database so that, with several instances, each periodic job tick runs once.

An instance takes a job's lease for a little less than the job's interval; the other instances' ticks in
that window do nothing. If the holder dies, its lease runs out and another instance takes over at the next
tick. Work the jobs do is idempotent anyway (reminders and deliveries have unique keys, the sender claims
rows with FOR UPDATE SKIP LOCKED): the lease only saves the duplicated effort and duplicated edits.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from bot.clock import Clock, utc_now
from bot.storage.conversations import ConversationRepository

LEASE_SHARE = 0.9  # of the interval: the next tick of the same holder always finds its lease renewable


def instance_id() -> str:
    """This process, as a lease holder: host, process id and a random suffix (at most 64 characters)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobLeases:
    def __init__(
        self, store: ConversationRepository, holder: str | None = None, clock: Clock = utc_now
    ) -> None:
        self.store = store
        self.holder = holder or instance_id()
        self.clock = clock

    async def acquire(self, job: str, interval: dt.timedelta) -> bool:
        """Whether this instance runs `job` for this tick (`interval`: the time between two ticks)."""
        now = self.clock()
        return await self.store.take_lease(job, self.holder, now=now, until=now + interval * LEASE_SHARE)

    async def release(self, job: str) -> None:
        await self.store.release_lease(job, self.holder)
