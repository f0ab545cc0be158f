"""Questions that come back: coordinators answer from /questions, the asker is told, the answer becomes
knowledge that the running bot serves at once (through the fake Bot API, no restart)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.knowledge import load_knowledge
from bot.messages import text
from bot.qa.records import ANSWER_FLOW, Status
from bot.testing import SentMessage
from tests.botkit import ADMIN, COORDINATOR, BotEnv, bot_config, buttons, eventually, running_bot

NEWCOMER, SECOND = 101, 102
QUESTION = "Comment faire une pâte à crêpes pour la fête du réseau ?"
ANSWER = (
    "Pour la pâte à crêpes de la fête : 250 g de farine, 4 œufs, un demi-litre de lait, une pincée de sel."
)


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path) -> AsyncIterator[BotEnv]:
    async with running_bot(bot_config(tmp_path, knowledge_copy)) as running:
        yield running
        assert running.fake.invalid_requests == []


def data(message: SentMessage, prefix: str) -> str:
    return next(d for _, d in buttons(message) if d.startswith(prefix))


async def kept_card(env: BotEnv, coordinator: int) -> SentMessage:
    """/questions: the summary, then the card of the (only) pending question."""
    before = len(env.fake.sent_to(coordinator))
    await env.fake.user_sends(coordinator, "/questions")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(coordinator)) >= before + 2)
    return env.fake.sent_to(coordinator)[before + 1]


async def press(env: BotEnv, user: int, message: SentMessage, button: str) -> SentMessage:
    """Press a button that answers with a new message; that message."""
    before = len(env.fake.sent_to(user))
    await env.click(user, message, button)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(user)) > before)
    return env.fake.sent_to(user)[before]


async def write_answer(env: BotEnv, coordinator: int, card: SentMessage, answer: str) -> SentMessage:
    prompt = await press(env, coordinator, card, data(card, "qa:r:"))
    assert QUESTION in prompt.text
    preview = await env.say(coordinator, answer)
    assert preview.text.startswith("Aperçu") and answer in preview.text and QUESTION in preview.text
    return preview


async def test_the_whole_loop_from_unknown_question_to_cited_answer(env: BotEnv) -> None:
    unknown = await env.say(NEWCOMER, QUESTION)
    assert unknown.text.startswith(text("no_answer").split(".")[0])
    card = await kept_card(env, ADMIN)
    assert QUESTION in card.text and str(NEWCOMER) not in card.text, "a handle, never the Telegram id"
    preview = await write_answer(env, ADMIN, card, ANSWER)
    sent = await press(env, ADMIN, preview, data(preview, "qa:s:"))
    assert sent.text == text("answer_sent")
    received = env.fake.sent_to(NEWCOMER)[-1]
    assert "Réponse des coordinateurs du réseau" in received.text
    assert QUESTION in received.text and ANSWER in received.text
    helped = data(received, "qa:h:")
    assert await env.click(NEWCOMER, received, helped) == text("helped_thanks")

    faq = await press(env, ADMIN, sent, data(sent, "qa:k:"))
    assert "Entrée de FAQ" in faq.text
    ask_question = await press(env, ADMIN, faq, data(faq, "qa:kq:"))
    assert ask_question.text == text("faq_write_question")
    edited = await env.say(ADMIN, "Comment faire une pâte à crêpes ?")
    assert "Comment faire une pâte à crêpes ?" in edited.text
    added = await press(env, ADMIN, edited, data(edited, "qa:ka:"))
    resource_id = re.findall(r"coordinateurs-\d{4}-\d\d-\d\d-\d+", added.text)[0]

    knowledge = load_knowledge(env.services.config.path(env.services.config.knowledge_dir))
    entry = knowledge.by_id()[resource_id]
    assert entry.sources == (f"{resource_id}.md",) and entry.type == "faq"
    assert str(NEWCOMER) not in entry.path.read_text(encoding="utf-8")
    answered = await env.say(SECOND, "Quelle recette de pâte à crêpes pour une fête ?")
    assert "250 g de farine" in answered.text, answered.text
    today = f"{env.services.coordination.clock():%d/%m/%Y}"
    assert f"Réponse des coordinateurs du réseau, {today}" in answered.text, "the source the preview promised"
    assert f"{resource_id}.md" not in answered.text, "never the file name"
    stats = await env.say(ADMIN, "/stats")
    assert "Répondues : 1" in stats.text and "En attente : 0" in stats.text


async def test_two_coordinators_answering_at_once_answer_once(env: BotEnv) -> None:
    await env.say(ADMIN, f"/coordinateur {COORDINATOR}")
    await env.say(NEWCOMER, QUESTION)
    first = await write_answer(env, ADMIN, await kept_card(env, ADMIN), "Réponse A")
    second = await write_answer(env, COORDINATOR, await kept_card(env, COORDINATOR), "Réponse B")
    before = len(env.fake.sent_to(NEWCOMER))
    await asyncio.gather(
        env.click(ADMIN, first, data(first, "qa:s:")), env.click(COORDINATOR, second, data(second, "qa:s:"))
    )
    await env.fake.wait_for(
        lambda: len(env.fake.sent_to(ADMIN)) and len(env.fake.sent_to(COORDINATOR))
        and env.fake.sent_to(ADMIN)[-1] is not first and env.fake.sent_to(COORDINATOR)[-1] is not second
    )  # fmt: skip
    replies = [env.fake.sent_to(ADMIN)[-1].text, env.fake.sent_to(COORDINATOR)[-1].text]
    assert sorted(r == text("answer_sent") for r in replies) == [False, True]
    assert any(r.startswith("Cette question a déjà été traitée par Test le ") for r in replies)
    await asyncio.sleep(0.2)  # a second answer would have been sent by now
    answers = [m for m in env.fake.sent_to(NEWCOMER)[before:] if "Réponse des coordinateurs" in m.text]
    assert len(answers) == 1
    stats = await env.services.coordination.stats()
    assert (stats.answered, stats.pending) == (1, 0)


async def test_forgetting_the_asker_drops_the_pending_answer(env: BotEnv) -> None:
    await env.say(NEWCOMER, QUESTION)
    preview = await write_answer(env, ADMIN, await kept_card(env, ADMIN), ANSWER)
    confirm = await env.say(NEWCOMER, "/oubli")
    await press(env, NEWCOMER, confirm, f"forget:yes:{NEWCOMER}")
    assert await env.services.conversations.get(ADMIN, ADMIN, ANSWER_FLOW) is None
    before = len(env.fake.sent_to(NEWCOMER))
    notice = await env.click(ADMIN, preview, data(preview, "qa:s:"))
    assert notice in (text("answer_gone"), text("button_stale"))
    assert len(env.fake.sent_to(NEWCOMER)) == before
    assert await env.services.coordination.pending() == []


async def test_a_thumbs_down_asks_what_was_wrong_and_coordinators_see_it(env: BotEnv) -> None:
    reply = await env.say(NEWCOMER, "Quelle différence entre un partenariat et une alliance ?")
    ask = await press(env, NEWCOMER, reply, next(d for label, d in buttons(reply) if label == "👎"))
    assert ask.text == text("dislike_ask")
    said = await env.say(NEWCOMER, "Le lien ne marche pas")
    assert said.text == text("dislike_thanks")
    card = await kept_card(env, ADMIN)
    assert "👎" in card.text and "Le lien ne marche pas" in card.text
    exported = await env.services.users.export(NEWCOMER)
    assert exported["feedback"][0]["reason"] == "Le lien ne marche pas"
    assert exported["questions"][0]["status"] == Status.PENDING.value
    dismissed = await press(env, ADMIN, card, data(card, "qa:x:"))
    assert dismissed.text == text("answer_dismissed")


async def test_an_invitation_link_makes_a_member_and_offers_the_notices(env: BotEnv) -> None:
    invitation = await env.say(ADMIN, "/invitation")
    link = re.findall(r"https://t\.me/(\w+)\?start=([A-Z0-9-]+)", invitation.text)[0]
    assert link[0] == env.fake.bot_user["username"]
    welcome = await env.say(NEWCOMER, f"/start {link[1]}")
    assert welcome.text.startswith("Bienvenue parmi les membres")
    done = await press(env, NEWCOMER, welcome, data(welcome, "join:"))
    assert done.text.startswith("C'est noté")
    assert (await env.services.users.preferences(NEWCOMER)).new_event_notices
    assert (await env.say(SECOND, f"/start {link[1]}")).text == text("join_used")


GROUP = -1001


async def _none_waiting(env: BotEnv) -> bool:
    return await env.services.coordination.undelivered(NEWCOMER) == []


async def test_a_group_asker_without_a_private_chat_gets_the_answer_when_they_write(env: BotEnv) -> None:
    in_group = await env.say(NEWCOMER, f"/question {QUESTION}", chat_id=GROUP, chat_type="supergroup")
    assert text("group_kept_private") in in_group.text
    link = f"https://t.me/{env.fake.bot_user['username']}?start=reponse"
    rows = in_group.reply_markup["inline_keyboard"] if in_group.reply_markup else []
    assert [b["url"] for row in rows for b in row if "url" in b] == [link]
    preview = await write_answer(env, ADMIN, await kept_card(env, ADMIN), ANSWER)
    sent = await press(env, ADMIN, preview, data(preview, "qa:s:"))
    assert sent.text == text("answer_sent_waiting"), "told honestly, no crash"
    assert data(sent, "qa:k:"), "the answer can still be added to the base"
    assert env.fake.sent_to(NEWCOMER) == []
    assert [q.answer for q in await env.services.coordination.undelivered(NEWCOMER)] == [ANSWER]

    await env.fake.user_sends(NEWCOMER, "/start reponse")  # the group reply's button
    await env.fake.wait_for(lambda: any(ANSWER in m.text for m in env.fake.sent_to(NEWCOMER)))
    received = [m for m in env.fake.sent_to(NEWCOMER) if ANSWER in m.text]
    assert len(received) == 1 and QUESTION in received[0].text and data(received[0], "qa:h:")
    await eventually(lambda: _none_waiting(env))  # recorded just after Telegram took it
    await env.say(NEWCOMER, "/aide")
    assert len([m for m in env.fake.sent_to(NEWCOMER) if ANSWER in m.text]) == 1, "delivered once"


async def test_the_link_without_a_waiting_answer_says_it_will_come_here(env: BotEnv) -> None:
    await env.say(NEWCOMER, f"/question {QUESTION}", chat_id=GROUP, chat_type="supergroup")
    assert (await env.say(NEWCOMER, "/start reponse")).text == text("answer_waiting_here")
    preview = await write_answer(env, ADMIN, await kept_card(env, ADMIN), ANSWER)
    assert (await press(env, ADMIN, preview, data(preview, "qa:s:"))).text == text("answer_sent")


async def test_answered_questions_leave_the_questions_summary(env: BotEnv) -> None:
    await env.say(NEWCOMER, QUESTION)
    card = await kept_card(env, ADMIN)
    summary = env.fake.sent_to(ADMIN)[-2]
    assert QUESTION in summary.text
    preview = await write_answer(env, ADMIN, card, ANSWER)
    await press(env, ADMIN, preview, data(preview, "qa:s:"))
    await kept_card(env, ADMIN)  # the summary, then « none waits »
    summary, cards = env.fake.sent_to(ADMIN)[-2:]
    assert cards.text == text("kept_none_pending")
    assert QUESTION not in summary.text and text("questions_none") in summary.text


async def test_another_command_tells_the_coordinator_their_answer_is_dropped(env: BotEnv) -> None:
    await env.say(NEWCOMER, QUESTION)
    await write_answer(env, ADMIN, await kept_card(env, ADMIN), ANSWER)
    notice = await env.say(ADMIN, "/nouvel_evenement")
    assert notice.text == text("answer_dropped")
