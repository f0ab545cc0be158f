"""Under load (issue 15, « Why » 11): buttons and commands are served ahead of the questions, the
scheduler's ticks stay out of INFO, a question is answered even when the database cannot record it."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from bot.cli import configure_logging
from bot.messages import text
from bot.retrieval.search import Answer, Searcher
from bot.telegram.features import questions
from bot.users.records import User
from bot.users.service import SEEN_EVERY
from tests.botkit import BotEnv, bot_config, buttons, running_bot
from tests.delivery.test_delivery_faults import ReadOnlySwitch

QUESTION = "Quelle différence entre un partenariat et une alliance ?"
LANE = 2


class BlockedEncoder:
    """The real searcher, whose batches wait until `release` is set (an encoder busy with a long batch)."""

    def __init__(self, searcher: Searcher) -> None:
        self.searcher = searcher
        self.entered, self.release = threading.Event(), threading.Event()

    def check_question(self, question: str) -> str:
        return self.searcher.check_question(question)

    def search_many(self, questions: Sequence[str], **kwargs: Any) -> list[Answer]:
        self.entered.set()
        self.release.wait(30)
        return self.searcher.search_many(questions, **kwargs)


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BotEnv]:
    monkeypatch.setattr(questions, "QUESTION_LANE", LANE)
    async with running_bot(bot_config(tmp_path, knowledge_copy)) as running:
        yield running
        assert running.fake.invalid_requests == []


async def test_buttons_and_commands_are_served_while_questions_wait_for_the_encoder(env: BotEnv) -> None:
    service = env.services.questions
    blocked = BlockedEncoder(service.searcher)
    service.searcher = blocked  # type: ignore[assignment]
    askers = list(range(600, 605))
    try:
        for user in askers:
            await env.fake.user_sends(user, QUESTION)
        await asyncio.to_thread(blocked.entered.wait, 30)
        menu = await env.say(700, "/start")  # a command, while the questions wait
        assert await env.click(700, menu, buttons(menu)[0][1]) == ""  # and a button press
        await env.fake.wait_for(lambda: len(env.fake.sent_to(700)) == 2)
        assert all(env.fake.sent_to(user) == [] for user in askers), "no question was answered yet"
        typing = [c for c in env.fake.calls_to("sendChatAction") if int(c.params.get("chat_id", 0)) in askers]
        # Each question left the lane once its typing action was sent: they all wait in one batch.
        assert len(typing) == len(askers)
    finally:
        blocked.release.set()
    await env.fake.wait_for(lambda: all(len(env.fake.sent_to(user)) == 1 for user in askers))
    assert all("Source" in env.fake.sent_to(user)[0].text for user in askers)


async def test_a_question_is_answered_when_the_database_refuses_to_record_it(env: BotEnv) -> None:
    switch = ReadOnlySwitch(env.services.database)
    switch.on = True  # a full disk, a read-only file: every write is refused
    try:
        reply = await env.say(620, QUESTION)
    finally:
        switch.on = False
    assert switch.refused > 0
    assert "Source" in reply.text and reply.text != text("error")
    assert not [d for _, d in buttons(reply) if d.startswith("f:")], "no feedback on a question not kept"
    assert (await env.services.database.storage.questions.stats()).questions == 0


def test_scheduler_ticks_are_logged_only_at_debug() -> None:
    ticks = logging.getLogger("apscheduler.executors.default")
    saved = logging.getLogger("apscheduler").level
    try:
        configure_logging(logging.INFO)
        assert not ticks.isEnabledFor(logging.INFO)  # « Running job … » at every tick
        assert ticks.isEnabledFor(logging.WARNING)  # a job that failed or was missed still shows
        configure_logging(logging.DEBUG)
        assert ticks.isEnabledFor(logging.INFO)
    finally:
        logging.getLogger("apscheduler").setLevel(saved)


async def _stored_user(env: BotEnv, user_id: int) -> User:
    """The user's row once the update that wrote it has finished (the visit is written after the reply)."""
    for _ in range(200):
        if (user := await env.services.database.storage.users.get_user(user_id)) is not None:
            return user
        await asyncio.sleep(0.02)
    raise AssertionError(f"user {user_id} was never recorded")


async def test_a_visit_is_recorded_after_the_reply_and_at_most_every_few_minutes(env: BotEnv) -> None:
    """/start writes the visit after the menu, once per SEEN_EVERY; a question writes it with itself."""
    users, start = env.services.users, dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    users.clock = lambda: start
    await env.say(810, "/start")
    first = await _stored_user(env, 810)
    assert first.last_seen_at == start  # a new user is created by their first /start
    users.clock = lambda: start + SEEN_EVERY / 2
    await env.say(810, "/start")  # no second write within SEEN_EVERY
    assert (await _stored_user(env, 810)).last_seen_at == start
    asked = start + SEEN_EVERY * 3 / 4
    env.services.questions.clock = lambda: asked
    await env.say(810, QUESTION)  # a recorded question is a visit, written with the question itself
    assert (await _stored_user(env, 810)).last_seen_at == asked
    later = start + SEEN_EVERY + dt.timedelta(seconds=1)
    users.clock = lambda: later
    await env.say(810, "/start")
    for _ in range(200):
        if (await _stored_user(env, 810)).last_seen_at == later:
            break
        await asyncio.sleep(0.02)
    assert (await _stored_user(env, 810)).last_seen_at == later


async def test_start_answers_when_the_database_refuses_to_record_the_visit(env: BotEnv) -> None:
    switch = ReadOnlySwitch(env.services.database)
    switch.on = True
    try:
        menu = await env.say(820, "/start")
        assert buttons(menu) and menu.text != text("error")
    finally:
        switch.on = False
    await env.say(820, "/start")  # the failed write is tried again at the next visit
    assert (await _stored_user(env, 820)).active
