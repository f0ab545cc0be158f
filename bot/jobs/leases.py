"""Leases over the database so that, with several instances, each periodic job tick runs once.

An instance takes a job's lease for one and a half intervals and renews it at each of its ticks, so the
job stays on one instance while it lives; the other instances' ticks do nothing. If the holder stops (or
dies), its lease runs out (or is released) and another instance takes over at its next tick. The work
itself is idempotent anyway (reminders and deliveries have unique keys, the sender claims rows with
FOR UPDATE SKIP LOCKED): the lease saves the duplicated effort and the duplicated message edits.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

from bot.clock import Clock, utc_now
from bot.storage.conversations import ConversationRepository

LEASE_SHARE = 1.5  # of the interval: the holder's next tick renews the lease before it runs out


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
