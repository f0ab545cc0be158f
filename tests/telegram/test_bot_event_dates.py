"""Dates in /nouvel_evenement and the move flow (review 2, item 7): an end time alone is on the start's day,
a day alone makes an all-day event, « midi », « ce soir », « demain matin » are understood, and an end before
the start is explained without « Je n'ai pas compris »."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events.records import EventFields
from bot.messages import text
from tests.botkit import ADMIN, BotEnv
from tests.events_kit import card_of, events_bot, paris, texts
from tests.telegram.test_bot_events import MovableClock

NOW = paris(2027, 3, 10, 11, 0)  # Wednesday 10 March 2027


@pytest.fixture
async def env(db_url: str, tmp_path: Path, knowledge_copy: Path) -> AsyncIterator[BotEnv]:
    async with events_bot(db_url, tmp_path, knowledge_copy, MovableClock(NOW)) as running:
        yield running


async def _confirm(env: BotEnv, typed: str) -> str:
    """Types a date, checks the confirmation, presses « Oui »; returns the confirmation text."""
    check = await env.say(ADMIN, typed)
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, check, "ne:dy")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    return check.text or ""


async def _publish_draft(env: BotEnv) -> None:
    for skipped in ("-", "-", "-"):  # place, link, description
        await env.say(ADMIN, skipped)
    audience = env.fake.sent_to(ADMIN)[-1]
    await env.click(ADMIN, audience, "ne:aud:all")
    await env.fake.wait_for(lambda: "Aperçu" in texts(env, ADMIN)[-1])
    await env.click(ADMIN, env.fake.sent_to(ADMIN)[-1], "ne:ok")
    await env.fake.wait_for(lambda: texts(env, ADMIN)[-1] == text("new_event_published"))


async def test_an_end_time_alone_is_on_the_start_day(env: BotEnv) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Atelier")
    await _confirm(env, "jeudi 14h")
    early = await env.say(ADMIN, "13h")
    assert early.text == text("event_end_before_start", start="jeudi 11 mars 2027, 14 h 00")
    assert "compris" not in (early.text or "")
    assert "jeudi 11 mars 2027, 17 h 30" in await _confirm(env, "17h30")
    await _publish_draft(env)
    (event,) = (await env.services.events.page(1, members=True)).events
    assert (event.starts_at, event.ends_at) == (paris(2027, 3, 11, 14), paris(2027, 3, 11, 17, 30))


@pytest.mark.parametrize("typed", ["jeudi", "11/03/2027", "jeudi toute la journée"])
async def test_a_day_alone_makes_an_all_day_event(env: BotEnv, typed: str) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Journée des catalyseurs")
    confirmed = await _confirm(env, typed)
    assert "jeudi 11 mars 2027 (toute la journée)" in confirmed
    assert texts(env, ADMIN)[-1] == text("new_event_end")
    await env.say(ADMIN, "-")  # the end is optional
    await _publish_draft(env)
    card = await card_of(env, ADMIN, "Journée des catalyseurs")
    assert "jeudi 11 mars 2027 (toute la journée)" in (card.text or "")
    assert "9 h" not in (card.text or "")


async def test_toute_la_journee_as_the_end_makes_the_event_all_day(env: BotEnv) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Forum")
    await _confirm(env, "12/03/2027 14h")
    assert "vendredi 12 mars 2027 (toute la journée)" in await _confirm(env, "toute la journée")
    await _publish_draft(env)
    (event,) = (await env.services.events.page(1, members=True)).events
    assert event.all_day


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("après-demain midi", "vendredi 12 mars 2027, 12 h 00"),
        ("ce soir 18h", "mercredi 10 mars 2027, 18 h 00"),
        ("demain matin", "jeudi 11 mars 2027, 9 h 00"),
    ],
)
async def test_everyday_french_words_are_understood(env: BotEnv, typed: str, shown: str) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Café")
    check = await env.say(ADMIN, typed)
    assert (check.text or "").startswith(f"J'ai compris : {shown}.")


async def test_moving_an_event_still_needs_a_time(env: BotEnv) -> None:
    fields = EventFields("Rencontre", paris(2027, 3, 12, 14), None, None, None, None)
    event_id = (await env.services.events.publish(fields, created_by=ADMIN)).id
    card = await card_of(env, ADMIN, "Rencontre")
    await env.click(ADMIN, card, f"e:m:{event_id}")
    await env.fake.wait_for(lambda: texts(env, ADMIN)[-1].startswith("Nouvelle date"))
    missing = await env.say(ADMIN, "demain")
    assert text("date_time_missing") in (missing.text or "")


async def test_events_of_a_month_are_answered_from_the_calendar(env: BotEnv) -> None:
    fields = EventFields("Café de mars", paris(2027, 3, 25, 10), None, None, None, None)
    await env.services.events.publish(fields, created_by=ADMIN)
    april = EventFields("Forum d'avril", paris(2027, 4, 8, 10), None, None, None, None)
    await env.services.events.publish(april, created_by=ADMIN)
    header = await env.say(ADMIN, "Quels sont les événements en mars ?")
    assert header.text == text("events_period_header", period="en mars 2027")
    await env.fake.wait_for(lambda: "Café de mars" in texts(env, ADMIN)[-1])
    assert not any("Forum d'avril" in t for t in texts(env, ADMIN))
    none = await env.say(ADMIN, "Y a-t-il des ateliers en juin ?")
    assert none.text == text("events_period_none", period="en juin 2027")
    await env.fake.wait_for(lambda: any("Forum d'avril" in t for t in texts(env, ADMIN)))
