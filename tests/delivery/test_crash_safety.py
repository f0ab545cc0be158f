"""Crash safety of a campaign: `catabot run` killed with SIGKILL in its middle, then started again.

The issue's contract: "Kill the bot with SIGKILL in the middle of a campaign, start it again: the campaign
finishes, every recipient receives the message, and duplicates are at most the messages that were in flight
at the kill."

The real `python -m bot run` runs as a subprocess (polling the fake Bot API served by this test), with
`delivery.rate: 25` and `delivery.claim_timeout: 6`. A launched campaign for 250 recipients is recorded in
the database before the first start. Once at least 60 of its messages have reached Telegram, the bot is
killed with SIGKILL; a second bot is started on the same database, runs until every recipient has the
message, and is stopped with SIGTERM (exit code 0).

The in-flight bound. The sender sends one message at a time: it records a message SENT only after Telegram
answered, and claims nothing else meanwhile. So when the process dies, at most one message can have reached
Telegram without being recorded SENT (the request answered, its `finish` not committed yet); it stays SENDING
and the next sender sends it again once the claim is stale (`claim_timeout`). The other messages the dead
sender had claimed but not sent yet also stay SENDING: they are sent (once) by the next sender, at its start
or later by its periodic release of stale claims (the restart comes sooner than `claim_timeout`, so some
claims are not stale at its start). Hence: duplicates ≤ IN_FLIGHT_BOUND = 1.

Runs on SQLite (a file in tmp_path), and on PostgreSQL (a schema of its own) when CATABOT_TEST_POSTGRES_URL
is set.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.announcements.records import ANNOUNCEMENT
from bot.announcements.service import AnnouncementService, OutcomeKind
from bot.delivery.outbox import Status
from bot.storage import open_database
from bot.testing import FakeTelegram
from bot.users.records import Role
from tests.conftest import ROOT, write_config

pytestmark = pytest.mark.slow  # subprocesses killed and restarted

RECIPIENTS = 250
FIRST_USER = 710_001
USERS = list(range(FIRST_USER, FIRST_USER + RECIPIENTS))
AUTHOR = USERS[0]  # the coordinator who launched the campaign is one of its recipients
KILL_AFTER = 60  # announcement messages received by Telegram before the SIGKILL
IN_FLIGHT_BOUND = 1  # messages sent but not recorded at the kill: one at most (see the module docstring)
RATE, CLAIM_TIMEOUT = 25, 6
TEXT = "Assemblée générale le <b>12 juin</b> : inscrivez-vous !"
PLAIN = "Assemblée générale le 12 juin : inscrivez-vous !"
START_TIMEOUT = 60.0  # the first bot's start (migrations, index build with the fake embedder) and 60 sends
FINISH_TIMEOUT = 90.0  # the second bot's start and the rest of the campaign
STOP_TIMEOUT = 30.0


async def launch_campaign(url: str, base_dir: Path) -> int:
    """250 users (the first a coordinator) and a campaign for all of them, launched now; its id."""
    database = await open_database(url, base_dir)
    try:
        storage = database.storage
        for user_id in USERS:
            await storage.users.touch_user(user_id, language_hint="fr")
        await storage.users.set_role(AUTHOR, Role.COORDINATOR)
        service = AnnouncementService(storage, require_approval=False)
        campaign = await service.draft(AUTHOR, TEXT)
        preview = await service.choose_audience(campaign.id, "all")
        assert preview is not None and preview.recipients == RECIPIENTS
        outcome = await service.send_now(campaign.id, by=AUTHOR)
        assert outcome.kind == OutcomeKind.SENDING and outcome.recipients == RECIPIENTS
        return campaign.id
    finally:
        await database.close()


async def outbox_counts(url: str, base_dir: Path, campaign_id: int) -> dict[Status, int]:
    database = await open_database(url, base_dir)
    try:
        return await database.storage.outbox.counts(ANNOUNCEMENT, campaign_id)
    finally:
        await database.close()


def bot_env(tmp_path: Path, knowledge: Path, url: str, fake: FakeTelegram) -> dict[str, str]:
    """The environment of `catabot run`: the test's config only (no CATABOT_* override from outside)."""
    config = write_config(tmp_path, knowledge=knowledge)
    with config.open("a", encoding="utf-8") as out:
        out.write(
            f"log_level: WARNING\n"
            f"database:\n  url: {json.dumps(url)}\n"
            f"delivery:\n  rate: {RATE}\n  claim_timeout: {CLAIM_TIMEOUT}\n"
        )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CATABOT_") and k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE")
    }
    return {
        **env,
        "CATABOT_CONFIG": str(config),
        "TELEGRAM_BOT_TOKEN": fake.token,
        "TELEGRAM_API_BASE": fake.api_root,
    }


async def start_bot(env: dict[str, str], log: Path) -> asyncio.subprocess.Process:
    with log.open("ab") as out:  # a file, not a pipe: nobody has to read it while the bot runs
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env, stdout=out, stderr=out
        )


def announcements_received(fake: FakeTelegram) -> Counter[int]:
    """How many times each recipient received the announcement (sendMessage answered 200)."""
    wanted = set(USERS)
    received: Counter[int] = Counter()
    for call in fake.calls:
        if call.method != "sendMessage" or call.status != 200:
            continue
        chat_id = int(call.params.get("chat_id", 0))
        if chat_id in wanted:
            assert call.params.get("text") == TEXT, call.params
            received[chat_id] += 1
    return received


async def wait_until(
    condition: Callable[[], bool], process: asyncio.subprocess.Process, log: Path, timeout: float, what: str
) -> None:
    """Poll `condition`; fail early (with the bot's output) if the bot exits, or after `timeout`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.returncode is not None:
            pytest.fail(f"the bot exited ({process.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        await asyncio.sleep(0.01)


async def test_sigkill_mid_campaign_then_restart_finishes_it(
    db_url: str, tmp_path: Path, knowledge_copy: Path
) -> None:
    campaign_id = await launch_campaign(db_url, tmp_path)
    log = tmp_path / "bot.log"
    async with FakeTelegram() as fake:
        fake.add_private_chats(USERS)
        env = bot_env(tmp_path, knowledge_copy, db_url, fake)

        first = await start_bot(env, log)
        try:
            await wait_until(
                lambda: sum(announcements_received(fake).values()) >= KILL_AFTER,
                first, log, START_TIMEOUT, f"{KILL_AFTER} announcements sent",
            )  # fmt: skip
            first.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(first.wait(), STOP_TIMEOUT) == -signal.SIGKILL
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        await asyncio.sleep(0.2)  # a request the dead bot had sent is answered (and recorded) by now
        at_kill = sum(announcements_received(fake).values())
        assert KILL_AFTER <= at_kill < RECIPIENTS, "killed in the middle of the campaign"
        left = await outbox_counts(db_url, tmp_path, campaign_id)
        assert left[Status.SENDING] > 0, "the killed sender held claims the next one must take back"
        assert left[Status.SENT] >= at_kill - IN_FLIGHT_BOUND

        second = await start_bot(env, log)
        try:
            await wait_until(
                lambda: len(announcements_received(fake)) == RECIPIENTS,
                second, log, FINISH_TIMEOUT, "every recipient served after the restart",
            )  # fmt: skip
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), STOP_TIMEOUT) == 0, log.read_text()[-3000:]
        finally:
            if second.returncode is None:
                second.kill()
                await second.wait()

        received = announcements_received(fake)
        assert set(received) == set(USERS), "every recipient received the announcement"
        duplicates = sum(received.values()) - RECIPIENTS
        assert duplicates <= IN_FLIGHT_BOUND, (
            f"{duplicates} duplicates (at the kill: {at_kill} sent, {left[Status.SENT]} recorded)"
        )
        outbox = {status.value: n for status, n in left.items() if n}
        print(
            f"at the kill: {at_kill} sent, outbox {outbox}; "
            f"after the restart: {sum(received.values())} sends, {duplicates} duplicate(s)"
        )
        assert all(message.text == PLAIN for user in USERS for message in fake.sent_to(user))
        assert fake.invalid_requests == []

    counts = await outbox_counts(db_url, tmp_path, campaign_id)
    assert counts == {**dict.fromkeys(Status, 0), Status.SENT: RECIPIENTS}
    database = await open_database(db_url, tmp_path)
    try:
        service = AnnouncementService(database.storage, require_approval=False)
        report = await service.report(campaign_id)
        assert report is not None and report.pending == 0 and report.sent == RECIPIENTS
        assert await service.finish_if_done(campaign_id), "the campaign is finished"
    finally:
        await database.close()
