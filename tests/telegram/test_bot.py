"""The Telegram bot end to end: the real application, over HTTP, against the strict fake Bot API."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.messages import text
from bot.telegram.render import html_text, split_message
from bot.users import Role
from tests.botkit import ADMIN, BotEnv, bot_config, buttons, eventually, running_bot


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path) -> AsyncIterator[BotEnv]:
    async with running_bot(bot_config(tmp_path, knowledge_copy)) as running:
        yield running
        assert running.fake.invalid_requests == []


async def test_start_shows_the_menu_and_commands_are_registered(env: BotEnv) -> None:
    welcome = await env.say(10, "/start")
    assert "Réseau des catalyseurs territoriaux" in welcome.text
    assert [label for label, _ in buttons(welcome)] == [
        text("menu_ask"),
        text("menu_diagnostic"),
        text("menu_events"),
        text("menu_network"),
    ]
    registered = {c["command"] for c in env.fake.commands}
    assert {"start", "aide", "langue", "rejoindre", "mesdonnees", "oubli"} <= registered
    hint = await env.click(10, welcome, buttons(welcome)[0][1])
    assert hint == ""
    await env.fake.wait_for(lambda: len(env.fake.sent_to(10)) == 2)
    assert "Écrivez votre question" in env.fake.sent_to(10)[-1].text


async def test_a_question_gets_a_cited_answer_with_leads_and_feedback(env: BotEnv) -> None:
    reply = await env.say(11, "Quelle différence entre un partenariat et une alliance ?")
    assert "Source : " in reply.text and "partenariat" in reply.text.lower()
    markup = buttons(reply)
    assert ("👍", markup[-1][1]) in markup or markup[-1][0] == "👎"
    leads = [data for label, data in markup if data.startswith("l:")]
    assert leads, "other leads are offered as buttons"
    assert await env.click(11, reply, next(d for label, d in markup if label == "👍")) == text(
        "feedback_thanks"
    )
    await env.click(11, reply, leads[0])
    await env.fake.wait_for(lambda: len(env.fake.sent_to(11)) == 2)
    assert "Source" in env.fake.sent_to(11)[-1].text
    stats = await env.services.database.storage.questions.stats()
    assert stats.questions == 1 and stats.answered == 1


async def test_no_answer_is_said_kindly_and_kept_for_coordinators(env: BotEnv) -> None:
    reply = await env.say(12, "Comment faire une pâte à crêpes <vite> & bien ?")
    assert reply.text.startswith(text("no_answer").split(".")[0])
    listing = await env.say(ADMIN, "/questions")
    assert "Comment faire une pâte à crêpes <vite> & bien ? — ×1" in listing.text


async def test_too_long_and_non_text_messages_get_a_polite_reply(env: BotEnv) -> None:
    too_long = await env.say(13, "catalyse " * 450)
    assert too_long.text == html_text("question_too_long", "fr", limit=1000)
    before = len(env.fake.sent_to(13))
    await env.fake.user_sends_sticker(13)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(13)) > before)
    assert env.fake.sent_to(13)[-1].text == text("non_text")
    unknown = await env.say(13, "/nimportequoi")
    assert unknown.text == text("unknown_command")


async def test_language_choice_is_remembered(env: BotEnv) -> None:
    choice = await env.say(14, "/langue")
    english = next(data for label, data in buttons(choice) if label == "English")
    sent = len(env.fake.sent_to(14))
    await env.click(14, choice, english)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(14)) > sent)
    assert env.fake.sent_to(14)[-1].text == text("language_set", "en")
    welcome = await env.say(14, "/start")
    assert welcome.text.startswith("Hello!")


async def test_groups_answer_only_when_addressed(env: BotEnv) -> None:
    group = -500
    await env.fake.user_sends(15, "On parle de tiers-lieux ici", chat_id=group, chat_type="group")
    addressed = await env.say(
        15, f"@{env.fake.bot_user['username']} qu'est-ce qu'un tiers-lieu ?", chat_id=group, chat_type="group"
    )
    assert "Source" in addressed.text
    assert len(env.fake.sent_to(group)) == 1, "the unaddressed message got no reply"
    command = await env.say(
        15, "/question Combien de catalyseurs dans le réseau ?", chat_id=group, chat_type="group"
    )
    assert "350" in command.text


async def test_roles_invitations_and_refusals(env: BotEnv) -> None:
    refused = await env.say(20, "/stats")
    assert refused.text == html_text("not_allowed", "fr", role=text("role_coordinator"))
    assert (await env.say(20, "/coordinateur 21")).text.startswith("Cette commande est réservée")
    named = await env.say(ADMIN, "/coordinateur 21")
    assert "21" in named.text
    invitation = await env.say(21, "/invitation")
    code = re.findall(r"[A-Z0-9]{4}-[A-Z0-9]{4}", invitation.text)[0]
    assert (await env.say(22, f"/rejoindre {code.lower()}")).text == text("join_ok")
    assert (await env.say(23, f"/rejoindre {code}")).text == text("join_used")
    assert (await env.say(23, "/rejoindre NOPE-NOPE")).text == text("join_unknown")
    stats = await env.say(21, "/stats")
    # the admin (named in the configuration) and the coordinator it named
    assert "Membres : 1" in stats.text and "Coordinateurs : 2" in stats.text


async def test_forged_and_stale_buttons_are_refused_and_change_nothing(env: BotEnv) -> None:
    reply = await env.say(30, "Qu'est-ce que l'ODD 17 ?")
    for forged in ("f:999999:1", "f:1:5", "lang:de", "zzz", "m:admin", "forget:maybe", "l:abc:x"):
        query = await env.fake.user_sends_raw_callback(30, reply.message_id, 30, forged)
        await env.fake.wait_for(lambda q=query: env.fake.answered_callback(q) is not None)  # type: ignore[misc]
        answered = env.fake.answered_callback(query)
        assert answered is not None and answered.params.get("text") == text("button_stale")
    assert (await env.services.users.language(30)) == "fr"
    assert (await env.services.database.storage.questions.stats()).questions == 1


async def test_my_data_and_forget_me(env: BotEnv) -> None:
    await env.say(40, "Qui est Le RAMEAU ?")
    before = len(env.fake.sent_to(40))
    await env.fake.user_sends(40, "/mesdonnees")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(40)) >= before + 2)
    readable, document = env.fake.sent_to(40)[-2:]
    assert document.kind == "document" and document.document is not None
    assert "Qui est Le RAMEAU ?" in json.dumps(json.loads(document.document), ensure_ascii=False)
    # The same data for a person: French names, Paris times (not UTC ISO strings), the question itself.
    assert readable.filename == "mes-donnees-catabot.txt" and readable.document is not None
    report = readable.document.decode()
    assert "Vos questions" in report and "Texte : Qui est Le RAMEAU ?" in report and "Langue : fr" in report
    assert "created_at" not in report and "+00:00" not in report and " h " in report
    confirm = await env.say(40, "/oubli")
    cancel = next(d for label, d in buttons(confirm) if label == text("forget_no"))
    await env.click(40, confirm, cancel)
    assert await env.services.database.storage.users.get_user(40) is not None
    yes = next(d for label, d in buttons(confirm) if label == text("forget_yes"))
    await env.click(40, confirm, yes)
    await env.fake.wait_for(lambda: env.fake.sent_to(40)[-1].text == text("forget_done"))
    assert await env.services.database.storage.users.get_user(40) is None
    assert (await env.services.database.storage.personal_data.export_user(40)).get("questions", []) == []


async def test_a_user_who_blocks_the_bot_is_marked_inactive(env: BotEnv) -> None:
    await env.say(50, "/start")
    await env.fake.user_blocks(50)

    async def inactive() -> bool:
        user = await env.services.database.storage.users.get_user(50)
        return user is not None and not user.active

    await eventually(inactive)


async def test_a_403_on_reply_marks_the_user_inactive(env: BotEnv) -> None:
    await env.say(51, "/start")
    await env.fake.user_blocks(51, notify=False)
    await env.fake.user_sends(51, "Qui est Le RAMEAU ?")  # queued before the block reached the bot

    async def inactive() -> bool:
        user = await env.services.database.storage.users.get_user(51)
        return user is not None and not user.active

    await eventually(inactive)
    assert any(c.status == 403 and str(c.params.get("chat_id")) == "51" for c in env.fake.calls)


async def test_greetings_and_thanks_are_not_questions(env: BotEnv) -> None:
    welcome = await env.say(16, "Bonjour !")
    assert "Réseau des catalyseurs territoriaux" in welcome.text
    thanks = await env.say(16, "merci beaucoup")
    assert thanks.text == text("you_are_welcome")
    assert (await env.services.database.storage.questions.stats()).questions == 0


def test_long_messages_are_split_under_the_limit_at_line_breaks() -> None:
    lines = [f"<b>Ligne {n}</b> " + "é" * 90 for n in range(200)]
    parts = split_message("\n".join(lines))
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert "\n".join(parts) == "\n".join(lines)
    assert all(p.count("<b>") == p.count("</b>") for p in parts)


async def test_an_english_telegram_user_is_answered_in_english_everywhere(env: BotEnv) -> None:
    welcome = await env.say(20, "/start", language_code="en-GB")
    assert welcome.text.startswith("Hello!")
    answer = await env.say(20, "Quelle différence entre un partenariat et une alliance ?", language_code="en")
    assert "Source: " in answer.text and text("answer_source_in_french", "en") in answer.text
    unclear = await env.say(20, "?!? 123", language_code="en")
    assert unclear.text == text("question_unclear", "en")
    nonsense = await env.say(20, "blorp fizz", language_code="en")
    refusals = (text("off_topic", "en").split(":")[0], text("no_answer", "en").split(".")[0])
    assert nonsense.text.startswith(refusals), nonsense.text
    third_place = await env.say(20, "What is a third place?", language_code="en")
    assert "Source: " in third_place.text and "tiers-lieu" in third_place.text.lower(), third_place.text
    french = await env.say(21, "/start", language_code="fr")
    assert "Réseau des catalyseurs territoriaux" in french.text


async def test_language_and_invitation_codes_are_private_in_a_group(env: BotEnv) -> None:
    group = -600
    choice = await env.say(22, "/langue", chat_id=group, chat_type="group")
    assert choice.text == html_text("language_private", "fr") and not any(
        d.startswith("lang:") for _, d in buttons(choice)
    )
    code = await env.services.users.invite(ADMIN)
    joined = await env.say(23, f"/rejoindre {code}", chat_id=group, chat_type="group")
    assert joined.text == html_text("join_private", "fr") and code not in joined.text
    assert await env.services.users.role(23) < Role.MEMBER, "a code posted in a group is not redeemed"
    rows = (joined.reply_markup or {}).get("inline_keyboard", [])
    links = [b.get("url", "") for row in rows for b in row]
    assert any("start=rejoindre" in url for url in links), "a deep link to the private chat"
