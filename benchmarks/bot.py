"""End-to-end bot benchmark: simulated users asking questions of the real application at once.

    python -m benchmarks.bot [--quick] [--repeats K] [--profile] [--flood] [--json OUT]

The real configuration (config.yaml: the model and backend, the built index) runs with a temporary SQLite
database and the query cache off (every question is encoded: the worst case). The bot runs alone in this
process; the fake Bot API and the simulated users run in a child process (`benchmarks/bot_users.py`), so the
bot's event loop carries only the bot, as in production. The real python-telegram-bot application polls the
fake over HTTP on 127.0.0.1, without the rate limiter (the fake is local and never floods). For N = 1, 10 and
50 users, every user asks a question, waits for the reply, then asks the next one, all users at once; the
levels are interleaved over `--repeats` passes. A reply's latency runs from the moment the update is pushed
to the fake to the arrival of the bot's sendMessage to that chat at the fake.

The floor: the time the backend takes to encode 50 distinct questions in one batch, measured in this process
just before and just after every level (median of 3 each). The target: p95 at N = 50 ≤ 1.3 × the floor.
`--profile` adds a pass with yappi on (`benchmarks/bot_profile.py`): CPU per reply by library.

It prints Markdown tables and the machine; it asserts nothing. Run it from the repository root, with the
model installed and the index built (`catabot index`).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import multiprocessing
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import telegram

from benchmarks.bot_flood import flood_table
from benchmarks.bot_profile import Profile
from benchmarks.bot_report import report
from benchmarks.bot_users import LevelRun, Plan, drive
from bot.app import Services, open_services
from bot.config import Config, load_config
from bot.embedding.cache import QueryCache
from bot.retrieval.search import Answer, Searcher
from bot.telegram.run import fast_event_loop
from bot.testing.harness import running_application

ROOT = Path(__file__).resolve().parent.parent
CONFIG_FILE = ROOT / "config.yaml"
QUESTION_FILES = (ROOT / "eval" / "calibration.jsonl", ROOT / "eval" / "dev.jsonl")
LEVELS = (1, 10, 50)
ROUNDS, QUICK_ROUNDS = 5, 2
FLOOR_BATCH, FLOOR_REPEATS = 50, 3
LAG_INTERVAL = 0.005  # the event-loop lag probe's sleep
TARGET_FACTOR = 1.3  # p95 at 50 users ≤ 1.3 × the batch-50 encoding floor (issue 16)


@dataclass(frozen=True)
class RemoteApi:
    """The fake Bot API served by the users' process (`bot.testing.harness.BotApi`)."""

    token: str
    api_root: str

    def instance_root(self, instance: str) -> str:
        return f"{self.api_root}/{instance}"


class CountingSearcher:
    """Wraps `searcher.search_many` in place to record every batch (size, wall seconds)."""

    def __init__(self, searcher: Searcher) -> None:
        self.batches: list[tuple[int, float]] = []
        original = searcher.search_many

        def search_many(questions: Sequence[str], **kwargs: Any) -> list[Answer]:
            start = time.perf_counter()
            try:
                return original(questions, **kwargs)
            finally:
                self.batches.append((len(questions), time.perf_counter() - start))

        searcher.search_many = search_many  # type: ignore[method-assign]


class LoopLag:
    """How late the event loop wakes a task that sleeps LAG_INTERVAL: a blocked loop shows here."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []

    async def run(self) -> None:
        while True:
            start = time.monotonic()
            await asyncio.sleep(LAG_INTERVAL)
            self.lags_ms.append(max(0.0, (time.monotonic() - start - LAG_INTERVAL) * 1000))


def encoding_floor(searcher: Searcher, questions: Sequence[str]) -> dict[str, float]:
    """Milliseconds to encode FLOOR_BATCH distinct questions in one call (and to search them), median of
    FLOOR_REPEATS; the query cache, if any, is bypassed."""
    batch = list(questions[:FLOOR_BATCH])
    embedder = searcher.embedder.inner if isinstance(searcher.embedder, QueryCache) else searcher.embedder

    def timed(work: Callable[[], object]) -> float:
        times = []
        for _ in range(FLOOR_REPEATS):
            start = time.perf_counter()
            work()
            times.append(1000 * (time.perf_counter() - start))
        return statistics.median(times)

    return {"encode_ms": timed(lambda: embedder.embed_queries(batch))}


class BotSide:
    """Answers the users' process between levels: floor, counters, profiler, stop."""

    def __init__(self, services: Services, questions: Sequence[str]) -> None:
        self.services = services
        self.questions = questions
        self.counter = CountingSearcher(services.questions.searcher)
        self.profile = Profile()
        self._mark = (0, 0.0)
        self._profiling = False
        self._lag: LoopLag | None = None
        self._lag_task: asyncio.Task[None] | None = None

    async def floor(self) -> dict[str, float]:
        return await asyncio.to_thread(encoding_floor, self.services.questions.searcher, self.questions)

    def begin(self, profile: bool) -> None:
        times = psutil.Process().cpu_times()
        self._mark = (len(self.counter.batches), times.user + times.system)
        self._lag = LoopLag()
        self._lag_task = asyncio.create_task(self._lag.run())
        self._profiling = profile
        if profile:
            self.profile.start()

    async def end(self) -> dict[str, Any]:
        split = self.profile.stop() if self._profiling else None
        times = psutil.Process().cpu_times()
        assert self._lag_task is not None and self._lag is not None
        self._lag_task.cancel()
        lags = sorted(self._lag.lags_ms) or [0.0]
        return {
            "batches": self.counter.batches[self._mark[0] :],
            "cpu_seconds": times.user + times.system - self._mark[1],
            "loop_lag_p95_ms": lags[int(0.95 * (len(lags) - 1))],
            "loop_lag_max_ms": lags[-1],
            "profile": dataclasses.asdict(split) if split else None,
        }


@dataclass
class Outcome:
    runs: list[LevelRun]  # sent by the users' process
    invalid: int  # requests the fake refused
    unexpected: int  # sendMessage calls nobody waited for
    backend: str  # "openvino bf16"
    flood: dict[str, Any] | None = None  # `--flood`: see benchmarks/bot_flood.py


async def serve(
    conn: Connection, config: Config, questions: Sequence[str], say: Callable[[str], None]
) -> Outcome:
    """Run the bot for the users' process until it says "done"; return what it measured."""

    async def receive() -> tuple[Any, ...]:
        return tuple(await asyncio.to_thread(conn.recv))

    say("Loading the model and the index…")
    services = await open_services(config, say=say)
    try:
        side = BotSide(services, questions)
        kind, api_root = await receive()
        assert kind == "hello"
        async with running_application(RemoteApi("123456:TEST", api_root), services, poll_timeout=10):
            conn.send("ready")
            while True:
                kind, *args = await receive()
                if kind == "floor":
                    conn.send(await side.floor())
                elif kind == "begin":
                    side.begin(bool(args[0]))
                    conn.send("ok")
                elif kind == "end":
                    conn.send(await side.end())
                elif kind == "done":
                    break
        conn.send("bye")
        embedder = services.questions.searcher.embedder
        return Outcome(args[0], args[1], args[2], f"{embedder.backend} {embedder.precision}", args[3])
    finally:
        await services.close()


def load_questions() -> list[str]:
    questions: list[str] = []
    for path in QUESTION_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                questions.append(str(json.loads(line)["question"]))
    return list(dict.fromkeys(questions))


def benchmark_config(database: Path, *, cache: bool) -> Config:
    """config.yaml as it is (no environment overrides), a throwaway SQLite database, the cache off."""
    config = load_config(CONFIG_FILE, env={})
    url = f"sqlite+aiosqlite:///{database}"
    embedding = config.embedding if cache else dataclasses.replace(config.embedding, query_cache=0)
    return dataclasses.replace(
        config, database=dataclasses.replace(config.database, url=url), embedding=embedding
    )


def machine(config: Config, services_backend: str) -> dict[str, str]:
    cpu, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                found = set(line.split(":", 1)[1].split()) & {"avx2", "avx512f", "avx512_bf16", "amx_bf16"}
                flags = " ".join(sorted(found)) or "none of avx2/avx512/amx"
    except OSError:
        pass
    return {
        "cpu": f"{cpu} (flags: {flags})",
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "load average (1 min) at the end": f"{os.getloadavg()[0]:.1f}",
        "system": platform.platform(),
        "python": platform.python_version(),
        "model": f"{config.embedding.model} on {services_backend} "
        f"(embedding.threads: {config.embedding.threads or 'auto'})",
        "python-telegram-bot": telegram.__version__,
        "sqlite": sqlite3.sqlite_version,
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_ROUNDS} questions per user, not {ROUNDS}"
    )
    parser.add_argument("--repeats", type=int, default=3, help="interleaved passes over the levels (3)")
    parser.add_argument("--profile", action="store_true", help="one more pass with the profiler (yappi)")
    parser.add_argument(
        "--cache", action="store_true", help="keep config.yaml's query cache (off by default)"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    parser.add_argument(
        "--flood", action="store_true", help="only the flood: 500 updates in 4.5 s (benchmarks/bot_flood.py)"
    )
    args = parser.parse_args(argv)
    fast_event_loop()  # as `catabot run` does
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    rounds = QUICK_ROUNDS if args.quick else ROUNDS
    questions = load_questions()
    plan = Plan(LEVELS, rounds, args.repeats, args.profile, tuple(questions), flood=args.flood)

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    users = context.Process(target=drive, args=(theirs, plan), name="catabot-bench-users", daemon=True)
    users.start()
    try:
        with tempfile.TemporaryDirectory(prefix="catabot-bench-") as tmp:
            config = benchmark_config(Path(tmp) / "bench.db", cache=args.cache)
            outcome = asyncio.run(serve(ours, config, questions, say))
    finally:
        users.join(timeout=30)
    info = machine(config, outcome.backend)
    if outcome.flood is not None:
        print(flood_table(outcome.flood))
        print("\n".join(f"- {name}: {value}" for name, value in info.items()))
        if args.json:
            args.json.write_text(json.dumps({"flood": outcome.flood, "machine": info}, indent=2) + "\n")
        return
    text, data = report(
        outcome.runs, plan, outcome.invalid, outcome.unexpected, info, target_factor=TARGET_FACTOR
    )
    print(text)
    if args.json:
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
