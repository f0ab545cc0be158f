"""The outbox sender: pacing, outcomes, stop and crash recovery (virtual time), then end to end over PTB."""

from __future__ import annotations

import asyncio
import datetime as dt
import heapq
import itertools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import pytest
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, ExtBot

from bot.delivery.outbox import Delivery, OutboxStore, Status
from bot.delivery.sender import (
    Blocked,
    ChatMoved,
    Rejected,
    RetryLater,
    Sender,
    SenderSettings,
    Skip,
    Transient,
)
from bot.telegram.transport import (
    Outgoing,
    TelegramTransport,
    build_bot,
    retry_after_seconds,
    translate_error,
)
from bot.testing import TINY_PNG, FakeTelegram

START = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
# PTB's own RetryAfter.__init__ reads the deprecated int `retry_after` (ours reads it with the warning muted).
pytestmark = pytest.mark.filterwarnings("ignore:.*retry_after.*:telegram.warnings.PTBDeprecationWarning")


# --------------------------------------------------------------------------- an in-memory outbox


@dataclass
class Row:
    delivery: Delivery
    claimed_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class MemoryOutbox:
    """`OutboxStore` in memory, as the protocol says (claims are atomic: there is no await inside)."""

    def __init__(self) -> None:
        self.rows: dict[int, Row] = {}
        self._ids: dict[tuple[str, int, int, str], int] = {}
        self.moves: list[tuple[int, int]] = []
        self.sending = 0
        self.max_sending = 0

    def get(self, delivery_id: int) -> Delivery:
        return self.rows[delivery_id].delivery

    def all(self) -> list[Delivery]:
        return [row.delivery for row in self.rows.values()]

    def _set(self, delivery_id: int, **changes: object) -> None:
        row = self.rows[delivery_id]
        before = row.delivery.status
        row.delivery = replace(row.delivery, **changes)  # type: ignore[arg-type]
        self.sending += (row.delivery.status is Status.SENDING) - (before is Status.SENDING)
        self.max_sending = max(self.max_sending, self.sending)

    async def enqueue(
        self,
        kind: str,
        ref_id: int,
        chat_ids: Sequence[int],
        key: str,
        *,
        not_before: dt.datetime,
        now: dt.datetime,
    ) -> int:
        new = 0
        for chat_id in chat_ids:
            identity = (kind, ref_id, chat_id, key)
            if identity in self._ids:
                continue
            delivery_id = len(self.rows) + 1
            self._ids[identity] = delivery_id
            self.rows[delivery_id] = Row(
                Delivery(delivery_id, kind, ref_id, chat_id, key, Status.PENDING, 0, not_before, None)
            )
            new += 1
        return new

    async def claim(self, limit: int, *, now: dt.datetime) -> list[Delivery]:
        due = (
            row
            for row in self.rows.values()
            if row.delivery.status is Status.PENDING and row.delivery.not_before <= now
        )
        claimed = heapq.nsmallest(limit, due, key=lambda row: (row.delivery.not_before, row.delivery.id))
        for row in claimed:
            self._set(row.delivery.id, status=Status.SENDING)
            row.claimed_at = now
        return [row.delivery for row in claimed]

    async def finish(
        self, delivery_id: int, status: Status, *, now: dt.datetime, reason: str | None = None
    ) -> None:
        assert status in (Status.SENT, Status.BLOCKED, Status.FAILED, Status.SKIPPED)
        assert self.get(delivery_id).status is Status.SENDING, "only a claimed delivery is finished"
        self._set(delivery_id, status=status, last_error=reason)
        self.rows[delivery_id].finished_at = now

    async def retry(self, delivery_id: int, *, at: dt.datetime, reason: str, now: dt.datetime) -> None:
        delivery = self.get(delivery_id)
        assert delivery.status is Status.SENDING, "only a claimed delivery is retried"
        self._set(
            delivery_id,
            status=Status.PENDING,
            not_before=at,
            attempts=delivery.attempts + 1,
            last_error=reason,
        )
        self.rows[delivery_id].claimed_at = None

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        self.moves.append((old_chat_id, new_chat_id))
        for row in self.rows.values():
            if row.delivery.chat_id == old_chat_id and row.delivery.status is Status.PENDING:
                row.delivery = replace(row.delivery, chat_id=new_chat_id)

    async def release_stale(self, *, older_than: dt.datetime) -> int:
        stale = [
            row
            for row in self.rows.values()
            if row.delivery.status is Status.SENDING
            and row.claimed_at is not None
            and row.claimed_at < older_than
        ]
        for row in stale:
            self._set(row.delivery.id, status=Status.PENDING)
            row.claimed_at = None
        return len(stale)

    async def counts(self, kind: str, ref_id: int) -> dict[Status, int]:
        counts: dict[Status, int] = {}
        for d in self.all():
            if (d.kind, d.ref_id) == (kind, ref_id):
                counts[d.status] = counts.get(d.status, 0) + 1
        return counts

    async def failures(self, kind: str, ref_id: int) -> dict[str, int]:
        reasons: dict[str, int] = {}
        for d in self.all():
            if (d.kind, d.ref_id, d.status) == (kind, ref_id, Status.FAILED):
                reasons[d.last_error or ""] = reasons.get(d.last_error or "", 0) + 1
        return reasons

    async def skip_pending(self, kind: str, ref_id: int, reason: str, *, now: dt.datetime) -> int:
        pending = [d for d in self.all() if (d.kind, d.ref_id, d.status) == (kind, ref_id, Status.PENDING)]
        for d in pending:
            self._set(d.id, status=Status.SKIPPED, last_error=reason)
        return len(pending)


def _conforms(store: MemoryOutbox) -> OutboxStore:
    return store  # mypy checks that MemoryOutbox implements the protocol


# --------------------------------------------------------------------------- virtual time, scripted transport


class VirtualTime:
    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def clock(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds)
        self.sleeps.append(seconds)
        await asyncio.sleep(0)

    def seconds(self, at: dt.datetime | None = None) -> float:
        return ((at or self.now) - START).total_seconds()


Outcome = BaseException | None
Script = Callable[[Delivery], Outcome]


class ScriptedTransport:
    """Records every call (virtual time, delivery); `script` may return an exception to raise."""

    def __init__(self, time: VirtualTime, script: Script | None = None) -> None:
        self.time, self.script = time, script
        self.calls: list[tuple[float, Delivery]] = []
        self.sent: list[tuple[float, Delivery]] = []

    async def send(self, delivery: Delivery) -> None:
        at = self.time.seconds()
        self.calls.append((at, delivery))
        outcome = self.script(delivery) if self.script else None
        if outcome is not None:
            raise outcome
        self.sent.append((at, delivery))

    def times(self, chat_id: int | None = None) -> list[float]:
        return [t for t, d in self.sent if chat_id is None or d.chat_id == chat_id]


def per_chat(outcomes: dict[int, list[Outcome]]) -> Script:
    """The listed outcomes for the first calls to each chat, then success."""

    def script(delivery: Delivery) -> Outcome:
        queue = outcomes.get(delivery.chat_id)
        return queue.pop(0) if queue else None

    return script


def nth_call(n: int, outcome: BaseException) -> Script:
    count = 0

    def script(delivery: Delivery) -> Outcome:
        nonlocal count
        count += 1
        return outcome if count == n else None

    return script


@dataclass
class Rig:
    store: MemoryOutbox
    time: VirtualTime
    transport: ScriptedTransport
    sender: Sender
    blocked: list[int]
    progress: list[tuple[int, Status]]

    async def plan(self, chat_ids: Sequence[int], *, kind: str = "announcement", ref_id: int = 1) -> None:
        await self.store.enqueue(kind, ref_id, chat_ids, "", not_before=self.time.now, now=self.time.now)

    async def settle(self, limit: int = 50) -> None:
        """Drain, jump to the next retry, drain again… until nothing is pending."""
        for _ in range(limit):
            await self.sender.drain()
            pending = [d.not_before for d in self.store.all() if d.status is Status.PENDING]
            if not pending:
                return
            self.time.now = max(self.time.now, min(pending))
        raise AssertionError("still pending")

    def statuses(self) -> dict[Status, int]:
        counts: dict[Status, int] = {}
        for d in self.store.all():
            counts[d.status] = counts.get(d.status, 0) + 1
        return counts


def make_rig(script: Script | None = None, **settings: float) -> Rig:
    store, time = MemoryOutbox(), VirtualTime()
    transport = ScriptedTransport(time, script)
    blocked: list[int] = []
    progress: list[tuple[int, Status]] = []

    async def on_blocked(chat_id: int) -> None:
        blocked.append(chat_id)

    async def on_progress(delivery: Delivery, status: Status) -> None:
        progress.append((delivery.id, status))

    sender = Sender(
        _conforms(store),
        transport,
        SenderSettings(**settings),  # type: ignore[arg-type]
        clock=time.clock,
        sleep=time.sleep,
        on_blocked=on_blocked,
        on_progress=on_progress,
    )
    return Rig(store, time, transport, sender, blocked, progress)


def sent_ids(rig: Rig) -> list[int]:
    return sorted(d.id for _, d in rig.transport.sent)


# --------------------------------------------------------------------------- delivery and pacing


async def test_everything_is_sent_once() -> None:
    rig = make_rig()
    chats = [*range(1, 41), -5, -6]
    await rig.plan(chats)
    await rig.plan(chats[:10], ref_id=2)  # a second message to ten of them
    assert await rig.sender.drain() == 52
    assert sent_ids(rig) == list(range(1, 53))
    assert rig.statuses() == {Status.SENT: 52}
    assert all(d.attempts == 0 for d in rig.store.all())
    assert sorted(rig.progress) == [(i, Status.SENT) for i in range(1, 53)]
    assert await rig.sender.drain() == 0  # nothing left, nothing sent twice


async def test_global_rate_paces_distinct_chats() -> None:
    rig = make_rig(rate=25.0)
    await rig.plan(range(1, 101))
    await rig.sender.drain()
    times = rig.transport.times()
    assert len(times) == 100
    assert 3.8 <= times[-1] - times[0] <= 4.2  # 100 messages at 25/s
    assert all(b - a >= 0.04 - 1e-6 for a, b in itertools.pairwise(times))


async def test_one_private_chat_gets_one_message_per_second_without_holding_others() -> None:
    rig = make_rig()
    await rig.plan([7])
    await rig.plan([7], ref_id=2)
    await rig.plan(range(100, 110), ref_id=3)  # claimed after the second message to chat 7
    await rig.sender.drain()
    first, second = rig.transport.times(7)
    assert second - first >= 1.0 - 1e-6
    assert max(rig.transport.times(105)) < second  # the other chats did not wait behind chat 7
    assert all(d.attempts == 0 for d in rig.store.all())  # waiting for a chat is not an attempt


async def test_a_group_gets_at_most_twenty_messages_a_minute() -> None:
    rig = make_rig()
    for ref_id in range(25):
        await rig.plan([-1001], ref_id=ref_id)
    await rig.plan([3, 4], ref_id=99)
    await rig.sender.drain()
    times = rig.transport.times(-1001)
    assert len(times) == 25
    assert all(times[i + 20] - times[i] >= 60.0 - 1e-6 for i in range(len(times) - 20))
    assert max(rig.transport.times(3) + rig.transport.times(4)) < 60.0  # not stuck behind the group
    assert all(d.attempts == 0 and d.status is Status.SENT for d in rig.store.all())


async def test_a_flood_of_messages_to_one_chat_keeps_memory_bounded() -> None:
    rig = make_rig(batch=50)
    for ref_id in range(60):
        await rig.plan([-1001], ref_id=ref_id)  # far more than 20/min for one group
    await rig.plan(range(1, 21), ref_id=100)
    await rig.settle()
    assert rig.statuses() == {Status.SENT: 80}
    assert rig.store.max_sending <= 50
    times = rig.transport.times(-1001)
    assert all(times[i + 20] - times[i] >= 60.0 - 1e-6 for i in range(len(times) - 20))
    assert max(rig.transport.times(20)) < 60.0  # private chats went ahead


async def test_ten_thousand_deliveries_in_bounded_batches() -> None:
    rig = make_rig(rate=1000.0, batch=100)
    await rig.plan(range(1, 10_001))
    assert await rig.sender.drain() == 10_000
    assert rig.store.max_sending <= 100
    assert rig.sender._held == 0 and not rig.sender._queues
    # only the chats whose 1 s interval still runs (rate × interval), not all 10,000
    assert rig.sender._pacer.size() <= 1000 + 2 * 100
    assert len(set(sent_ids(rig))) == 10_000


# --------------------------------------------------------------------------- outcomes


async def test_retry_after_pauses_all_sending_then_everything_goes_once() -> None:
    rig = make_rig(script=nth_call(3, RetryLater(5)), flood_margin=0.5)
    await rig.plan(range(1, 11))
    await rig.sender.drain()
    flood_at = rig.transport.calls[2][0]
    later = [t for t, _ in rig.transport.calls[3:]]
    assert later and min(later) >= flood_at + 5.5 - 1e-6  # nothing at all during the pause
    assert sent_ids(rig) == list(range(1, 11))  # exactly once each
    assert rig.statuses() == {Status.SENT: 10}
    assert all(d.attempts == 0 for d in rig.store.all())  # a flood pause is not an attempt


async def test_a_long_flood_wait_gives_the_claims_back() -> None:
    rig = make_rig(script=nth_call(1, RetryLater(200)), max_hold=90.0)
    await rig.plan(range(1, 6))
    await rig.sender.drain()
    assert rig.transport.calls[1][0] >= 200.5 - 1e-6
    assert rig.statuses() == {Status.SENT: 5}
    assert rig.store.max_sending <= 5


async def test_blocked_is_final_and_reported() -> None:
    rig = make_rig(script=per_chat({5: [Blocked()]}))
    await rig.plan([4, 5, 6])
    await rig.plan([5], ref_id=2)  # a second delivery to the same user: not even attempted
    await rig.settle()
    assert rig.blocked == [5]
    assert [d.chat_id for _, d in rig.transport.calls].count(5) == 1
    assert {d.chat_id: d.status for d in rig.store.all() if d.ref_id == 1} == {
        4: Status.SENT,
        5: Status.BLOCKED,
        6: Status.SENT,
    }
    assert rig.statuses() == {Status.SENT: 2, Status.BLOCKED: 2}
    await rig.sender.drain()
    assert len(rig.transport.calls) == 3  # never retried


async def test_rejected_fails_with_the_reason() -> None:
    rig = make_rig(script=per_chat({8: [Rejected("Bad Request: chat not found")]}))
    await rig.plan([8, 9])
    await rig.settle()
    assert await rig.store.failures("announcement", 1) == {"Bad Request: chat not found": 1}
    assert rig.statuses() == {Status.FAILED: 1, Status.SENT: 1}


async def test_transient_twice_then_sent() -> None:
    rig = make_rig(script=per_chat({3: [Transient("timed out"), Transient("timed out")]}), backoff_base=2.0)
    await rig.plan([3])
    await rig.settle()
    (delivery,) = rig.store.all()
    assert (delivery.status, delivery.attempts) == (Status.SENT, 2)
    t0, t1, t2 = (t for t, _ in rig.transport.calls)
    assert t1 - t0 >= 2.0 - 1e-6 and t2 - t1 >= 4.0 - 1e-6  # exponential backoff


async def test_transient_forever_fails_after_max_attempts() -> None:
    rig = make_rig(
        script=lambda d: Transient("NetworkError: connection reset"), max_attempts=5, backoff_max=10.0
    )
    await rig.plan([3])
    await rig.settle()
    (delivery,) = rig.store.all()
    assert (delivery.status, delivery.last_error) == (Status.FAILED, "NetworkError: connection reset")
    assert len(rig.transport.calls) == 5
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(rig.transport.calls)]
    assert gaps[-1] < 10.0 + 1.0  # capped by backoff_max


async def test_chat_moved_follows_the_supergroup() -> None:
    rig = make_rig(script=per_chat({-5: [ChatMoved(-1005)]}))
    await rig.plan([-5, 1])
    await rig.plan([-5], ref_id=2)
    await rig.settle()
    assert rig.store.moves == [(-5, -1005)]
    assert sorted(d.chat_id for _, d in rig.transport.sent) == [-1005, -1005, 1]
    assert rig.statuses() == {Status.SENT: 3}
    assert [d.chat_id for _, d in rig.transport.calls].count(-5) == 1


async def test_skip_is_recorded_with_its_reason() -> None:
    rig = make_rig(script=per_chat({2: [Skip("opted out")]}))
    await rig.plan([1, 2])
    await rig.settle()
    skipped = [d for d in rig.store.all() if d.status is Status.SKIPPED]
    assert [(d.chat_id, d.last_error) for d in skipped] == [(2, "opted out")]
    assert (skipped[0].id, Status.SKIPPED) in rig.progress


async def test_an_unexpected_bug_fails_one_delivery_not_the_loop(caplog: pytest.LogCaptureFixture) -> None:
    rig = make_rig(script=per_chat({2: [KeyError("Bonjour Camille, votre atelier")]}))
    await rig.plan([1, 2, 3])
    with caplog.at_level(logging.WARNING, logger="bot.delivery.sender"):
        await rig.settle()
    assert {d.chat_id: (d.status, d.last_error) for d in rig.store.all()} == {
        1: (Status.SENT, None),
        2: (Status.FAILED, "KeyError"),
        3: (Status.SENT, None),
    }
    assert "KeyError" in caplog.text and "Camille" not in caplog.text


async def test_a_failing_callback_does_not_stop_the_loop() -> None:
    rig = make_rig(script=per_chat({1: [Blocked()]}))

    async def broken(chat_id: int) -> None:
        raise RuntimeError("boom")

    rig.sender._on_blocked = broken
    await rig.plan([1, 2])
    await rig.settle()
    assert rig.statuses() == {Status.BLOCKED: 1, Status.SENT: 1}


# --------------------------------------------------------------------------- run, stop, crash recovery


async def until(predicate: Callable[[], bool], spins: int = 200_000) -> None:
    for _ in range(spins):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition not met")


async def test_run_sends_what_is_planned_while_it_runs_and_stops() -> None:
    rig = make_rig(idle_poll=1.0)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.sender.run(stop))
    await rig.plan([1, 2, 3])
    await until(lambda: len(rig.transport.sent) == 3)
    due = rig.time.now + dt.timedelta(minutes=5)
    await rig.store.enqueue("reminder", 7, [4], "1h", not_before=due, now=rig.time.now)
    await until(lambda: len(rig.transport.sent) == 4)
    assert rig.time.seconds(due) <= rig.transport.sent[-1][0] <= rig.time.seconds(due) + 1.0  # on time
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert rig.statuses() == {Status.SENT: 4}


async def test_stopping_puts_unsent_claims_back_and_the_next_sender_finishes() -> None:
    rig = make_rig()
    for ref_id in range(25):
        await rig.plan([-1001], ref_id=ref_id)  # the last five wait a minute for the group
    stop = asyncio.Event()
    task = asyncio.create_task(rig.sender.run(stop))
    await until(lambda: len(rig.transport.sent) == 20)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert rig.statuses() == {Status.SENT: 20, Status.PENDING: 5}  # nothing left SENDING
    rig2 = make_rig()
    rig2.store, rig2.time = rig.store, rig.time
    rig2.transport.time = rig.time
    rig2.sender = Sender(
        rig.store, rig2.transport, SenderSettings(), clock=rig.time.clock, sleep=rig.time.sleep
    )
    await rig2.settle()
    assert rig.statuses() == {Status.SENT: 25}
    assert sorted(sent_ids(rig) + sent_ids(rig2)) == list(range(1, 26))  # each exactly once


async def test_a_dead_senders_claims_are_released_and_sent_by_the_next() -> None:
    rig = make_rig(stale_after=120.0)
    await rig.plan(range(1, 6))
    dead = await rig.store.claim(3, now=rig.time.now)  # claimed, then the process died
    assert len(dead) == 3
    rig.time.advance(121)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.sender.run(stop))
    await until(lambda: len(rig.transport.sent) == 5)
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert sent_ids(rig) == [1, 2, 3, 4, 5]
    assert rig.statuses() == {Status.SENT: 5}


async def test_fresh_claims_of_a_live_sender_are_not_released() -> None:
    rig = make_rig(stale_after=120.0)
    await rig.plan(range(1, 4))
    await rig.store.claim(1, now=rig.time.now)
    rig.time.advance(30)
    await rig.sender.drain()
    assert sent_ids(rig) == [2, 3]
    assert rig.store.get(1).status is Status.SENDING


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        SenderSettings(max_hold=200.0, stale_after=120.0)
    with pytest.raises(ValueError):
        SenderSettings(rate=25.0, burst=30.0)
    assert SenderSettings(backoff_base=2.0, backoff_max=300.0).backoff(10) == 300.0


# --------------------------------------------------------------------------- Telegram transport


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    yield


def test_errors_map_to_outcomes() -> None:
    assert isinstance(translate_error(Forbidden("Forbidden: bot was blocked by the user")), Blocked)
    moved = translate_error(ChatMigrated(-100123))
    assert isinstance(moved, ChatMoved) and moved.new_chat_id == -100123
    rejected = translate_error(BadRequest("Chat not found"))
    assert isinstance(rejected, Rejected) and rejected.reason == "Chat not found"
    assert isinstance(translate_error(TimedOut()), Transient)
    leaked = translate_error(NetworkError("failed for /bot123:SECRET/sendMessage"), token="123:SECRET")
    assert isinstance(leaked, Transient) and "SECRET" not in leaked.reason
    flood = translate_error(RetryAfter(3))
    assert isinstance(flood, RetryLater) and flood.seconds == 3.0


@pytest.mark.usefixtures("ptb_timedelta")
def test_retry_after_as_timedelta() -> None:
    error = RetryAfter(dt.timedelta(seconds=7))
    assert isinstance(error.retry_after, dt.timedelta)
    assert retry_after_seconds(error) == 7.0


def test_a_rate_limited_bot_is_refused() -> None:
    bot: ExtBot[int] = ExtBot("123456:TEST", rate_limiter=AIORateLimiter())
    with pytest.raises(ValueError, match="AIORateLimiter"):
        TelegramTransport(bot)
    assert type(build_bot("123456:TEST")) is Bot


def _delivery(chat_id: int, kind: str = "announcement", ref_id: int = 1) -> Delivery:
    return Delivery(1, kind, ref_id, chat_id, "", Status.SENDING, 0, START, None)


async def test_transport_sends_text_photo_and_document() -> None:
    async with FakeTelegram() as fake, build_bot(fake.token, api_root=fake.api_root) as bot:
        await fake.user_sends(10, "/start")
        transport = TelegramTransport(bot)
        outgoing = {
            "text": Outgoing("<b>Atelier</b> &amp; visite", [[("Inscription", "https://example.org/a")]]),
            "photo": Outgoing("Affiche <i>jeudi</i>", photo=TINY_PNG),
            "document": Outgoing("Programme", document=("programme.txt", b"9h accueil")),
        }
        for kind, message in outgoing.items():

            async def render(delivery: Delivery, message: Outgoing = message) -> Outgoing:
                return message

            transport.register(kind, render)
            await transport.send(_delivery(10, kind))
        text, photo, document = fake.sent_to(10)
        assert (text.kind, text.text, text.buttons[0]["url"]) == (
            "text",
            "Atelier & visite",
            "https://example.org/a",
        )
        assert (photo.kind, photo.caption) == ("photo", "Affiche jeudi")
        assert (document.kind, document.filename, document.document) == (
            "document",
            "programme.txt",
            b"9h accueil",
        )
        with pytest.raises(Rejected, match="no renderer"):
            await transport.send(_delivery(10, "unknown"))

        async def skip(delivery: Delivery) -> Outgoing:
            raise Skip("event already started")

        transport.register("reminder", skip)
        with pytest.raises(Skip):
            await transport.send(_delivery(10, "reminder"))
        with pytest.raises(Rejected, match="Chat not found"):
            await transport.send(_delivery(999, "text"))
        fake.invalid_requests.clear()  # the unknown chat above, on purpose
        fake.flood("sendMessage", 2)
        with pytest.raises(RetryLater) as flood:
            await transport.send(_delivery(10, "text"))
        assert flood.value.seconds == 2.0
        await fake.user_blocks(10, notify=False)
        with pytest.raises(Blocked):
            await transport.send(_delivery(10, "text"))
        assert len(fake.sent_to(10)) == 3


async def test_end_to_end_over_the_real_bot_and_fake_telegram() -> None:
    store, time = MemoryOutbox(), VirtualTime()
    recipients = list(range(1001, 1031))
    blocked_users = [1007, 1023]
    async with FakeTelegram() as fake, build_bot(fake.token, api_root=fake.api_root) as bot:
        for user in recipients:
            await fake.user_sends(user, "/start")
        for user in blocked_users:
            await fake.user_blocks(user, notify=False)
        fake.flood("sendMessage", 1)

        async def render(delivery: Delivery) -> Outgoing:
            return Outgoing(
                f"<b>Nouvelle annonce</b> n°{delivery.ref_id} : rencontre des catalyseurs",
                buttons=[[("Je participe", f"rsvp:{delivery.ref_id}")]],
            )

        transport = TelegramTransport(bot)
        transport.register("announcement", render)
        blocked: list[int] = []

        async def on_blocked(chat_id: int) -> None:
            blocked.append(chat_id)

        sender = Sender(
            store, transport, SenderSettings(), clock=time.clock, sleep=time.sleep, on_blocked=on_blocked
        )
        await store.enqueue("announcement", 42, recipients, "", not_before=START, now=START)
        assert await sender.drain() == 28

        assert await store.counts("announcement", 42) == {Status.SENT: 28, Status.BLOCKED: 2}
        assert sorted(blocked) == blocked_users
        assert fake.invalid_requests == []
        floods = [c for c in fake.calls_to("sendMessage") if c.status == 429]
        assert len(floods) == 1
        for user in recipients:
            sent = fake.sent_to(user)
            if user in blocked_users:
                assert sent == []
            else:
                assert len(sent) == 1, user
                assert sent[0].text == "Nouvelle annonce n°42 : rencontre des catalyseurs"
                assert sent[0].callback_data == ["rsvp:42"]
        assert max(time.sleeps) == pytest.approx(1.0 + SenderSettings().flood_margin)  # the 429's pause
