"""What the issue-13 event tests share: a bot on SQLite or PostgreSQL with a movable clock, `catabot events
import` run as a coordinator runs it, and the outbox drained through the fake Bot API."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
from collections.abc import AsyncIterator
from pathlib import Path

from bot.cli import main
from bot.events.clock import paris_to_utc
from bot.testing import SentMessage
from tests.botkit import BotEnv, bot_config, running_bot
from tests.conftest import write_config
from tests.telegram.test_bot_events import MovableClock

ICS_HEAD = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//FR\r\n"
ICS_TAIL = "END:VCALENDAR\r\n"


def ics(*vevents: str) -> str:
    """A calendar of VEVENTs, each given as its property lines (one per line)."""
    body = "".join(
        "BEGIN:VEVENT\r\n" + "".join(f"{line}\r\n" for line in v.strip().splitlines()) + "END:VEVENT\r\n"
        for v in vevents
    )
    return ICS_HEAD + body + ICS_TAIL


@contextlib.asynccontextmanager
async def events_bot(
    db_url: str, tmp_path: Path, knowledge: Path, clock: MovableClock
) -> AsyncIterator[BotEnv]:
    config = bot_config(tmp_path, knowledge)
    config = dataclasses.replace(config, database=dataclasses.replace(config.database, url=db_url))
    async with running_bot(config) as running:
        running.services.users.clock = running.services.events.clock = clock
        yield running
        assert running.fake.invalid_requests == []


async def import_file(db_url: str, tmp_path: Path, path: Path) -> tuple[int, str]:
    """`catabot events import PATH` on the bot's database: (exit code, what it printed)."""
    folder = tmp_path / "cli"
    folder.mkdir(exist_ok=True)
    config = write_config(folder, knowledge=tmp_path / "knowledge")
    with config.open("a", encoding="utf-8") as out:
        out.write(f"database:\n  url: '{db_url}'\n")
    printed = io.StringIO()

    def run() -> int:
        with contextlib.redirect_stdout(printed):
            return main(["--config", str(config), "events", "import", str(path)])

    code = await asyncio.to_thread(run)
    return code, printed.getvalue()


async def drain(env: BotEnv) -> None:
    await env.drain()


def texts(env: BotEnv, user_id: int) -> list[str]:
    return [m.text or "" for m in env.fake.sent_to(user_id)]


async def card_of(env: BotEnv, user_id: int, title: str) -> SentMessage:
    """The first card of an event whose title has `title` in the user's /evenements."""
    before = len(env.fake.sent_to(user_id))
    await env.say(user_id, "/evenements")
    await env.fake.wait_for(lambda: any(title in t for t in texts(env, user_id)[before:]))
    return next(m for m in env.fake.sent_to(user_id)[before:] if m.text and title in m.text)


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return paris_to_utc(dt.datetime(year, month, day, hour, minute))
