"""The background sender that drains the outbox within Telegram's flood limits.

The sender claims due deliveries in batches, sends them through a `Transport` one at a time at a paced
rate, and records each outcome in the `OutboxStore`:

* pacing: a global token bucket (`rate` messages/s, bursts of at most `burst`), at least
  `per_chat_interval` seconds between two messages to one private chat, and at most `group_per_minute`
  messages to one group (chat_id < 0) in any sliding 60 s window. A delivery whose chat is busy waits in
  memory while other chats go ahead; it is *not* put back in the store, so it costs no attempt.
* outcomes (exceptions raised by the transport):

  ================  ===========================================================================
  success           SENT
  `RetryLater(s)`   flood control: ALL sending pauses for s + `flood_margin` seconds, then the same
                    delivery is sent again (kept in memory: no attempt is counted)
  `Blocked`         BLOCKED (and every other claimed delivery to that chat), `on_blocked(chat_id)`;
                    never retried
  `Rejected(r)`     FAILED with reason r
  `ChatMoved(new)`  `store.move_chat(old, new)` and retried at once (this counts one attempt)
  `Transient(r)`    retried after `backoff_base * 2**attempts` seconds (capped at `backoff_max`);
                    FAILED with reason r once `max_attempts` tries have failed
  `Skip(r)`         SKIPPED with reason r (the renderer decided not to send)
  anything else     FAILED with the exception's type name, logged at WARNING without its message
  ================  ===========================================================================

Memory stays flat: at most `batch` claimed deliveries are held at a time, plus a small per-chat pacing
history that only keeps chats whose limits are still running.

Held deliveries are SENDING in the store. None is held longer than about `max_hold` seconds (< `stale_after`)
so that `release_stale` never hands a live sender's claim to another one; the rare overflow (more messages
for one chat than fit in `max_hold`, e.g. > 40 for one group) goes back to the store, to the time its chat
is expected to be free, which counts one attempt. On stop, held deliveries go back to PENDING (one attempt).
Long flood waits (> `max_hold`) do the same, due when the wait is over.

Delivery is at least once, and at most one message is ever in doubt: when recording an outcome fails
(database down or read-only), the sender sends nothing else and retries that recording every `idle_poll`
seconds until it succeeds (or the sender stops). Only that one message (recorded SENT nowhere if the process
dies meanwhile), or a timeout after Telegram got the request, may be sent twice.

One `Sender` drives one loop: do not call `run` and `drain` concurrently on the same instance.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from bot.clock import Clock, utc_now
from bot.delivery.outbox import Delivery, OutboxStore, Status
from bot.delivery.outcomes import (
    Blocked,
    ChatMoved,
    DeliveryError,
    Rejected,
    RetryLater,
    Skip,
    Transient,
    Transport,
)
from bot.delivery.pacing import Pacer, SenderSettings

__all__ = [  # the outcomes and settings are imported from here too
    "Blocked",
    "ChatMoved",
    "DeliveryError",
    "Rejected",
    "RetryLater",
    "Sender",
    "SenderSettings",
    "Skip",
    "Transient",
    "Transport",
]

log = logging.getLogger(__name__)

_EPSILON = 1e-6  # waits shorter than this (clock rounding) count as no wait


# --------------------------------------------------------------------------- the sender


class Sender:
    """Drains the outbox: `run(stop)` in the background, or `drain()` once (tests, benchmarks)."""

    def __init__(
        self,
        store: OutboxStore,
        transport: Transport,
        settings: SenderSettings | None = None,
        *,
        clock: Clock = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_blocked: Callable[[int], Awaitable[None]] | None = None,
        on_progress: Callable[[Delivery, Status], Awaitable[None]] | None = None,
    ) -> None:
        self.settings = settings or SenderSettings()
        self._store, self._transport = store, transport
        self._clock, self._sleep = clock, sleep
        self._last_recover = 0.0
        self._on_blocked, self._on_progress = on_blocked, on_progress
        self._pacer = Pacer(self.settings)
        self._queues: dict[int, deque[Delivery]] = {}  # chat → claimed deliveries, oldest first
        self._heap: list[tuple[float, int, int]] = []  # (may go at, tie-break, chat) per queued chat
        self._scheduled: set[int] = set()  # chats with an entry in _heap
        self._seq = itertools.count()
        self._held = 0
        self._dry_until = float("-inf")  # the store had nothing more due: don't ask again before this
        self._paused_until = float("-inf")  # flood control
        # outcomes whose recording failed: nothing else is sent until they are recorded
        self._unrecorded: deque[tuple[Delivery, Status, dt.datetime, str | None]] = deque()

    # ------------------------------------------------------------ public entry points

    async def run(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set; claimed deliveries not sent yet then go back to PENDING."""
        try:
            await self._recover()
        except Exception as exc:  # the database may be down at start: carry on, claims will retry
            log.warning("outbox: releasing stale deliveries failed (%s)", type(exc).__name__)
        try:
            await self._loop(stop)
        finally:
            with contextlib.suppress(Exception):  # still failing: stays SENDING, sent again after a restart
                await self._record_pending()
            await self._release_held("sender stopped")

    async def drain(self) -> int:
        """Send everything due now (and what becomes due while doing so); return how many were SENT."""
        await self._recover()
        try:
            return await self._loop(None)
        finally:
            await self._release_held("sender stopped")

    # ------------------------------------------------------------ the loop

    async def _recover(self) -> None:
        now = self._clock()
        self._last_recover = now.timestamp()
        released = await self._store.release_stale(
            older_than=now - dt.timedelta(seconds=self.settings.stale_after)
        )
        if released:
            log.info("outbox: %d deliveries left SENDING by a previous sender go back to pending", released)

    async def _loop(self, stop: asyncio.Event | None) -> int:
        sent = 0
        batch = self.settings.batch
        while stop is None or not stop.is_set():
            now_dt = self._clock()
            now = now_dt.timestamp()
            if self._paused_until - now > _EPSILON:
                await self._pause(self._paused_until - now, stop)
                continue
            if self._unrecorded:
                try:
                    await self._record_pending()
                except Exception:
                    if stop is None:
                        raise
                    await self._pause(self.settings.idle_poll, stop)
                    continue
            ready = self._ready_at(now)
            wants = (
                self._held < batch and now >= self._dry_until and (self._held <= batch // 2 or ready > now)
            )
            if self._held == 0 or wants:
                try:
                    await self._refill(now_dt)
                except Exception as exc:
                    if stop is None:
                        raise
                    log.warning("outbox: claiming deliveries failed (%s)", type(exc).__name__)
                    await self._pause(self.settings.idle_poll, stop)
                    continue
                if self._held == 0:
                    if stop is None:
                        break
                    # Another sender may have died holding claims (a crash, a restart): take them back
                    # once they are stale, not only at start.
                    if now - self._last_recover >= self.settings.stale_after / 2:
                        with contextlib.suppress(Exception):
                            await self._recover()
                    await self._pause(self.settings.idle_poll, stop)
                    continue
                ready = self._ready_at(now)
            if ready - now > _EPSILON:
                wait = ready - now if stop is None else min(ready - now, self.settings.idle_poll)
                await self._pause(wait, stop)
                continue
            wait = self._pacer.token_wait(now)
            if wait > _EPSILON:
                await self._pause(wait, stop)
                continue
            delivery = self._pop_next(now)
            if await self._deliver(delivery, now_dt):
                sent += 1
        return sent

    async def _pause(self, seconds: float, stop: asyncio.Event | None) -> None:
        """Sleep, waking early when `stop` is set."""
        if stop is None:
            await self._sleep(seconds)
            return
        if stop.is_set():
            return
        sleeper = asyncio.ensure_future(self._sleep(seconds))
        stopper = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, stopper):
                task.cancel()
            await asyncio.gather(sleeper, stopper, return_exceptions=True)

    # ------------------------------------------------------------ claimed deliveries in memory

    async def _refill(self, now_dt: dt.datetime) -> None:
        now = now_dt.timestamp()
        if self._pacer.size() > 2 * self.settings.batch:
            self._pacer.prune(now)
        limit = self.settings.batch - self._held
        claimed = await self._store.claim(limit, now=now_dt)
        if len(claimed) < limit:
            self._dry_until = now + self.settings.idle_poll
        overflow: dict[int, int] = {}
        for delivery in claimed:
            chat = delivery.chat_id
            index = len(self._queues.get(chat, ())) + overflow.get(chat, 0)
            slot = self._pacer.slot(chat, index, now)
            if slot - now <= self.settings.max_hold:
                self._push(delivery)
            else:  # too many for this chat to keep in memory: back to the store until it is free
                overflow[chat] = overflow.get(chat, 0) + 1
                at = now_dt + dt.timedelta(seconds=slot - now)
                await self._retry(delivery, at=at, now=now_dt, reason="paced: chat busy")

    def _push(self, delivery: Delivery, *, front: bool = False) -> None:
        chat = delivery.chat_id
        queue = self._queues.get(chat)
        if queue is None:
            queue = self._queues[chat] = deque()
        if front:
            queue.appendleft(delivery)
        else:
            queue.append(delivery)
        self._held += 1
        if chat not in self._scheduled:
            self._scheduled.add(chat)
            now = self._clock().timestamp()
            heapq.heappush(self._heap, (self._pacer.slot(chat, 0, now), next(self._seq), chat))

    def _ready_at(self, now: float) -> float:
        """When the first chat with held deliveries may receive one (inf when nothing is held)."""
        while self._heap:
            at, _, chat = self._heap[0]
            if chat not in self._queues:  # its deliveries were dropped (blocked, moved)
                heapq.heappop(self._heap)
                self._scheduled.discard(chat)
                continue
            actual = self._pacer.slot(chat, 0, now)
            if actual > at + _EPSILON:
                heapq.heapreplace(self._heap, (actual, next(self._seq), chat))
                continue
            return max(at, actual)
        return float("inf")

    def _pop_next(self, now: float) -> Delivery:
        """Take the next delivery of the first ready chat and record its send at `now`."""
        _, _, chat = heapq.heappop(self._heap)
        self._scheduled.discard(chat)
        self._pacer.record(chat, now)
        queue = self._queues[chat]
        delivery = queue.popleft()
        self._held -= 1
        if queue:
            self._scheduled.add(chat)
            heapq.heappush(self._heap, (self._pacer.slot(chat, 0, now), next(self._seq), chat))
        else:
            del self._queues[chat]
        return delivery

    def _take_chat(self, chat_id: int) -> list[Delivery]:
        """Remove and return every held delivery for a chat."""
        queue = self._queues.pop(chat_id, None)
        if queue is None:
            return []
        self._held -= len(queue)
        return list(queue)

    async def _release_held(self, reason: str) -> None:
        """Put every held delivery back to PENDING, due now (a flood pause: due when it ends)."""
        if not self._held:
            return
        now_dt = self._clock()
        at = now_dt + dt.timedelta(seconds=max(0.0, self._paused_until - now_dt.timestamp()))
        for chat in list(self._queues):
            for delivery in self._take_chat(chat):
                await self._retry(delivery, at=at, now=now_dt, reason=reason)
        self._heap.clear()
        self._scheduled.clear()

    # ------------------------------------------------------------ one delivery

    async def _deliver(self, delivery: Delivery, now_dt: dt.datetime) -> bool:
        """Send one delivery and record the outcome; True when it was SENT."""
        settings = self.settings
        try:
            await self._transport.send(delivery)
        except RetryLater as exc:
            pause = max(0.0, exc.seconds) + settings.flood_margin
            log.warning("outbox: flood control, every send waits %.1f s", pause)
            self._paused_until = now_dt.timestamp() + pause
            self._pacer.empty(self._paused_until)
            self._push(delivery, front=True)
            if pause > settings.max_hold:
                await self._release_held("flood control")
        except Blocked:
            for item in [delivery, *self._take_chat(delivery.chat_id)]:
                await self._finish(item, Status.BLOCKED, now_dt, None)
            await self._callback(self._on_blocked, delivery.chat_id)
        except Rejected as exc:
            await self._finish(delivery, Status.FAILED, now_dt, exc.reason)
        except ChatMoved as exc:
            old = delivery.chat_id
            for item in [delivery, *self._take_chat(old)]:
                await self._retry(item, at=now_dt, now=now_dt, reason=f"chat moved to {exc.new_chat_id}")
            try:
                await self._store.move_chat(old, exc.new_chat_id)
            except Exception as error:
                log.warning("outbox: moving chat deliveries failed (%s)", type(error).__name__)
            self._dry_until = float("-inf")  # they are due at once
        except Transient as exc:
            if delivery.attempts + 1 >= settings.max_attempts:
                await self._finish(delivery, Status.FAILED, now_dt, exc.reason)
            else:
                at = now_dt + dt.timedelta(seconds=settings.backoff(delivery.attempts))
                await self._retry(delivery, at=at, now=now_dt, reason=exc.reason)
        except Skip as exc:
            await self._finish(delivery, Status.SKIPPED, now_dt, exc.reason)
        except Exception as exc:  # a bug in a renderer or transport must not stop the loop
            name = type(exc).__name__
            log.warning(
                "outbox: delivery %d (%s) failed with an unexpected %s", delivery.id, delivery.kind, name
            )
            log.debug("outbox: delivery %d traceback", delivery.id, exc_info=True)
            await self._finish(delivery, Status.FAILED, now_dt, name)
        else:
            await self._finish(delivery, Status.SENT, now_dt, None)
            return True
        return False

    async def _finish(self, delivery: Delivery, status: Status, now: dt.datetime, reason: str | None) -> None:
        if not self._unrecorded:
            try:
                await self._store.finish(delivery.id, status, now=now, reason=reason)
            except Exception as exc:
                log.warning(
                    "outbox: recording delivery %d as %s failed (%s); nothing is sent until it is recorded",
                    delivery.id,
                    status,
                    type(exc).__name__,
                )
            else:
                await self._callback(self._on_progress, delivery, status)
                return
        self._unrecorded.append((delivery, status, now, reason))

    async def _record_pending(self) -> None:
        """Record the outcomes whose recording failed, oldest first; raise when the store still refuses."""
        while self._unrecorded:
            delivery, status, now, reason = self._unrecorded[0]
            await self._store.finish(delivery.id, status, now=now, reason=reason)
            self._unrecorded.popleft()
            log.info("outbox: delivery %d recorded as %s after a failed attempt", delivery.id, status)
            await self._callback(self._on_progress, delivery, status)

    async def _retry(self, delivery: Delivery, *, at: dt.datetime, now: dt.datetime, reason: str) -> None:
        try:
            await self._store.retry(delivery.id, at=at, reason=reason, now=now)
        except Exception as exc:
            log.warning("outbox: rescheduling delivery %d failed (%s)", delivery.id, type(exc).__name__)
            return
        await self._callback(self._on_progress, delivery, Status.PENDING)

    async def _callback(self, callback: Callable[..., Awaitable[None]] | None, *args: object) -> None:
        if callback is None:
            return
        try:
            await callback(*args)
        except Exception as exc:
            log.warning(
                "outbox: %s callback failed (%s)", getattr(callback, "__name__", "a"), type(exc).__name__
            )
