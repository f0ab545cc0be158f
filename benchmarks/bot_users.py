"""The user side of `benchmarks/bot.py`, in a process of its own: the fake Bot API and the simulated users.

The bot process (the measured one) talks to this process only through the fake's HTTP API, as it would
to Telegram, and through a control pipe between levels (`BotControl`: measure the encoding floor, start
and stop its counters and profiler). Latencies are measured here: from the moment an update is pushed to
the fake (just before `user_sends`) to the arrival of the bot's sendMessage to that chat (`Call.time`);
both are `time.monotonic()` of this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import psutil

from benchmarks.bot_flood import flood
from bot.testing import FakeTelegram

REPLY_TIMEOUT = 60.0
WATCH_INTERVAL = 0.002  # how often the reply watcher looks at new calls (latency uses Call.time)
WARMUP_SEQUENTIAL, WARMUP_BURST = 3, 10


@dataclass(frozen=True)
class Plan:
    """What to run: `repeats` passes over `levels` (interleaved), each user asking `rounds` questions."""

    levels: tuple[int, ...]
    rounds: int
    repeats: int
    profile: bool  # one more pass over the levels with the profiler on (its latencies are not reported)
    questions: tuple[str, ...]
    flood: bool = False  # then only the flood of `benchmarks/bot_flood.py`, no levels


@dataclass
class Reply:
    pushed: float  # time.monotonic() just before user_sends
    typing: float | None  # arrival of the sendChatAction to that chat, if any
    sent: float  # arrival of the sendMessage to that chat


@dataclass
class LevelRun:
    """One level as seen from the user side, plus what the bot process reported for the same span."""

    users: int
    repeat: int  # -1: the profiled pass
    seconds: float  # first push → last reply
    replies: list[tuple[float, float | None, float]]  # (pushed, typing, sent), monotonic seconds
    missing: int
    fake_cpu_seconds: float  # this process (fake + users)
    all_cpu_seconds: float  # every process on the machine (including steal)
    cores: int
    floor_before: dict[str, float]  # the bot's encoding floor measured just before this level
    floor_after: dict[str, float]
    bot: dict[str, Any]  # BotControl "end": batches, loop lag, CPU, profile


class BotControl:
    """Requests to the bot process over the pipe (one at a time, answered in order)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def call(self, *request: Any) -> Any:
        self.conn.send(request)
        return await asyncio.to_thread(self.conn.recv)


class ReplyWatcher:
    """Follows `fake.calls` and hands each waiting chat the arrival time of its next sendMessage.

    A user registers (`expect`) before pushing its question and asks the next one only after the reply,
    so the next successful sendMessage to that chat is the reply.
    """

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.unexpected = 0  # sendMessage calls nobody waited for (e.g. an answer split in two)
        self._seen = 0
        self._waiting: dict[int, asyncio.Future[tuple[float | None, float]]] = {}
        self._typing: dict[int, float] = {}

    def expect(self, chat_id: int) -> asyncio.Future[tuple[float | None, float]]:
        future: asyncio.Future[tuple[float | None, float]] = asyncio.get_running_loop().create_future()
        self._waiting[chat_id] = future
        self._typing.pop(chat_id, None)
        return future

    async def run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(WATCH_INTERVAL)

    def poll(self) -> None:
        calls = self.fake.calls
        for call in calls[self._seen :]:
            if call.status != 200 or "chat_id" not in call.params:
                continue
            chat_id = int(call.params["chat_id"])
            if call.method == "sendChatAction":
                self._typing[chat_id] = call.time
            elif call.method == "sendMessage":
                future = self._waiting.pop(chat_id, None)
                if future is None or future.done():
                    self.unexpected += 1
                else:
                    future.set_result((self._typing.pop(chat_id, None), call.time))
        self._seen = len(calls)


@dataclass
class Users:
    fake: FakeTelegram
    watcher: ReplyWatcher
    questions: Sequence[str]

    async def ask(self, user_id: int, question: str) -> Reply | None:
        future = self.watcher.expect(user_id)
        pushed = time.monotonic()
        await self.fake.user_sends(user_id, question)
        try:
            typing, sent = await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            print(f"warning: user {user_id} got no reply within {REPLY_TIMEOUT:.0f} s", file=sys.stderr)
            return None
        return Reply(pushed, typing, sent)

    async def session(self, user_id: int, questions: Sequence[str]) -> list[Reply | None]:
        return [await self.ask(user_id, question) for question in questions]

    def questions_of(self, user: int, rounds: int, offset: int) -> list[str]:
        """Different users ask different questions at the same moment."""
        pool = self.questions
        return [pool[(offset + user * rounds + r) % len(pool)] for r in range(rounds)]

    async def warm_up(self) -> None:
        """The first encodings (batch shapes, SQLite pages, HTTP connections) are slower: not measured."""
        for i in range(WARMUP_SEQUENTIAL):
            await self.ask(900_000 + i, self.questions[i])
        burst = [
            self.ask(900_100 + i, self.questions[(WARMUP_SEQUENTIAL + i) % len(self.questions)])
            for i in range(WARMUP_BURST)
        ]
        await asyncio.gather(*burst)


def _busy_seconds() -> float:
    t = psutil.cpu_times()
    return sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))


async def run_level(
    users: Users, control: BotControl, n: int, rounds: int, base_user: int, offset: int, repeat: int
) -> LevelRun:
    me = psutil.Process()
    floor_before = await control.call("floor")
    await control.call("begin", repeat < 0)
    own0, busy0 = sum(me.cpu_times()[:2]), _busy_seconds()
    start = time.monotonic()
    sessions = [users.session(base_user + u, users.questions_of(u, rounds, offset)) for u in range(n)]
    outcomes = [reply for session in await asyncio.gather(*sessions) for reply in session]
    own1, busy1 = sum(me.cpu_times()[:2]), _busy_seconds()
    bot = await control.call("end")
    floor_after = await control.call("floor")
    replies = [r for r in outcomes if r is not None]
    last = max((r.sent for r in replies), default=time.monotonic())
    return LevelRun(
        users=n,
        repeat=repeat,
        seconds=last - start,
        replies=[(r.pushed, r.typing, r.sent) for r in replies],
        missing=len(outcomes) - len(replies),
        fake_cpu_seconds=own1 - own0,
        all_cpu_seconds=busy1 - busy0,
        cores=psutil.cpu_count() or 1,
        floor_before=floor_before,
        floor_after=floor_after,
        bot=bot,
    )


async def _drive(conn: Connection, plan: Plan) -> None:
    control = BotControl(conn)
    async with FakeTelegram() as fake:
        await control.call("hello", fake.api_root)  # answered once the application polls the fake
        watcher = ReplyWatcher(fake)
        watch_task = asyncio.create_task(watcher.run())
        users = Users(fake, watcher, plan.questions)
        runs: list[LevelRun] = []
        flooded: dict[str, Any] | None = None
        try:
            await users.warm_up()
            if plan.flood:
                print("flood…", file=sys.stderr, flush=True)
                flooded = await flood(fake, plan.questions)
            passes = [(r, plan.levels) for r in range(0 if plan.flood else plan.repeats)]
            if plan.profile:
                passes.append((-1, plan.levels))
            for repeat, levels in passes:
                for number, n in enumerate(levels, start=1):
                    label = "profiled" if repeat < 0 else f"pass {repeat + 1}/{plan.repeats}"
                    print(f"{n} user(s) × {plan.rounds} questions ({label})…", file=sys.stderr, flush=True)
                    base = (repeat + 2) * 100_000 + number * 10_000
                    runs.append(
                        await run_level(users, control, n, plan.rounds, base, number * 7 + repeat * 3, repeat)
                    )
        finally:
            watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch_task
        # the bot stops its application (its last getUpdates needs the fake) before the fake goes
        await control.call("done", runs, len(fake.invalid_requests), watcher.unexpected, flooded)


def drive(conn: Connection, plan: Plan) -> None:
    """The child process' entry point: serve the fake Bot API and run `plan` against the bot."""
    asyncio.run(_drive(conn, plan))
