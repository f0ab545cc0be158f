"""Two `catabot run` processes in webhook mode on one PostgreSQL database, the fake Bot API handing the
updates to each in turn: every flow continues on the other instance, and no work is done twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text as sql

from bot.messages import text
from bot.storage.engine import create_engine
from bot.testing import FakeTelegram, SentMessage
from tests.conftest import ROOT
from tests.storage_fixtures import POSTGRES_ENV, database_url

pytestmark = [
    pytest.mark.skipif(not os.environ.get(POSTGRES_ENV), reason=f"{POSTGRES_ENV} not set"),
    pytest.mark.slow,
]

ADMIN = 1
READERS = (701, 702, 703)
INSTANCES = ("one", "two")
SECRET = "two-instances-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(folder: Path, knowledge: Path, database: str, port: int) -> Path:
    """One instance's config: its own index folder (each instance has the model and the index files), the
    shared database, its own webhook port."""
    folder.mkdir()
    path = folder / "config.yaml"
    path.write_text(
        f"knowledge_dir: {knowledge}\nindex_dir: {folder / 'index'}\nadmins: [{ADMIN}]\n"
        "embedding:\n  model: 'fake:256'\n"
        f"database:\n  url: '{database}'\n"
        f"telegram:\n  webhook_url: http://127.0.0.1:{port}/telegram\n  webhook_port: {port}\n"
        f"  webhook_secret: {SECRET}\n"
        "events:\n  reminder_offsets: ['3h']\n  tick_seconds: 1\n"
        "announcements:\n  progress_seconds: 1\n",
        encoding="utf-8",
    )
    return path


@asynccontextmanager
async def _instances(
    fake: FakeTelegram, tmp_path: Path, knowledge: Path, database: str
) -> AsyncIterator[None]:
    processes: list[asyncio.subprocess.Process] = []
    try:
        for name in INSTANCES:
            port = _free_port()
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "CATABOT_"))},
                "CATABOT_CONFIG": str(_config(tmp_path / name, knowledge, database, port)),
                "TELEGRAM_BOT_TOKEN": fake.token,
                "TELEGRAM_API_BASE": fake.instance_root(name),
            }
            processes.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "run",
                    cwd=ROOT,
                    env=env,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )
            )
        await fake.wait_for(lambda: len(fake.calls_to("setWebhook")) == len(INSTANCES), timeout=120)
        yield
    finally:
        for process in processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                _, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
            except TimeoutError:
                process.kill()
                raise
            assert process.returncode == 0, stderr.decode()
            assert fake.token not in stderr.decode()


class Users:
    """The users' side, each update going to the next instance (the fake's round robin)."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake

    async def say(self, user: int, message: str) -> SentMessage:
        before = len(self.fake.sent_to(user))
        await self.fake.user_sends(user, message)
        await self.fake.wait_for(lambda: len(self.fake.sent_to(user)) > before, timeout=30)
        return self.fake.sent_to(user)[before]

    async def click(self, user: int, message: SentMessage, data: str) -> str:
        query = await self.fake.user_clicks(user, message, data)
        await self.fake.wait_for(lambda: self.fake.answered_callback(query) is not None, timeout=30)
        answered = self.fake.answered_callback(query)
        assert answered is not None
        return str(answered.params.get("text") or "")

    async def press(self, user: int, message: SentMessage, label: str) -> str:
        return await self.click(user, message, next(d for lbl, d in _buttons(message) if lbl == label))


def _buttons(message: SentMessage) -> list[tuple[str, str]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def _position(message: SentMessage) -> str | None:
    first = (message.text or "").split(" ", 1)[0]
    return first if "/" in first and first.replace("/", "").isdigit() else None


async def _diagnosis(users: Users, user: int) -> None:
    intro = await users.say(user, "/diagnostic")
    await users.press(user, intro, text("diag_start"))
    await users.fake.wait_for(lambda: _position(intro) == "1/22", timeout=30)
    while (position := _position(intro)) is not None:
        labels = [lbl for lbl, d in _buttons(intro) if d.startswith("d:a:")]
        await users.press(user, intro, "Oui" if "Oui" in labels else labels[0])
        await users.fake.wait_for(lambda p=position: _position(intro) != p, timeout=30)  # type: ignore[misc]
    sent = len(users.fake.sent_to(user))
    await users.press(user, intro, text("diag_see_result"))
    await users.fake.wait_for(
        lambda: any(m.kind == "photo" for m in users.fake.sent_to(user)[sent:]), timeout=60
    )
    assert any("Résultat de votre autodiagnostic" in (m.text or "") for m in users.fake.sent_to(user)[sent:])


async def _new_event(users: Users, starts: dt.datetime) -> None:
    await users.say(ADMIN, "/nouvel_evenement")
    local = starts.astimezone(ZoneInfo("Europe/Paris"))
    for answer in ("Café des catalyseurs", f"{local:%d/%m/%Y %Hh%M}", "-", "Lyon", "-"):
        reply = await users.say(ADMIN, answer)
        if "ne:dy" in [d for _, d in _buttons(reply)]:  # the date understood, to confirm (issue 13)
            before = len(users.fake.sent_to(ADMIN))
            await users.click(ADMIN, reply, "ne:dy")
            await users.fake.wait_for(lambda n=before: len(users.fake.sent_to(ADMIN)) > n, timeout=30)  # type: ignore[misc]
    audience = await users.say(ADMIN, "-")
    preview = len(users.fake.sent_to(ADMIN))
    await users.click(ADMIN, audience, next(d for _, d in _buttons(audience) if d.endswith(":all")))
    await users.fake.wait_for(lambda: len(users.fake.sent_to(ADMIN)) > preview, timeout=30)
    published = len(users.fake.sent_to(ADMIN))
    await users.click(ADMIN, users.fake.sent_to(ADMIN)[-1], "ne:ok")
    await users.fake.wait_for(lambda: len(users.fake.sent_to(ADMIN)) > published, timeout=30)
    assert users.fake.sent_to(ADMIN)[-1].text == text("new_event_published").replace("<b>", "").replace(
        "</b>", ""
    )


async def _announce(users: Users, body: str) -> None:
    await users.say(ADMIN, "/annonce")
    choose = await users.say(ADMIN, body)
    sent = len(users.fake.sent_to(ADMIN))
    await users.click(ADMIN, choose, next(d for _, d in _buttons(choose) if d.endswith(":all")))
    await users.fake.wait_for(lambda: len(users.fake.sent_to(ADMIN)) >= sent + 3, timeout=30)
    await users.click(ADMIN, users.fake.sent_to(ADMIN)[-1], next(
        d for _, d in _buttons(users.fake.sent_to(ADMIN)[-1]) if d.startswith("an:go:")
    ))  # fmt: skip


async def test_two_instances_share_one_postgresql_and_take_updates_in_turn(
    tmp_path: Path, knowledge_copy: Path
) -> None:
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(database_url("postgresql", tmp_path))
        fake = await stack.enter_async_context(FakeTelegram())
        await stack.enter_async_context(_instances(fake, tmp_path, knowledge_copy, database))
        users = Users(fake)
        for reader in READERS:
            await users.say(reader, "/start")
            subscriptions = await users.say(reader, "/abonnements")
            await users.click(reader, subscriptions, "s:all")  # a reminder before every event

        await _diagnosis(users, READERS[0])
        starts = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        await _new_event(users, starts)
        body = "Assemblée du réseau jeudi : venez nombreux !"
        await _announce(users, body)

        def received(user: int, snippet: str) -> int:
            return sum(snippet in (m.text or "") for m in fake.sent_to(user))

        for reader in READERS:
            await fake.wait_for(lambda r=reader: received(r, body) >= 1, timeout=60)  # type: ignore[misc]
            await fake.wait_for(lambda r=reader: received(r, "Café des catalyseurs") >= 1, timeout=60)  # type: ignore[misc]
        report = text("announce_report", title="x", sent=0, blocked=0, failed=0, skipped=0).split(" ")[0]
        await fake.wait_for(lambda: received(ADMIN, report) >= 1, timeout=60)
        await asyncio.sleep(3)  # three more scheduler ticks and sender rounds on both instances

        urls = Counter(d.url for d in fake.webhook_deliveries if 200 <= d.status < 300)
        assert len(urls) == 2 and min(urls.values()) >= sum(urls.values()) // 2 - 1, urls
        for reader in READERS:
            assert received(reader, body) == 1, f"{reader} got the announcement once"
            assert received(reader, "Café des catalyseurs") == 1, f"{reader} got the reminder once"
        assert received(ADMIN, report) == 1, "one report"
        engine = create_engine(database)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(sql("SELECT kind, status, attempts FROM deliveries"))).all()
                holders = (await conn.execute(sql("SELECT count(DISTINCT holder) FROM job_leases"))).scalar()
        finally:
            await engine.dispose()
        assert {(kind, status, attempts) for kind, status, attempts in rows} == {
            ("announcement", "sent", 0),
            ("reminder", "sent", 0),
        }, "each message sent at its first claim, none retried"
        assert len([r for r in rows if r[0] == "announcement"]) == len(READERS) + 1
        assert holders is not None and holders >= 1
        assert fake.invalid_requests == []
