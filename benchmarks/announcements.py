"""Announcement delivery benchmark: one campaign to N recipients through the real outbox sender.

    python -m benchmarks.announcements [--quick] [--recipients N] [--postgres URL] [--json OUT]

A campaign for N recipients (10,000; --quick: 1,000) is launched with `AnnouncementService` on the real
storage (a temporary SQLite file, or a schema of its own on the PostgreSQL server given by --postgres, dropped
afterwards), then sent by the real `DeliveryRuntime` (the `Sender`, `TelegramTransport` over a plain PTB
`Bot`, and the announcement renderer, wired as the bot wires them, `delivery.rate` = 25/s) to the fake Bot
API over HTTP on 127.0.0.1. 2% of the recipients have blocked the bot without the bot knowing
(`user_blocks(notify=False)`: it learns it from the 403), and Telegram's flood control answers 429
(retry_after 2 s) a few times during the run (once every 1,500 messages; every N/4 for smaller runs).

The sender runs in a child process of its own (`--worker`), so that its memory is measured alone: the fake
Bot API, in this process, keeps every request it gets. Its RSS is sampled every second with psutil.

Reported:

* rate: messages handled (sent + blocked) / (sending time − the pauses Telegram asked for), over the
  configured rate (target ≥ 0.95). A pause is the 429's retry_after + the sender's `flood_margin`; the
  observed gap between the 429 and the next request is shown beside it. The sending time is the worker's
  `Sender.drain()` wall time.
* counts: the outbox, the campaign report, what the fake received and the users marked as gone, each
  checked against what is expected (sent = N − blocked, blocked = 2%, failed 0, nothing sent twice).
* memory: the worker's RSS at the start of sending, its peak and end, and the slope of a linear fit over
  the second half of the sending time (flat: a few hundred KiB/min at most, allocator noise).

It prints Markdown tables and the machine; nothing about timing is asserted. The exit code is 1 when a
count differs from what is expected. Run it from the repository root; a full run takes about
N / 25 seconds + the flood pauses (≈ 7 min).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import platform
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import psutil
import sqlalchemy
import telegram
from sqlalchemy import false, func, insert, select, text

from bot.announcements.records import ANNOUNCEMENT
from bot.announcements.service import AnnouncementService, OutcomeKind
from bot.config import DeliveryConfig
from bot.delivery.outbox import OutboxStore, Status
from bot.delivery.sender import SenderSettings
from bot.storage import normalize_url, open_database
from bot.storage.engine import transaction
from bot.storage.schema import users
from bot.telegram.delivery import DeliveryRuntime
from bot.telegram.features.announcements import register_renderer
from bot.testing import Call, FakeTelegram
from bot.testing.databases import scratch_schema
from bot.users import UserService
from bot.users.records import Role

if TYPE_CHECKING:
    from bot.app import Services

ROOT = Path(__file__).resolve().parent.parent
RECIPIENTS, QUICK_RECIPIENTS = 10_000, 1_000
RATE = 25.0  # delivery.rate, as in config.yaml
TARGET_RATIO = 0.95
BLOCKED_EVERY = 50  # one recipient in 50 (2%) has blocked the bot
FLOOD_EVERY = 1_500  # a 429 every this many messages (every N/4 for smaller runs)
FLOOD_SECONDS = 2
FIRST_USER = 1_000_001
AUTHOR = FIRST_USER  # the coordinator who launches the campaign, one of its recipients
TEXT = (
    "<b>Rencontre régionale des catalyseurs</b>\n"
    "Le 12 juin à Lyon : ateliers, retours d'expérience et temps d'échange. Inscriptions ouvertes !"
)
SAMPLE_EVERY = 1.0  # seconds between two RSS samples
WATCH_EVERY = 0.05  # seconds between two looks at the fake's new requests
PROGRESS_EVERY = 30.0
MIB, KIB = 1024 * 1024, 1024


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- the worker (child process)


@dataclass
class SenderServices:
    """The part of `bot.app.Services` that `DeliveryRuntime` and its renderers use (no model, no index)."""

    outbox: OutboxStore
    users: UserService
    announcements: AnnouncementService


async def work(database_url: str, api_root: str, token: str, rate: float, result: Path) -> None:
    """Drain the outbox with the bot's delivery runtime; write timings and counts to `result` (JSON)."""
    database = await open_database(database_url, Path.cwd())
    try:
        storage = database.storage
        services = SenderServices(
            storage.outbox, UserService(storage, ()), AnnouncementService(storage, require_approval=False)
        )
        runtime = DeliveryRuntime(
            cast("Services", services), token, api_root, DeliveryConfig(rate=rate), (register_renderer,)
        )
        await runtime.start(background=False)
        try:
            start = time.monotonic()
            sent = await runtime.sender.drain()
            end = time.monotonic()
        finally:
            await runtime.stop()
    finally:
        await database.close()
    cpu = psutil.Process().cpu_times()
    data = {"start": start, "end": end, "sent": sent, "cpu_seconds": cpu.user + cpu.system}
    result.write_text(json.dumps(data), encoding="utf-8")


# --------------------------------------------------------------------------- setup


@contextlib.asynccontextmanager
async def database_url(postgres: str | None, folder: Path) -> AsyncIterator[str]:
    """A temporary SQLite file, or a fresh schema on the PostgreSQL server (dropped afterwards)."""
    if postgres is None:
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    server_url = normalize_url(postgres, folder)
    async with scratch_schema(server_url, "catabot_bench") as url:
        yield url


async def prepare(url: str, folder: Path, recipients: list[int]) -> tuple[int, str]:
    """Users (one INSERT: setup, not measured) and the launched campaign; (campaign id, database server)."""
    database = await open_database(url, folder)
    try:
        now = dt.datetime.now(dt.UTC)
        rows = [
            {"id": user_id, "language": "fr", "role": Role.NEWCOMER.value, "active": True}
            | {"created_at": now, "last_seen_at": now}
            for user_id in recipients
        ]
        async with transaction(database.engine, write=True) as conn:
            await conn.execute(insert(users), rows)
            if conn.dialect.name == "postgresql":
                server = "PostgreSQL " + str((await conn.execute(text("SHOW server_version"))).scalar())
            else:
                server = f"SQLite {sqlite3.sqlite_version} (WAL)"
        storage = database.storage
        await storage.users.set_role(AUTHOR, Role.COORDINATOR)
        service = AnnouncementService(storage, require_approval=False)
        campaign = await service.draft(AUTHOR, TEXT)
        await service.choose_audience(campaign.id, "all")
        outcome = await service.send_now(campaign.id, by=AUTHOR)
        if outcome.kind != OutcomeKind.SENDING or outcome.recipients != len(recipients):
            raise RuntimeError(f"the campaign was not launched as expected: {outcome}")
        return campaign.id, server
    finally:
        await database.close()


# --------------------------------------------------------------------------- watching the run


@dataclass
class Sample:
    time: float  # time.monotonic(): system-wide on Linux, so comparable with the worker's and the fake's
    rss: int


async def sample_rss(pid: int, samples: list[Sample]) -> None:
    process = psutil.Process(pid)
    while True:
        with contextlib.suppress(psutil.Error):
            samples.append(Sample(time.monotonic(), process.memory_info().rss))
        await asyncio.sleep(SAMPLE_EVERY)


async def inject_floods(fake: FakeTelegram, total: int, every: int, injected: list[float]) -> None:
    """A 429 for the next sendMessage each time `every` more messages went out; progress on stderr."""
    seen, messages, next_flood = 0, 0, every
    last_progress = time.monotonic()
    while True:
        calls = fake.calls
        messages += sum(1 for call in calls[seen:] if call.method == "sendMessage" and call.status != 429)
        seen = len(calls)
        if messages >= next_flood and next_flood < total:
            fake.flood("sendMessage", FLOOD_SECONDS)
            injected.append(time.monotonic())
            next_flood += every
        if time.monotonic() - last_progress >= PROGRESS_EVERY:
            last_progress = time.monotonic()
            say(f"  {messages:,} / {total:,} messages")
        await asyncio.sleep(WATCH_EVERY)


# --------------------------------------------------------------------------- results


@dataclass
class Check:
    name: str
    expected: int
    actual: int

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass
class Result:
    recipients: int
    backend: str
    rate: float
    messages: int  # deliveries that went to Telegram and were answered 200 or 403
    sent: int
    blocked: int
    failed: int
    floods: int
    seconds: float  # the worker's drain() wall time
    pauses: float  # Σ (retry_after + flood_margin) over the 429s
    observed_pauses: float  # Σ time from each 429 to the next sendMessage, as the fake saw them
    achieved_rate: float  # messages / (seconds - pauses)
    ratio: float  # achieved_rate / rate
    api_rate: float  # the same between the first and the last request the fake got
    rss_start_mib: float
    rss_peak_mib: float
    rss_end_mib: float
    rss_slope_kib_per_min: float  # linear fit over the second half of the sending time
    rss_second_half_growth_kib: float
    worker_cpu_share: float  # of one core, over the sending time (start-up included in the CPU seconds)
    others_cpu_share: float  # of all cores, everything but the worker, over the run
    checks: list[Check] = field(default_factory=list)
    rss_samples: list[tuple[float, int]] = field(default_factory=list, repr=False)


def _retry_after(call: Call) -> float:
    match = re.search(r"retry after (\d+)", call.error or "")
    return float(match.group(1)) if match else 0.0


def memory(samples: Sequence[Sample], start: float, end: float) -> tuple[float, float, float, float, float]:
    """(start, peak, end in MiB, slope of the 2nd half in KiB/min, its growth over the 2nd half in KiB)."""
    during = [s for s in samples if start <= s.time <= end] or list(samples[-1:])
    middle = (start + end) / 2
    second = [s for s in during if s.time >= middle]
    slope = 0.0
    if len(second) >= 2:
        fit = statistics.linear_regression([s.time for s in second], [float(s.rss) for s in second])
        slope = fit.slope
    span = second[-1].time - second[0].time if len(second) >= 2 else 0.0
    return (
        during[0].rss / MIB,
        max(s.rss for s in during) / MIB,
        during[-1].rss / MIB,
        slope * 60 / KIB,
        slope * span / KIB,
    )


async def run_benchmark(total: int, postgres: str | None, rate: float) -> Result:
    recipients = list(range(FIRST_USER, FIRST_USER + total))
    gone = [user for index, user in enumerate(recipients) if index % BLOCKED_EVERY == BLOCKED_EVERY // 2]
    every = max(1, min(FLOOD_EVERY, total // 4))
    with tempfile.TemporaryDirectory(prefix="catabot-bench-") as tmp:
        folder = Path(tmp)
        async with database_url(postgres, folder) as url:
            say(f"Launching a campaign for {total:,} recipients…")
            campaign_id, backend = await prepare(url, folder, recipients)
            async with FakeTelegram() as fake:
                fake.add_private_chats(recipients)
                for user in gone:
                    await fake.user_blocks(user, notify=False)
                result_file = folder / "worker.json"
                env = {**os.environ, "TELEGRAM_BOT_TOKEN": fake.token}
                say(f"Sending at {rate:g}/s (about {total / rate / 60:.0f} min)…")
                cpu_before = psutil.cpu_times()
                wall_before = time.monotonic()
                worker = await asyncio.create_subprocess_exec(
                    sys.executable, "-m", "benchmarks.announcements", "--worker",
                    "--database", url, "--api-root", fake.api_root, "--rate", str(rate),
                    "--result", str(result_file),
                    cwd=ROOT, env=env,
                )  # fmt: skip
                samples: list[Sample] = []
                injected: list[float] = []
                tasks = [
                    asyncio.create_task(sample_rss(worker.pid, samples)),
                    asyncio.create_task(inject_floods(fake, total, every, injected)),
                ]
                try:
                    code = await worker.wait()
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    if worker.returncode is None:
                        worker.kill()
                        await worker.wait()
                cpu_after, wall_after = psutil.cpu_times(), time.monotonic()
                if code != 0:
                    raise RuntimeError(f"the worker failed (exit code {code})")
                timing = json.loads(result_file.read_text(encoding="utf-8"))
                calls = [call for call in fake.calls if call.method == "sendMessage"]
                invalid = len(fake.invalid_requests)
            outbox, report, inactive = await final_state(url, folder, campaign_id)

    start, end = float(timing["start"]), float(timing["end"])
    seconds = end - start
    margin = SenderSettings().flood_margin
    floods = [index for index, call in enumerate(calls) if call.status == 429]
    pauses = sum(_retry_after(calls[index]) + margin for index in floods)
    observed = sum(calls[index + 1].time - calls[index].time for index in floods if index + 1 < len(calls))
    answered = [call for call in calls if call.status in (200, 403)]
    received = Counter(int(call.params["chat_id"]) for call in calls if call.status == 200)
    messages = len(answered)
    achieved = messages / (seconds - pauses)
    span = answered[-1].time - answered[0].time - pauses if len(answered) > 1 else float("nan")
    rss = memory(samples, start, end)
    busy = _busy(cpu_after) - _busy(cpu_before)
    worker_cpu = float(timing["cpu_seconds"])
    cores = psutil.cpu_count() or 1
    expected_sent = total - len(gone)
    checks = [
        Check("outbox SENT", expected_sent, outbox[Status.SENT]),
        Check("outbox BLOCKED (2%)", len(gone), outbox[Status.BLOCKED]),
        Check("outbox FAILED", 0, outbox[Status.FAILED]),
        Check("outbox SKIPPED", 0, outbox[Status.SKIPPED]),
        Check("outbox PENDING + SENDING", 0, outbox[Status.PENDING] + outbox[Status.SENDING]),
        Check("report sent", expected_sent, report["sent"]),
        Check("report blocked", len(gone), report["blocked"]),
        Check("report failed", 0, report["failed"]),
        Check("report pending", 0, report["pending"]),
        Check("drain() returned (SENT)", expected_sent, int(timing["sent"])),
        Check("Telegram: sendMessage answered 200", expected_sent, sum(received.values())),
        Check("Telegram: recipients served", expected_sent, len(received)),
        Check("Telegram: served twice", 0, sum(1 for n in received.values() if n > 1)),
        Check("Telegram: served but blocked", 0, len(received.keys() & set(gone))),
        Check("Telegram: 403 answers", len(gone), sum(1 for call in calls if call.status == 403)),
        Check("Telegram: 429 answers", len(injected), len(floods)),
        Check("Telegram: invalid requests", 0, invalid),
        Check("users marked gone (inactive)", len(gone), inactive),
    ]
    return Result(
        recipients=total,
        backend=backend,
        rate=rate,
        messages=messages,
        sent=outbox[Status.SENT],
        blocked=outbox[Status.BLOCKED],
        failed=outbox[Status.FAILED],
        floods=len(floods),
        seconds=seconds,
        pauses=pauses,
        observed_pauses=observed,
        achieved_rate=achieved,
        ratio=achieved / rate,
        api_rate=(messages - 1) / span if len(answered) > 1 else float("nan"),
        rss_start_mib=rss[0],
        rss_peak_mib=rss[1],
        rss_end_mib=rss[2],
        rss_slope_kib_per_min=rss[3],
        rss_second_half_growth_kib=rss[4],
        worker_cpu_share=worker_cpu / seconds,
        others_cpu_share=max(0.0, busy - worker_cpu) / ((wall_after - wall_before) * cores),
        checks=checks,
        rss_samples=[(round(s.time - start, 3), s.rss) for s in samples],
    )


def _busy(times: Any) -> float:
    names = ("user", "nice", "system", "irq", "softirq", "steal")
    return float(sum(getattr(times, name, 0.0) for name in names))


async def final_state(
    url: str, folder: Path, campaign_id: int
) -> tuple[dict[Status, int], dict[str, int], int]:
    """The outbox counts, the campaign report, and how many users are marked inactive."""
    database = await open_database(url, folder)
    try:
        outbox = await database.storage.outbox.counts(ANNOUNCEMENT, campaign_id)
        report = await AnnouncementService(database.storage, require_approval=False).report(campaign_id)
        assert report is not None
        async with transaction(database.engine, write=False) as conn:
            inactive = (await conn.execute(select(func.count()).where(users.c.active == false()))).scalar()
    finally:
        await database.close()
    summary = {
        "sent": report.sent,
        "blocked": report.blocked,
        "failed": report.failed_count,
        "pending": report.pending,
    }
    return outbox, summary, int(inactive or 0)


# --------------------------------------------------------------------------- report


def machine(backend: str) -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cores": f"{os.cpu_count()} logical, {len(os.sched_getaffinity(0))} usable",
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "system": platform.platform(),
        "python": platform.python_version(),
        "python-telegram-bot": telegram.__version__,
        "SQLAlchemy": sqlalchemy.__version__,
        "database": backend,
    }


def tables(r: Result) -> str:
    verdict = "met" if r.ratio >= TARGET_RATIO else "MISSED"
    lines = [
        f"## Announcements: one campaign to {r.recipients:,} recipients at {r.rate:g} messages/s",
        "",
        "Real `DeliveryRuntime` (Sender + TelegramTransport + announcement renderer) and storage "
        f"({r.backend}), against the fake Bot API over HTTP; {100 / BLOCKED_EVERY:g}% of the recipients "
        f"blocked the bot, {r.floods} × 429 (retry_after {FLOOD_SECONDS} s).",
        "",
        "| messages | sending s | pauses asked s (observed) | msg/s outside pauses | ratio to "
        f"{r.rate:g}/s | API-side msg/s | worker CPU (1 core) | others' CPU (all cores) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {r.messages:,} | {r.seconds:.1f} | {r.pauses:.1f} ({r.observed_pauses:.1f}) "
        f"| {r.achieved_rate:.2f} | **{r.ratio:.3f}** | {r.api_rate:.2f} | {100 * r.worker_cpu_share:.0f}% "
        f"| {100 * r.others_cpu_share:.0f}% |",
        "",
        f"Target ratio ≥ {TARGET_RATIO}: {verdict}.",
        "",
        "| worker RSS start MiB | peak MiB | end MiB | slope, 2nd half KiB/min | growth, 2nd half KiB |",
        "|---:|---:|---:|---:|---:|",
        f"| {r.rss_start_mib:.1f} | {r.rss_peak_mib:.1f} | {r.rss_end_mib:.1f} "
        f"| {r.rss_slope_kib_per_min:+.1f} | {r.rss_second_half_growth_kib:+.0f} |",
        "",
        "| count | expected | actual | |",
        "|---|---:|---:|---|",
    ]
    lines += [
        f"| {c.name} | {c.expected:,} | {c.actual:,} | {'ok' if c.ok else '**WRONG**'} |" for c in r.checks
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_RECIPIENTS:,} recipients")
    parser.add_argument("--recipients", type=int, metavar="N", help=f"recipients (default {RECIPIENTS:,})")
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL server (a temporary schema is used)")
    parser.add_argument("--rate", type=float, default=RATE, help=argparse.SUPPRESS)
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    worker = parser.add_argument_group("worker (internal)")
    worker.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    worker.add_argument("--database", help=argparse.SUPPRESS)
    worker.add_argument("--api-root", help=argparse.SUPPRESS)
    worker.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.worker:
        token = os.environ["TELEGRAM_BOT_TOKEN"]
        asyncio.run(work(args.database, args.api_root, token, args.rate, args.result))
        return 0
    total = args.recipients or (QUICK_RECIPIENTS if args.quick else RECIPIENTS)
    if total < 2:
        parser.error("--recipients: 2 or more")
    result = asyncio.run(run_benchmark(total, args.postgres, args.rate))
    info = machine(result.backend)
    print(tables(result))
    print()
    print("Machine:\n")
    print("\n".join(f"- {key}: {value}" for key, value in info.items()))
    if args.json:
        data = {"machine": info, "target_ratio": TARGET_RATIO, "result": asdict(result)}
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return 0 if all(check.ok for check in result.checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())
