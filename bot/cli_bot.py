"""The commands around the bot: `catabot run`, `chat`, `db upgrade` and `events import`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from bot.cli_common import Failure, say, unreadable
from bot.config import Config
from bot.messages import text

log = logging.getLogger("catabot")


def run(config: Config, args: argparse.Namespace) -> int:
    import os

    token = os.environ.get("TELEGRAM_BOT_TOKEN", "").strip()
    if not token:
        say(text("sandbox_no_token"))
        return chat(config, args)
    from bot import redaction
    from bot.telegram.run import run_bot

    redaction.install([token, config.telegram.webhook_secret])
    return _start(config, lambda: run_bot(config, token), secrets=(token, config.telegram.webhook_secret))


def chat(config: Config, args: argparse.Namespace) -> int:
    from bot.telegram.sandbox import run_sandbox

    return _start(config, lambda: run_sandbox(config))


def _start(config: Config, serve: Callable[[], None], *, secrets: Sequence[str] = ()) -> int:
    """Run the bot; a start-up failure is one line `catabot: <file or key>: <problem>` and status 2."""
    from bot.redaction import redact
    from bot.startup import describe, quiet_bootstrap

    quiet_bootstrap()
    try:
        serve()
    except KeyboardInterrupt:
        print()
    except Exception as exc:
        line = describe(exc, config)
        if line is None:  # unexpected: its traceback only at DEBUG, through the redacting log handlers
            log.debug("start-up failure", exc_info=True)
            line = redact(f"start-up failed: {type(exc).__name__}: {exc}", secrets).splitlines()[0]
        print(f"catabot: {line}", file=sys.stderr)
        return 2
    return 0


def db(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import upgrade_database

    try:
        url = asyncio.run(upgrade_database(config))
    except OSError as exc:
        raise Failure(f"database: {exc}") from exc
    print(f"Database schema is up to date ({_safe_url(url)}).")
    return 0


def _safe_url(url: str) -> str:
    """The URL without its password, fit for output."""
    import re

    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def events(config: Config, args: argparse.Namespace) -> int:
    import asyncio

    from bot.app import open_event_service
    from bot.events.clock import utc_to_paris
    from bot.events.importer import EventImportError, read_events_file
    from bot.events.records import EventFields

    try:  # the whole file is checked first: one bad entry and nothing is written
        read = read_events_file(args.file)
    except EventImportError as exc:
        for problem in exc.problems:
            print(problem)
        return 1
    except OSError as exc:
        raise unreadable(args.file, exc) from exc
    for warning in read.warnings:
        print(f"{warning} (warning)")
    imported = read.events

    async def store() -> dict[str, int]:
        database, service = await open_event_service(config)
        outcomes = {"created": 0, "updated": 0, "unchanged": 0, "cancelled": 0}
        try:
            for item in imported:
                fields = EventFields(
                    item.title,
                    item.starts_at,
                    item.ends_at,
                    item.place,
                    item.link,
                    item.description,
                    item.audience,
                    item.all_day,
                )
                # a new time or a cancellation tells the subscribers, through the outbox
                _, outcome, cancelled = await service.import_event(
                    item.uid, fields, cancelled=item.status == "cancelled"
                )
                outcomes[str(outcome)] += 1
                outcomes["cancelled"] += cancelled
            kept = {item.uid for item in imported}
            for series in read.series:  # occurrences no longer in the file (a new EXDATE…) are cancelled
                assert read.window is not None
                outcomes["cancelled"] += await service.cancel_missing_occurrences(series, kept, *read.window)
        finally:
            await database.close()
        return outcomes

    counts = asyncio.run(store())
    print(
        f"{args.file}: {len(imported)} events — {counts['created']} created, {counts['updated']} updated, "
        f"{counts['unchanged']} unchanged, {counts['cancelled']} cancelled."
    )
    for summary in read.series_summaries():
        last = f", up to {utc_to_paris(summary.last):%Y-%m-%d}" if summary.last else ""
        count = f"{summary.imported} occurrence{'s' if summary.imported != 1 else ''}"
        line = f"  recurring « {summary.title} » ({summary.uid}): {count} imported{last}"
        if summary.next_left_out is not None:
            line += (
                f"; later ones (next on {utc_to_paris(summary.next_left_out):%Y-%m-%d}) are imported by "
                f"running this import again closer to them"
            )
        print(line + ".")
    return 0
