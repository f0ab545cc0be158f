"""One read per update: the user's language and role, their flow in progress and whether answers wait for
them come from one statement (`bot.users.visits`), and the bot behaves as it did with three reads."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from bot.clock import utc_now
from bot.messages import text
from bot.qa.records import Status
from bot.users import Role
from tests.botkit import ADMIN, BotEnv, bot_config, eventually, running_bot

QUESTION = "Quelle différence entre un partenariat et une alliance ?"
GROUP = -1002
# A statement reading the users' or the flows' table (the undelivered answers join `users` too).
READS_USER = re.compile(r"^\s*SELECT\b.*\b(users|conversations)\b", re.DOTALL | re.IGNORECASE)
# Recording a user on their own (`touch_user`, which returns the row; the upsert of the askers that goes with
# the questions' insert is not that).
RECORDS_USER = re.compile(r"^\s*INSERT INTO users\b.*\bDO UPDATE\b.*\bRETURNING\b", re.DOTALL | re.IGNORECASE)


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path) -> AsyncIterator[BotEnv]:
    async with running_bot(bot_config(tmp_path, knowledge_copy)) as running:
        yield running
        assert running.fake.invalid_requests == []


@contextmanager
def statements_of(env: BotEnv, user_id: int) -> Iterator[list[str]]:
    """The SQL statements run meanwhile with `user_id` among their parameters (the background jobs' are
    left out), in order."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        if not many and user_id in values:
            seen.append(statement)

    engine = env.services.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def before_the_question(statements: list[str]) -> list[str]:
    inserts = [i for i, s in enumerate(statements) if s.lstrip().upper().startswith("INSERT INTO QUESTIONS")]
    assert inserts, statements
    return statements[: inserts[0]]


async def _asked(env: BotEnv, user_id: int, **kwargs: Any) -> list[str]:
    """The statements of one private question of `user_id`, its answer sent and its last write done."""
    with statements_of(env, user_id) as seen:
        reply = await env.say(user_id, QUESTION, **kwargs)
        assert "partenariat" in reply.text.lower()
        await asyncio.sleep(0.3)  # `note_seen` writes after the answer
    return seen


async def test_one_private_question_reads_its_user_once_before_the_search(env: BotEnv) -> None:
    await env.say(60, "Qui est Le RAMEAU ?")
    await asyncio.sleep(0.3)
    known = await _asked(env, 60)
    reads = [s for s in known if READS_USER.match(s)]
    assert len(reads) == 1, reads
    assert reads[0] in before_the_question(known), "read before the search"
    for table in ("users", "conversations", "questions"):
        assert re.search(rf"\bFROM {table}\b", reads[0]), (table, reads[0])
    assert not [s for s in before_the_question(known) if RECORDS_USER.match(s)], "a known user: no write"

    new = await _asked(env, 61, language_code="en")
    first = before_the_question(new)
    assert len([s for s in first if READS_USER.match(s)]) == 1, first
    writes = [s for s in first if RECORDS_USER.match(s)]
    assert len(writes) == 1, "a user met for the first time is recorded, with their language"
    user = await env.services.database.storage.users.get_user(61)
    assert user is not None and user.language == "en"
    assert len([s for s in new if READS_USER.match(s)]) == 1, "nothing read again after the search"


async def test_reading_a_user_never_records_them(env: BotEnv) -> None:
    await env.fake.user_sends(62, "on se retrouve à 14h", chat_id=GROUP, chat_type="supergroup")
    await env.say(ADMIN, "/aide", chat_id=GROUP, chat_type="supergroup")  # after the first, in that chat
    assert len(env.fake.sent_to(GROUP)) == 1, "only the /aide was answered"
    assert await env.services.database.storage.users.get_user(62) is None


async def test_the_language_and_role_are_the_stored_ones_and_admins_come_from_the_config(
    env: BotEnv,
) -> None:
    await env.services.users.grant(63, Role.COORDINATOR)
    await env.services.users.set_language(63, "en")
    with statements_of(env, 63) as seen:
        help_text = (await env.say(63, "/aide", language_code="fr")).text
    assert "Coordinators" in help_text and "Administrators" not in help_text, help_text
    assert len([s for s in seen if READS_USER.match(s)]) == 1, seen

    assert "/coordinateur ID" in (await env.say(ADMIN, "/aide")).text, "an admin named in the config"
    refused = await env.say(64, "/nouvel_evenement")
    assert refused.text.startswith("Cette commande est réservée")
    assert "Coordinateurs" not in (await env.say(64, "/aide")).text


async def test_a_flow_in_progress_takes_the_text_and_an_expired_one_reads_as_absent(env: BotEnv) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    assert (await env.say(ADMIN, "Atelier mobilité")).text == text("new_event_start")
    await env.say(ADMIN, "/annuler")
    await env.say(ADMIN, "/nouvel_evenement")
    later = utc_now() + timedelta(hours=25)
    env.services.conversations.clock = lambda: later  # a day later: the draft expired
    answer = await env.say(ADMIN, "Combien de catalyseurs dans le réseau ?")
    assert answer.text != text("new_event_start") and "350" in answer.text, "answered as a question"


async def test_waiting_answers_are_sent_when_the_asker_writes_and_only_then_read(env: BotEnv) -> None:
    storage = env.services.database.storage
    question = await storage.questions.record_question(65, "supergroup", QUESTION, "fr", False, None, None)
    assert await storage.coordination.keep(question)
    assert await storage.coordination.handle(question, Status.ANSWERED, ADMIN, "Ada", answer="Ainsi, voilà.")
    with statements_of(env, 65) as seen:
        await env.fake.user_sends(65, "Bonjour")
        await env.fake.wait_for(lambda: any("Ainsi, voilà." in m.text for m in env.fake.sent_to(65)))
    assert len([m for m in env.fake.sent_to(65) if "Ainsi, voilà." in m.text]) == 1
    assert len([s for s in seen if re.search(r"\bdelivered_at IS NULL\b", s)]) == 2, "the check, the list"

    async def none_waiting() -> bool:
        return await env.services.coordination.undelivered(65) == []

    await eventually(none_waiting)
    with statements_of(env, 65) as seen:
        await env.say(65, "Merci")
        await asyncio.sleep(0.3)
    assert len([s for s in seen if re.search(r"\bdelivered_at IS NULL\b", s)]) == 1, "only the check"
