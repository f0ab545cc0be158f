"""The self-diagnosis in Telegram, end to end through the fake Bot API."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.config import Config
from bot.messages import text
from bot.testing import FakeTelegram, SentMessage
from tests.botkit import ADMIN, BotEnv, bot_config, buttons, running_bot

USER = 300


@pytest.fixture
def config(tmp_path: Path, knowledge_copy: Path) -> Config:
    return bot_config(tmp_path, knowledge_copy)


@pytest.fixture
async def env(config: Config) -> AsyncIterator[BotEnv]:
    async with running_bot(config) as running:
        yield running
        assert running.fake.invalid_requests == []


def _progress(message: SentMessage) -> tuple[int, int]:
    found = re.match(r"(\d+)/(\d+)", message.text or "")
    assert found, message.text
    return int(found.group(1)), int(found.group(2))


async def _press(env: BotEnv, message: SentMessage, label: str, user: int = USER) -> str:
    data = next(d for lbl, d in buttons(message) if lbl == label)
    return await env.click(user, message, data)


async def _begin(env: BotEnv, user: int = USER) -> SentMessage:
    intro = await env.say(user, "/diagnostic")
    assert "Autodiagnostic" in intro.text
    await _press(env, intro, text("diag_start"), user)
    await env.fake.wait_for(lambda: _progress_or_none(intro) == (1, 22))
    return intro


def _progress_or_none(message: SentMessage) -> tuple[int, int] | None:
    found = re.match(r"(\d+)/(\d+)", message.text or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


async def _answer_all(env: BotEnv, message: SentMessage, choose: dict[str, str], user: int = USER) -> None:
    """Answer until the summary: the first option for context questions, else `choose` by section or Oui."""
    while _progress_or_none(message) is not None:
        position = _progress_or_none(message)
        labels = [lbl for lbl, d in buttons(message) if d.startswith("d:a:")]
        section = (message.text or "").split("\n")[0]
        wanted = next((v for k, v in choose.items() if k in section), "Oui" if "Oui" in labels else labels[0])
        await _press(env, message, wanted, user)
        await env.fake.wait_for(lambda p=position: _progress_or_none(message) != p)  # type: ignore[misc]


async def test_a_whole_diagnosis_with_previous_summary_change_and_result(env: BotEnv) -> None:
    question = await _begin(env)
    await _press(env, question, "Rural")
    await env.fake.wait_for(lambda: _progress_or_none(question) == (2, 22))
    await _press(env, question, text("diagnosis_previous"))
    await env.fake.wait_for(lambda: _progress_or_none(question) == (1, 22))
    labels = [label for label, _ in buttons(question)]
    assert text("diag_chosen", label="Rural") in labels, "the question is asked again, its answer marked"
    assert "Votre réponse précédente : Rural" in (question.text or "")
    await _answer_all(env, question, {"Gestion d'un lieu": "Non", "Accompagnements": "Je ne sais pas"})
    assert text("diag_summary_header").replace("<b>", "").replace("</b>", "") in question.text
    await _press(env, question, text("diag_change"))
    await env.fake.wait_for(lambda: "modifier" in (question.text or ""))
    change = [label for label, _ in buttons(question) if label.startswith("1. ")]
    assert change == ["1. Comment décririez-vous votre territoire ?"], (
        "each answer is named, not a bare number"
    )
    await _press(env, question, change[0])
    await env.fake.wait_for(lambda: _progress_or_none(question) is not None)
    await _press(env, question, "Urbain (ville moyenne)")
    await env.fake.wait_for(lambda: "Récapitulatif" in (question.text or ""))
    sent = len(env.fake.sent_to(USER))
    await _press(env, question, text("diag_see_result"))
    await env.fake.wait_for(lambda: len(env.fake.sent_to(USER)) >= sent + 2)
    result, chart = env.fake.sent_to(USER)[sent : sent + 2]
    assert result.text.index("Gestion d'un lieu") < result.text.index("Dialogue territorial"), "missing first"
    assert "🔴 Gestion d'un lieu : " in result.text and "Manquant" in result.text
    assert "Je ne sais pas" in result.text and "à vérifier auprès de" in result.text
    assert "📚 Pour Gestion d'un lieu" in result.text
    assert chart.kind == "photo" and chart.document is not None and chart.document[:8] == b"\x89PNG\r\n\x1a\n"
    stored = await env.services.database.storage.diagnosis.diagnostic_results(USER)
    assert len(stored) == 1 and stored[0].territory == "urbain"
    assert stored[0].statuses["gestion-lieu"] == "missing"


async def test_pause_then_resume_where_it_stopped(env: BotEnv) -> None:
    question = await _begin(env)
    for label in ("Rural", "Une collectivité", "Oui"):
        position = _progress_or_none(question)
        await _press(env, question, label)
        await env.fake.wait_for(lambda p=position: _progress_or_none(question) != p)  # type: ignore[misc]
    where = _progress_or_none(question)
    await _press(env, question, text("diag_pause"))
    await env.fake.wait_for(lambda: _progress_or_none(question) is None)
    offer = await env.say(USER, "/diagnostic")
    assert f"{where[0]}/{where[1]}" in offer.text  # type: ignore[index]
    await _press(env, offer, text("diag_resume"))
    await env.fake.wait_for(lambda: _progress_or_none(offer) == where)


async def test_a_restart_in_the_middle_loses_nothing(config: Config) -> None:
    async with FakeTelegram() as fake:
        async with running_bot(config, fake=fake) as first:
            question = await _begin(first)
            await _press(first, question, "Rural")
            await fake.wait_for(lambda: _progress_or_none(question) == (2, 22))
        async with running_bot(config, fake=fake) as second:
            await _press(second, question, next(lbl for lbl, d in buttons(question) if d.startswith("d:a:")))
            await fake.wait_for(lambda: _progress_or_none(question) == (3, 22))
        assert fake.invalid_requests == []


async def test_stale_and_forged_buttons_change_nothing(env: BotEnv) -> None:
    question = await _begin(env)
    first_options = [d for _, d in buttons(question) if d.startswith("d:a:")]
    await env.click(USER, question, first_options[0])
    await env.fake.wait_for(lambda: _progress_or_none(question) == (2, 22))
    for forged in (first_options[1], "d:a:nope:oui", "d:c:nope", "d:zz", "d:a:dt-rencontres:peut-etre"):
        query = await env.fake.user_sends_raw_callback(USER, question.message_id, USER, forged)
        await env.fake.wait_for(lambda q=query: env.fake.answered_callback(q) is not None)  # type: ignore[misc]
        answered = env.fake.answered_callback(query)
        assert answered is not None and answered.params.get("text") == text("button_stale")
    session = await env.services.database.storage.diagnosis.load_diagnostic(USER)
    assert session is not None and len(session.answers) == 1
    assert _progress_or_none(question) == (2, 22)


async def test_my_diagnostic_shows_the_change_and_stats_stay_anonymous(env: BotEnv) -> None:
    assert (await env.say(USER, "/mondiagnostic")).text == text("diag_no_result")
    for choice in ({"Gestion d'un lieu": "Non"}, {}):
        question = await _begin(env)
        await _answer_all(env, question, choice)
        sent = len(env.fake.sent_to(USER))
        await _press(env, question, text("diag_see_result"))
        await env.fake.wait_for(lambda s=sent: len(env.fake.sent_to(USER)) >= s + 2)  # type: ignore[misc]
    last = await env.say(USER, "/mondiagnostic")
    assert "Votre dernier autodiagnostic" in last.text
    assert re.search(r"Gestion d'un lieu : \d+/100 \(\+\d+ depuis le", last.text)
    refused = await env.say(USER, "/stats diagnostic")
    assert refused.text.startswith("Cette commande est réservée")
    stats = await env.say(ADMIN, "/stats diagnostic")
    assert "Autodiagnostics (anonymes) : 2" in stats.text
    assert "Gestion d'un lieu : manquant 1 fois" in stats.text
    assert str(USER) not in stats.text
    confirm = await env.say(USER, "/oubli")
    before = len(env.fake.sent_to(USER))
    await _press(env, confirm, text("forget_yes"))
    # Any message still on its way (a chart) may come after the confirmation: look at every new message.
    await env.fake.wait_for(lambda: text("forget_done") in [m.text for m in env.fake.sent_to(USER)[before:]])
    assert await env.services.database.storage.diagnosis.diagnostic_results(USER) == []


async def _result(env: BotEnv, choose: dict[str, str], user: int = USER) -> SentMessage:
    question = await _begin(env, user)
    await _answer_all(env, question, choose, user)
    sent = len(env.fake.sent_to(user))
    await _press(env, question, text("diag_see_result"), user)
    await env.fake.wait_for(lambda: len(env.fake.sent_to(user)) >= sent + 2)
    return env.fake.sent_to(user)[sent]


async def test_the_result_says_what_first_reads_its_resources_and_exports_a_card(env: BotEnv) -> None:
    result = await _result(env, {"Gestion d'un lieu": "Non", "Accompagnements": "En partie"})
    assert result.text is not None and result.source is not None
    assert "🎯 À travailler en premier : Gestion d'un lieu" in result.text, "the lowest score comes first"
    assert "Pourquoi : C'est le score le plus bas des 2 métiers à renforcer (sur 4) : 0/100" in result.text
    assert "Premier pas (repère) : Avant de créer un lieu" in result.text
    assert 'href="https://www.lerameau.fr/quest-ce-quun-catalyseur-territorial/"' in result.source
    assert "Autodiagnostic des catalyseurs territoriaux" in result.text, "the card says what it is, forwarded"
    reads = [(label, data) for label, data in buttons(result) if data.startswith("d:r:")]
    assert reads and reads[0][0].startswith("📖 Gestion d'un lieu"), reads
    assert all(len(data.encode()) <= 64 for _, data in buttons(result))

    sent = len(env.fake.sent_to(USER))
    await env.click(USER, result, reads[0][1])
    await env.fake.wait_for(lambda: len(env.fake.sent_to(USER)) > sent)
    passage = env.fake.sent_to(USER)[sent]
    assert passage.text is not None and passage.text.startswith("📖 Gestion d'un lieu, quatrième métier")
    assert "tiers-lieu" in passage.text and "Source : https://associations.gouv.fr/" in passage.text

    for label, signature, suffix in (("📄 PDF", b"%PDF", ".pdf"), ("🖼 Image", b"\x89PNG", ".png")):
        sent = len(env.fake.sent_to(USER))
        await _press(env, result, label)
        await env.fake.wait_for(lambda s=sent: len(env.fake.sent_to(USER)) > s)  # type: ignore[misc]
        card = env.fake.sent_to(USER)[sent]
        assert card.kind == "document" and card.document is not None and card.document.startswith(signature)
        assert card.filename is not None and card.filename.startswith("autodiagnostic-")
        assert card.filename.endswith(suffix) and "à transférer" in (card.caption or "")

    other = 301
    export = next(data for _, data in buttons(result) if data.startswith("d:x:pdf:"))
    for forged in (export.replace(":pdf:", ":doc:"), "d:r:nope:0", reads[0][1][:-1] + "99"):
        query = await env.fake.user_sends_raw_callback(USER, result.message_id, USER, forged)
        await env.fake.wait_for(lambda q=query: env.fake.answered_callback(q) is not None)  # type: ignore[misc]
        assert env.fake.answered_callback(query).params.get("text") == text("button_stale")  # type: ignore[union-attr]
    query = await env.fake.user_sends_raw_callback(other, result.message_id, USER, export)
    await env.fake.wait_for(lambda: env.fake.answered_callback(query) is not None)
    answered = env.fake.answered_callback(query)
    assert answered is not None and answered.params.get("text") == text("button_stale"), "not their result"
    assert env.fake.sent_to(other) == []


async def test_my_diagnostic_gives_the_priority_and_the_export_again(env: BotEnv) -> None:
    await _result(env, {"Dialogue territorial": "Non"})
    last = await env.say(USER, "/mondiagnostic")
    assert "À travailler en premier : Dialogue territorial" in (last.text or "")
    assert any(data.startswith("d:x:pdf:") for _, data in buttons(last))
