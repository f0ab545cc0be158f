"""Private by default: personal and privileged replies only in a private chat, shared messages show the public
view, confirmation buttons belong to the person who asked (issue 15, « Why » 2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events.clock import paris_to_utc
from bot.events.records import EventFields
from bot.messages import text
from bot.testing import SentMessage
from tests.botkit import ADMIN, BotEnv, bot_config, buttons, running_bot

GROUP = -700
MEMBER = 410
OTHER = 411
START = paris_to_utc(dt.datetime(2031, 3, 12, 14, 30))

# command in a group -> the deep-link payload of its « écrivez-moi en privé » button
PRIVATE_COMMANDS = {
    "/mesdonnees": "mesdonnees", "/oubli": "oubli", "/questions": "questions", "/reponses": "reponses",
    "/stats": "stats", "/stats diagnostic": "stats_diagnostic", "/invitation": "invitation",
    "/campagnes": "campagnes", "/annonce": "annonce", "/nouvel_evenement": "nouvel_evenement",
    "/abonnements": "abonnements", "/diagnostic": "diagnostic", "/mondiagnostic": "mondiagnostic",
    "/coordinateur 5": "coordinateur", "/importer": "importer",
}  # fmt: skip


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path) -> AsyncIterator[BotEnv]:
    async with running_bot(bot_config(tmp_path, knowledge_copy)) as running:
        yield running
        assert running.fake.invalid_requests == []


def links(message: SentMessage) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [b["url"] for row in rows for b in row if "url" in b]


async def in_group(env: BotEnv, user: int, command: str) -> SentMessage:
    return await env.say(user, command, chat_id=GROUP, chat_type="group")


async def test_private_commands_in_a_group_only_point_to_a_private_chat(env: BotEnv) -> None:
    await env.say(ADMIN, "Question privée sur le mécénat de compétences ?")  # what /mesdonnees shows
    username = env.fake.bot_user["username"]
    for command, payload in PRIVATE_COMMANDS.items():
        reply = await in_group(env, ADMIN, command)
        expected = "importer_private" if payload == "importer" else "private_only"
        assert reply.text == text(expected), command
        assert reply.kind == "text" and buttons(reply) == [(text("private_open"), "")]
        assert links(reply) == [f"https://t.me/{username}?start={payload}"], command
    closing = await in_group(env, ADMIN, "/aide")  # the chat's updates are handled in order
    shown = env.fake.sent_to(GROUP)
    assert shown[-1] == closing and len(shown) == len(PRIVATE_COMMANDS) + 1, "one reply per command, no more"
    assert all("mécénat" not in m.text and m.kind == "text" for m in shown)
    assert await env.services.conversations.get(GROUP, ADMIN, "announce") is None  # no flow began there


async def test_the_deep_link_runs_the_command_in_the_private_chat(env: BotEnv) -> None:
    invitation = await env.say(ADMIN, "/start invitation")
    assert invitation.text.startswith("Code d'invitation (usage unique")
    before = len(env.fake.sent_to(MEMBER))
    await env.say(MEMBER, "Qui est Le RAMEAU ?")
    await env.fake.user_sends(MEMBER, "/start mesdonnees")
    await env.fake.wait_for(lambda: sum(m.kind == "document" for m in env.fake.sent_to(MEMBER)[before:]) == 2)
    refused = await env.say(MEMBER, "/start stats")  # the link runs the command with its role check
    assert refused.text.startswith("Cette commande est réservée")


async def test_an_event_card_in_a_group_stays_public_whoever_presses(env: BotEnv) -> None:
    event = await env.services.events.publish(
        EventFields("Rencontre des pionniers", START, START + dt.timedelta(hours=2), "Paris", None, None),
        created_by=ADMIN,
    )
    await env.services.events.rsvp(OTHER, event.id, "yes")
    card = await in_group(env, ADMIN, "/evenements")  # a coordinator asks, everyone sees
    datas = [d for _, d in buttons(card)]
    assert "Rencontre des pionniers" in card.text and "Réponses" not in card.text
    assert f"e:m:{event.id}" not in datas and f"e:x:{event.id}" not in datas
    saved = await env.click(MEMBER, card, f"e:p:{event.id}:maybe")
    assert saved == text("event_rsvp_saved", answer=text("event_maybe"))  # the presser's confirmation
    assert (await env.services.database.storage.events.rsvp_counts(event.id))["maybe"] == 1
    await env.click(ADMIN, card, f"e:r:{event.id}")
    shown = card  # the fake keeps the message as the bot last edited it
    assert "Réponses" not in shown.text and text("event_chosen", label=text("event_maybe")) not in str(
        shown.reply_markup
    )
    assert text("event_remind_on") not in str(shown.reply_markup)
    sent = len(env.fake.sent_to(GROUP))
    cancel = await env.fake.user_sends_raw_callback(ADMIN, card.message_id, GROUP, f"e:x:{event.id}")
    await env.fake.wait_for(lambda: env.fake.answered_callback(cancel) is not None)
    assert len(env.fake.sent_to(GROUP)) == sent, "no coordinator tool in a group"


async def test_only_the_asker_can_confirm_forget_me(env: BotEnv) -> None:
    for user in (MEMBER, OTHER):
        await env.say(user, "Qui est Le RAMEAU ?")
    confirm = await env.say(MEMBER, "/oubli")
    yes = next(d for label, d in buttons(confirm) if label == text("forget_yes"))
    posted = await in_group(env, OTHER, "/aide")
    # the asker's button, and one from before the binding, pressed by someone else in a group
    for data, notice in ((yes, text("forget_not_yours")), ("forget:yes", text("button_stale"))):
        query = await env.fake.user_sends_raw_callback(OTHER, posted.message_id, GROUP, data)
        await env.fake.wait_for(lambda q=query: env.fake.answered_callback(q) is not None)  # type: ignore[misc]
        answered = env.fake.answered_callback(query)
        assert answered is not None and answered.params.get("text") == notice
    users = env.services.database.storage.users
    assert await users.get_user(OTHER) is not None and await users.get_user(MEMBER) is not None
    assert await env.click(MEMBER, confirm, yes) == ""
    await env.fake.wait_for(lambda: env.fake.sent_to(MEMBER)[-1].text == text("forget_done"))
    assert await users.get_user(MEMBER) is None and await users.get_user(OTHER) is not None
