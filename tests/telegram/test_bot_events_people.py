"""Issue 13 in the chat, through the fake Bot API (SQLite and PostgreSQL): long descriptions under Telegram's
limits, every press answered, reminders that say when, French dates understood and confirmed, calendar
questions answered from the database, coordinators who edit an event and people told of a move."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.events.records import EventFields
from bot.messages import text
from bot.telegram.context import Context
from bot.telegram.features.announcements import update_progress
from tests.botkit import ADMIN, BotEnv, buttons
from tests.events_kit import card_of, drain, events_bot, paris, texts
from tests.telegram.test_bot_events import MovableClock

MEMBER, OTHER, THIRD = 400, 401, 402
START = paris(2027, 3, 12, 14, 30)
LONG = (
    "Rejoindre la réunion Microsoft Teams <https://teams.microsoft.com/l/meetup-join/19%3a> & co ; " * 60
).strip()


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START - dt.timedelta(days=30))


@pytest.fixture
async def env(
    db_url: str, tmp_path: Path, knowledge_copy: Path, clock: MovableClock
) -> AsyncIterator[BotEnv]:
    async with events_bot(db_url, tmp_path, knowledge_copy, clock) as running:
        for user in (MEMBER, OTHER):
            await running.say(user, "/start")
        yield running


async def _publish(
    env: BotEnv, description: str | None = None, title: str = "Rencontre des pionniers"
) -> int:
    fields = EventFields(title, START, START + dt.timedelta(hours=2), "FNCE, Paris", None, description)
    return (await env.services.events.publish(fields, created_by=ADMIN)).id


async def test_a_long_description_stays_under_the_limits_and_every_press_is_answered(env: BotEnv) -> None:
    assert len(LONG) > 5000
    event_id = await _publish(env, LONG[:4000])
    card = await card_of(env, MEMBER, "Rencontre des pionniers")
    assert len(card.text or "") < 1200 and "Voir le détail" in (card.text or "")
    assert (text("event_detail"), f"e:d:{event_id}") in buttons(card)
    assert await env.click(MEMBER, card, f"e:r:{event_id}") == text("event_reminder_on")
    assert await env.click(MEMBER, card, f"e:p:{event_id}:yes") == text(
        "event_rsvp_saved", answer=text("event_yes")
    )
    await env.fake.wait_for(lambda: text("event_remind_on") in [label for label, _ in buttons(card)])
    sent = len(env.fake.sent_to(MEMBER))
    await env.click(MEMBER, card, f"e:d:{event_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(MEMBER)) >= sent + 2)
    detail = "".join(m.text or "" for m in env.fake.sent_to(MEMBER)[sent:])
    assert "<https://teams.microsoft.com/l/meetup-join/19%3a> & co" in detail  # shown as typed, in parts
    assert all(len(m.text or "") <= 4096 for m in env.fake.sent_to(MEMBER))


async def test_a_late_subscription_gets_one_reminder_that_says_when(env: BotEnv, clock: MovableClock) -> None:
    event_id = await _publish(env)
    clock.set(START - dt.timedelta(hours=2, minutes=5))  # the 1-day reminder is overdue, the 2-hour one close
    card = await card_of(env, MEMBER, "Rencontre des pionniers")
    await env.click(MEMBER, card, f"e:r:{event_id}")
    await env.services.events.plan_reminders()
    await drain(env)
    clock.set(START - dt.timedelta(hours=2) + dt.timedelta(seconds=30))
    await env.services.events.plan_reminders()
    await drain(env)
    reminders = [t for t in texts(env, MEMBER) if t.startswith("⏰")]
    assert len(reminders) == 1
    assert "C'est dans 2 heures : vendredi 12 mars 2027, 14 h 30" in reminders[0]


async def test_the_day_before_the_reminder_says_tomorrow(env: BotEnv, clock: MovableClock) -> None:
    event_id = await _publish(env)
    await env.services.events.toggle_reminder(OTHER, event_id)
    clock.set(START - dt.timedelta(days=1) + dt.timedelta(minutes=1))
    assert await env.services.events.plan_reminders() == 1
    await drain(env)
    assert "C'est demain à 14 h 30" in texts(env, OTHER)[-1]


async def test_a_coordinator_types_french_dates_and_confirms_what_was_understood(
    env: BotEnv, clock: MovableClock
) -> None:
    clock.set(paris(2027, 3, 10, 11, 0))  # a Wednesday
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Café des catalyseurs")
    wrong = await env.say(ADMIN, "le jour où il fera beau, à 9h")
    assert wrong.text == text("new_event_invalid", error=text("date_not_understood"))
    assert "not a date" not in (wrong.text or "") and "expected" not in (wrong.text or "")
    check = await env.say(ADMIN, "demain 9h")
    assert check.text == "J'ai compris : jeudi 11 mars 2027, 9 h 00. Est-ce bien cela ?"
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, check, "ne:dn")
    await env.fake.wait_for(lambda: texts(env, ADMIN)[sent:] == [text("new_event_date_again")])
    again = await env.say(ADMIN, "jeudi 14h")
    assert "jeudi 11 mars 2027, 14 h 00" in (again.text or "")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, again, "ne:dy")
    await env.fake.wait_for(lambda: texts(env, ADMIN)[sent:] == [text("new_event_end")])
    end = await env.say(ADMIN, "10/12 14h")
    assert "vendredi 10 décembre 2027, 14 h 00" in (end.text or "")


async def test_a_calendar_question_is_answered_with_the_next_events_and_their_buttons(env: BotEnv) -> None:
    event_id = await _publish(env)
    header = await env.say(MEMBER, "C'est quand le prochain événement ?")
    assert header.text == text("events_chat_header")
    await env.fake.wait_for(lambda: any("Rencontre des pionniers" in t for t in texts(env, MEMBER)))
    card = next(m for m in env.fake.sent_to(MEMBER) if m.text and "Rencontre des pionniers" in m.text)
    assert "vendredi 12 mars 2027" in card.text
    assert (text("event_remind"), f"e:r:{event_id}") in buttons(card)
    agenda = await env.say(OTHER, "agenda")
    assert agenda.text == text("events_chat_header")
    await env.fake.wait_for(lambda: any("Rencontre des pionniers" in t for t in texts(env, OTHER)))
    past = await env.say(OTHER, "Quand a eu lieu la dernière Rencontre ?")  # the knowledge base answers
    assert past.text != text("events_chat_header") and "Rencontre des pionniers" not in (past.text or "")


async def test_a_coordinator_edits_the_place_and_those_coming_are_told(env: BotEnv) -> None:
    event_id = await _publish(env)
    await env.services.events.rsvp(MEMBER, event_id, "yes")
    await env.services.events.rsvp(OTHER, event_id, "no")
    card = await card_of(env, ADMIN, "Rencontre des pionniers")
    assert "👥 Réponses : 1 participe · 0 peut-être · 1 ne vient pas" in (card.text or "")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, card, f"e:e:{event_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    choose = env.fake.sent_to(ADMIN)[-1]
    assert [d for _, d in buttons(choose)] == [
        f"e:ef:{event_id}:{f}" for f in ("title", "place", "link", "description")
    ]
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choose, f"e:ef:{event_id}:title")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    assert (await env.say(ADMIN, "\u200b\u200b")).text == text("new_event_title"), "an invisible title"
    assert (await env.say(ADMIN, "/annuler")).text == text("flow_cancelled")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, choose, f"e:ef:{event_id}:place")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    done = await env.say(ADMIN, "Tiers-lieu La Base, Lyon")
    assert done.text == text("event_edited_done", title="Rencontre des pionniers")
    long_title = await env.say(ADMIN, "/evenements")
    assert "📍 Tiers-lieu La Base, Lyon" in (long_title.text or "")
    await drain(env)
    assert any(t.startswith("📍 Changement de lieu : Rencontre des pionniers") for t in texts(env, MEMBER))
    assert not any(t.startswith("📍 Changement") for t in texts(env, OTHER))


async def test_a_coordinator_writes_to_those_coming_and_gets_the_report(env: BotEnv) -> None:
    event_id = await _publish(env)
    await env.services.events.rsvp(MEMBER, event_id, "yes")
    subscriptions = await env.say(OTHER, "/abonnements")
    await env.click(OTHER, subscriptions, "s:ann")  # out of announcements, but coming: still told
    await env.services.events.rsvp(OTHER, event_id, "maybe")
    await env.say(THIRD, "/start")
    await env.services.events.rsvp(THIRD, event_id, "no")
    card = await card_of(env, ADMIN, "Rencontre des pionniers")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, card, f"e:w:{event_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    assert texts(env, ADMIN)[-1] == text("event_write_ask", count=2, title="Rencontre des pionniers")
    progress = await env.say(ADMIN, "La salle change : rendez-vous en salle <B> & 12")
    assert (progress.text or "").startswith("📤 « Rencontre des pionniers » : 0 / 2 envoyés")
    await drain(env)
    for user in (MEMBER, OTHER):
        received = texts(env, user)[-1]
        assert received.startswith("✉️ Rencontre des pionniers — message des organisateurs :")
        assert received.endswith("La salle change : rendez-vous en salle <B> & 12")
    assert not any("La salle change" in t for t in texts(env, THIRD))
    await update_progress(Context(env.app))
    report = texts(env, ADMIN)[-1]
    assert "Bilan de l'annonce" in report and "Envoyés : 2" in report


async def test_nobody_coming_means_nothing_to_write(env: BotEnv) -> None:
    event_id = await _publish(env)
    card = await card_of(env, ADMIN, "Rencontre des pionniers")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, card, f"e:w:{event_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    assert texts(env, ADMIN)[-1] == text("event_write_nobody", title="Rencontre des pionniers")
    assert await env.services.announcements.recent() == []


async def test_a_move_from_the_card_is_confirmed_then_told_to_those_coming(
    env: BotEnv, clock: MovableClock
) -> None:
    clock.set(paris(2027, 3, 10, 11, 0))  # a Wednesday
    event_id = await _publish(env)
    await env.services.events.rsvp(OTHER, event_id, "maybe")  # no « Me rappeler »: told all the same
    card = await card_of(env, ADMIN, "Rencontre des pionniers")
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, card, f"e:m:{event_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    check = await env.say(ADMIN, "vendredi 16h")
    assert check.text == "J'ai compris : vendredi 12 mars 2027, 16 h 00. Est-ce bien cela ?"
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, check, "ne:dy")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    assert texts(env, ADMIN)[-1].startswith(
        "C'est noté : « Rencontre des pionniers » aura lieu le vendredi 12"
    )
    await drain(env)
    moved = [t for t in texts(env, OTHER) if t.startswith("🕒 Nouvel horaire : Rencontre des pionniers")]
    assert len(moved) == 1 and "16 h 00 – 18 h 00" in moved[0]
