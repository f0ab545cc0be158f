"""End-to-end bot benchmark: simulated users asking questions of the real application at once.

    python -m benchmarks.bot [--quick] [--json OUT]

The real configuration (config.yaml: the e5 model, the built index) runs with a temporary SQLite database.
The real python-telegram-bot application polls the in-process fake Bot API over HTTP on 127.0.0.1, without
the rate limiter (the fake is local and never floods). For N = 1, 10 and 50 users, every user asks a
question, waits for the reply, then asks the next one, all users at once. A reply's latency runs from the
moment the update is pushed to the fake (just before `user_sends`) to the arrival of the bot's
sendMessage to that chat at the fake (its `Call.time`, time.monotonic() at request arrival).

It prints a Markdown table and the machine; it asserts nothing. Run it from the repository root, with the
model installed and the index built (`catabot index`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import telegram
import torch

from bot.app import Services, open_services
from bot.config import Config, load_config
from bot.retrieval.search import Answer, Searcher
from bot.testing import FakeTelegram
from bot.testing.harness import running_application

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / "config.yaml"
QUESTION_FILES = (ROOT / "eval" / "calibration.jsonl", ROOT / "eval" / "dev.jsonl")
LEVELS = (1, 10, 50)
ROUNDS, QUICK_ROUNDS = 5, 2
WARMUP_SEQUENTIAL, WARMUP_BURST = 3, 10
TARGET_USERS, TARGET_P95_MS = 50, 250.0
REPLY_TIMEOUT = 60.0
WATCH_INTERVAL = 0.002  # how often the reply watcher looks at new calls (latency uses Call.time)
LAG_INTERVAL = 0.005  # the event-loop lag probe's sleep


# --------------------------------------------------------------------------- measuring


@dataclass(frozen=True)
class Batch:
    """One call to Searcher.search_many made by the batcher's worker thread."""

    size: int
    seconds: float


class CountingSearcher:
    """Wraps `searcher.search_many` in place to record every batch (size and wall time)."""

    def __init__(self, searcher: Searcher) -> None:
        self.batches: list[Batch] = []
        original = searcher.search_many

        def search_many(questions: Sequence[str], **kwargs: Any) -> list[Answer]:
            start = time.perf_counter()
            try:
                return original(questions, **kwargs)
            finally:
                self.batches.append(Batch(len(questions), time.perf_counter() - start))

        searcher.search_many = search_many  # type: ignore[method-assign]


@dataclass
class Reply:
    pushed: float  # time.monotonic() just before user_sends
    typing: float | None  # arrival of the sendChatAction to that chat, if any
    sent: float  # arrival of the sendMessage to that chat

    @property
    def latency_ms(self) -> float:
        return (self.sent - self.pushed) * 1000


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


class LoopLag:
    """How late the event loop wakes a task that sleeps LAG_INTERVAL: a blocked loop shows here."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []

    async def run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_INTERVAL)
            self.lags_ms.append(max(0.0, (time.monotonic() - start - LAG_INTERVAL) * 1000))


class CpuMeter:
    """CPU used by this process and by the others (plus steal), as a share of all cores."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._cores = psutil.cpu_count() or 1
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        t = psutil.cpu_times()
        busy = sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
        own = self._me.cpu_times()
        return busy, own.user + own.system, time.monotonic()

    def shares(self) -> tuple[float, float]:
        (busy0, own0, t0), (busy1, own1, t1) = self._start, self._sample()
        span = (t1 - t0) * self._cores
        own = (own1 - own0) / span
        return own, max(0.0, (busy1 - busy0) / span - own)


# --------------------------------------------------------------------------- results


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


@dataclass
class LevelResult:
    users: int
    rounds: int
    replies: int
    missing: int
    seconds: float
    replies_per_second: float
    p50_ms: float
    p95_ms: float
    max_ms: float
    first_round_p95_ms: float  # the first question of every user, all pushed at the same moment
    typing_p50_ms: float  # push → sendChatAction: polling, dispatch, user upsert and lookup
    typing_p95_ms: float
    after_typing_p50_ms: float  # sendChatAction → sendMessage: search, question insert, rendering
    after_typing_p95_ms: float
    batches: int
    mean_batch: float
    max_batch: int
    search_ms_per_batch: float
    search_busy_share: float  # share of the wall time the search thread was busy
    loop_lag_p95_ms: float
    loop_lag_max_ms: float
    cpu_share: float
    others_cpu_share: float
    latencies_ms: list[float] = field(repr=False)


@dataclass
class Bench:
    fake: FakeTelegram
    services: Services
    counter: CountingSearcher
    watcher: ReplyWatcher
    questions: list[str]


# --------------------------------------------------------------------------- simulated users


async def ask(bench: Bench, user_id: int, question: str) -> Reply | None:
    future = bench.watcher.expect(user_id)
    pushed = time.monotonic()
    await bench.fake.user_sends(user_id, question)
    try:
        typing, sent = await asyncio.wait_for(future, REPLY_TIMEOUT)
    except TimeoutError:
        print(f"warning: user {user_id} got no reply within {REPLY_TIMEOUT:.0f} s", file=sys.stderr)
        return None
    return Reply(pushed, typing, sent)


async def user_session(bench: Bench, user_id: int, questions: Sequence[str]) -> list[Reply | None]:
    return [await ask(bench, user_id, question) for question in questions]


def user_questions(pool: Sequence[str], user: int, rounds: int, offset: int) -> list[str]:
    """Different users ask different questions at the same moment."""
    return [pool[(offset + user * rounds + r) % len(pool)] for r in range(rounds)]


async def warm_up(bench: Bench) -> None:
    """The first encodings (and batch shapes, SQLite pages, HTTP connections) are slower: not measured."""
    for i in range(WARMUP_SEQUENTIAL):
        await ask(bench, 900_000 + i, bench.questions[i])
    burst = [
        ask(bench, 900_100 + i, bench.questions[(WARMUP_SEQUENTIAL + i) % len(bench.questions)])
        for i in range(WARMUP_BURST)
    ]
    await asyncio.gather(*burst)


async def run_level(bench: Bench, users: int, rounds: int, base_user: int, offset: int) -> LevelResult:
    lag = LoopLag()
    lag_task = asyncio.create_task(lag.run())
    first_batch = len(bench.counter.batches)
    cpu = CpuMeter()
    start = time.monotonic()
    sessions = [
        user_session(bench, base_user + u, user_questions(bench.questions, u, rounds, offset))
        for u in range(users)
    ]
    by_user = await asyncio.gather(*sessions)
    outcomes = [reply for session in by_user for reply in session]
    end = time.monotonic()
    cpu_share, others_share = cpu.shares()
    lag_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await lag_task
    replies = [r for r in outcomes if r is not None]
    batches = bench.counter.batches[first_batch:]
    latencies = [r.latency_ms for r in replies] or [float("nan")]
    first_round = [s[0].latency_ms for s in by_user if s and s[0] is not None] or [float("nan")]
    typed = [r for r in replies if r.typing is not None]
    to_typing = [(r.typing - r.pushed) * 1000 for r in typed if r.typing is not None] or [float("nan")]
    after_typing = [(r.sent - r.typing) * 1000 for r in typed if r.typing is not None] or [float("nan")]
    last_reply = max((r.sent for r in replies), default=end)
    search_seconds = sum(b.seconds for b in batches)
    return LevelResult(
        users=users,
        rounds=rounds,
        replies=len(replies),
        missing=len(outcomes) - len(replies),
        seconds=last_reply - start,
        replies_per_second=len(replies) / (last_reply - start),
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        max_ms=max(latencies),
        first_round_p95_ms=percentile(first_round, 95),
        typing_p50_ms=percentile(to_typing, 50),
        typing_p95_ms=percentile(to_typing, 95),
        after_typing_p50_ms=percentile(after_typing, 50),
        after_typing_p95_ms=percentile(after_typing, 95),
        batches=len(batches),
        mean_batch=statistics.fmean(b.size for b in batches) if batches else 0.0,
        max_batch=max((b.size for b in batches), default=0),
        search_ms_per_batch=1000 * search_seconds / len(batches) if batches else 0.0,
        search_busy_share=search_seconds / (last_reply - start),
        loop_lag_p95_ms=percentile(lag.lags_ms, 95) if lag.lags_ms else 0.0,
        loop_lag_max_ms=max(lag.lags_ms, default=0.0),
        cpu_share=cpu_share,
        others_cpu_share=others_share,
        latencies_ms=latencies,
    )


# --------------------------------------------------------------------------- setup and report


def load_questions() -> list[str]:
    questions: list[str] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(str(json.loads(line)["question"]))
    return questions


def benchmark_config(database: Path) -> Config:
    """config.yaml as it is (no environment overrides), with a throwaway SQLite database."""
    config = load_config(CONFIG_FILE, env={})
    url = f"sqlite+aiosqlite:///{database}"
    return dataclasses.replace(config, database=dataclasses.replace(config.database, url=url))


async def run_all(config: Config, rounds: int, say: Callable[[str], None]) -> tuple[list[LevelResult], int]:
    """Run every level; return the results and how many invalid requests the fake saw."""
    say("Loading the model and the index…")
    services = await open_services(config, say=say)
    counter = CountingSearcher(services.questions.batcher.searcher)
    try:
        async with (
            FakeTelegram() as fake,
            running_application(fake, services, deliver=True, poll_timeout=10),
        ):
            watcher = ReplyWatcher(fake)
            watch_task = asyncio.create_task(watcher.run())
            bench = Bench(fake, services, counter, watcher, load_questions())
            try:
                say("Warming up…")
                await warm_up(bench)
                results = []
                for number, users in enumerate(LEVELS, start=1):
                    say(f"{users} user(s) × {rounds} questions…")
                    results.append(
                        await run_level(bench, users, rounds, base_user=number * 10_000, offset=number * 7)
                    )
                if watcher.unexpected:
                    say(f"warning: {watcher.unexpected} sendMessage call(s) were not the awaited reply")
            finally:
                watch_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watch_task
        return results, len(fake.invalid_requests)
    finally:
        await services.close()


def machine(config: Config) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = psutil.virtual_memory().total / 2**30
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "memory": f"{memory:.1f} GiB",
        "system": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "model": f"{config.embedding.model} (embedding.threads: {config.embedding.threads or 'auto'})",
        "python-telegram-bot": telegram.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def table(results: Sequence[LevelResult]) -> str:
    head = (
        "| users | replies | replies/s | p50 ms | p95 ms | max ms | 1st round p95 ms "
        "| push→typing p50/p95 ms | typing→reply p50/p95 ms | searches | mean batch | ms/search "
        "| loop lag p95/max ms | CPU ours/others |"
    )
    lines = [head, "|" + "---:|" * head.count(" | ") + "---:|"]
    for r in results:
        replies = f"{r.replies}" + (f" ({r.missing} missing)" if r.missing else "")
        lines.append(
            f"| {r.users} | {replies} | {r.replies_per_second:.1f} | {r.p50_ms:.0f} | {r.p95_ms:.0f} "
            f"| {r.max_ms:.0f} | {r.first_round_p95_ms:.0f} | {r.typing_p50_ms:.0f} / {r.typing_p95_ms:.0f} "
            f"| {r.after_typing_p50_ms:.0f} / {r.after_typing_p95_ms:.0f} | {r.batches} | {r.mean_batch:.1f} "
            f"| {r.search_ms_per_batch:.0f} | {r.loop_lag_p95_ms:.0f} / {r.loop_lag_max_ms:.0f} "
            f"| {100 * r.cpu_share:.0f}% / {100 * r.others_cpu_share:.0f}% |"
        )
    return "\n".join(lines)


def report(results: Sequence[LevelResult], rounds: int, invalid: int, info: dict[str, str]) -> str:
    out = [
        f"## Bot end to end: N users × {rounds} questions each, all at once",
        "",
        "Real config (e5 model, built index), temporary SQLite database, the real application polling the",
        "fake Bot API over HTTP on 127.0.0.1, **rate limiter off** (the fake is local and never floods).",
        "Latency: update pushed to the fake → the bot's sendMessage arrives at the fake. The fake runs in",
        "the bot's process and event loop, so its own CPU is counted (a real deployment does not pay it).",
        "",
        table(results),
        "",
        "1st round: every user's first question, all pushed at the same moment. push→typing: polling,",
        "dispatch and the user lookups before sendChatAction; typing→reply: search, the question's insert",
        "and rendering. searches: batched Searcher.search_many calls (worker thread), ms/search their mean",
        "wall time. Loop lag: how late a 5 ms sleep wakes up. CPU: this process / every other process, as a",
        "share of all cores (others > 0 means a shared, noisy machine).",
        "",
    ]
    target = next((r for r in results if r.users == TARGET_USERS), None)
    if target is not None:
        verdict = "met" if target.p95_ms <= TARGET_P95_MS else "MISSED"
        out += [
            f"Target p95 ≤ {TARGET_P95_MS:.0f} ms at N = {TARGET_USERS}: {verdict} ({target.p95_ms:.0f} ms).",
            f"CPU-bound part at N = {TARGET_USERS}: {target.batches} batched search calls for "
            f"{target.replies} questions, mean batch {target.mean_batch:.1f} (max {target.max_batch}), "
            f"{target.search_ms_per_batch:.0f} ms per call; the search thread was busy "
            f"{100 * target.search_busy_share:.0f}% of the time.",
            "",
        ]
    if invalid:
        out += [f"**Warning: the fake Bot API refused {invalid} request(s) (fake.invalid_requests).**", ""]
    out += ["Machine:", ""] + [f"- {key}: {value}" for key, value in info.items()]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_ROUNDS} questions per user, not {ROUNDS}"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rounds = QUICK_ROUNDS if args.quick else ROUNDS

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="catabot-bench-") as tmp:
        config = benchmark_config(Path(tmp) / "bench.db")
        results, invalid = asyncio.run(run_all(config, rounds, say))
    info = machine(config)
    print(report(results, rounds, invalid, info))
    if args.json:
        data = {
            "rounds": rounds,
            "rate_limit": False,
            "invalid_requests": invalid,
            "target": {"users": TARGET_USERS, "p95_ms": TARGET_P95_MS},
            "machine": info,
            "levels": [asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
