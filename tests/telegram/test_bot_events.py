"""Events end to end: the calendar in Telegram, reminders through the outbox, restarts, moves, blocks."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator
from pathlib import Path

import icalendar
import pytest

from bot.delivery.outbox import Status
from bot.events.clock import paris_to_utc
from bot.events.records import EventFields
from bot.messages import text
from bot.telegram.delivery import DeliveryRuntime
from tests.botkit import ADMIN, BotEnv, bot_config, buttons, running_bot

MEMBER = 400
OTHER = 401
START = paris_to_utc(dt.datetime(2027, 3, 12, 14, 30))


class MovableClock:
    """Real time flowing from a chosen instant, which a test can move (the sender paces on it)."""

    def __init__(self, at: dt.datetime) -> None:
        self.set(at)

    def set(self, at: dt.datetime) -> None:
        self._at, self._since = at, time.monotonic()

    def __call__(self) -> dt.datetime:
        return self._at + dt.timedelta(seconds=time.monotonic() - self._since)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START - dt.timedelta(days=30))


@pytest.fixture
async def env(tmp_path: Path, knowledge_copy: Path, clock: MovableClock) -> AsyncIterator[BotEnv]:
    async with running_bot(bot_config(tmp_path, knowledge_copy)) as running:
        running.services.users.clock = running.services.events.clock = clock
        yield running
        assert running.fake.invalid_requests == []


async def _runtime(env: BotEnv) -> DeliveryRuntime:
    runtime = env.delivery_runtime()
    await runtime.start(background=False)
    return runtime


async def _publish(env: BotEnv) -> int:
    await env.say(MEMBER, "/start")  # Telegram only delivers to chats that talked to the bot
    event = await env.services.events.publish(
        EventFields(
            "Rencontre des pionniers", START, START + dt.timedelta(hours=2), "FNCE, Paris", None, None
        ),
        created_by=ADMIN,
    )
    return event.id


async def test_coordinator_creates_an_event_with_a_preview_and_subscribers_hear_of_it(env: BotEnv) -> None:
    await env.say(OTHER, "/start")
    subs = await env.say(OTHER, "/abonnements")
    await env.click(OTHER, subs, "s:new")
    refused = await env.say(MEMBER, "/nouvel_evenement")
    assert refused.text.startswith("Cette commande est réservée")
    await env.say(ADMIN, "/nouvel_evenement")
    answers = (
        "Webinaire <catalyse> & co",
        "12/03/2027 14h30",
        "12/03/2027 16h",
        "-",
        "https://example.org/w",
        "-",
    )
    for answer in answers:
        reply = await env.say(ADMIN, answer)
        if "ne:dy" in [d for _, d in buttons(reply)]:  # the date understood, to confirm
            assert reply.text.startswith("J'ai compris : ")
            before = len(env.fake.sent_to(ADMIN))
            await env.click(ADMIN, reply, "ne:dy")
            await env.fake.wait_for(lambda n=before: len(env.fake.sent_to(ADMIN)) > n)
    audience = env.fake.sent_to(ADMIN)[-1]
    await env.click(ADMIN, audience, "ne:aud:all")
    await env.fake.wait_for(lambda: "Aperçu" in env.fake.sent_to(ADMIN)[-1].text)
    preview = env.fake.sent_to(ADMIN)[-1]
    assert "tel que tout le monde le verra" in preview.text and "membres" not in preview.text
    assert "Webinaire <catalyse> & co" in preview.text and "vendredi 12 mars 2027, 14 h 30" in preview.text
    await env.click(ADMIN, preview, "ne:ok")
    await env.fake.wait_for(lambda: env.fake.sent_to(ADMIN)[-1].text == text("new_event_published"))
    runtime = await _runtime(env)
    try:
        assert await runtime.sender.drain() == 1
    finally:
        await runtime.stop()
    notice = env.fake.sent_to(OTHER)[-1]
    assert notice.text.startswith("🆕 Nouvel événement : Webinaire <catalyse> & co")


async def test_list_remind_rsvp_and_agenda_file(env: BotEnv) -> None:
    event_id = await _publish(env)
    card = await env.say(MEMBER, "/evenements")
    assert "Rencontre des pionniers" in card.text and "📍 FNCE, Paris" in card.text
    assert await env.click(MEMBER, card, f"e:r:{event_id}") == text("event_reminder_on")
    await env.fake.wait_for(lambda: text("event_remind_on") in [label for label, _ in buttons(card)])
    assert await env.click(MEMBER, card, f"e:p:{event_id}:yes") == text(
        "event_rsvp_saved", answer=text("event_yes")
    )
    await env.click(MEMBER, card, f"e:p:{event_id}:yes")  # a double tap changes nothing and breaks nothing
    assert (await env.services.database.storage.events.rsvp_counts(event_id))["yes"] == 1
    sent = len(env.fake.sent_to(MEMBER))
    await env.click(MEMBER, card, f"e:i:{event_id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(MEMBER)) > sent)
    document = env.fake.sent_to(MEMBER)[-1]
    assert document.kind == "document" and document.document is not None
    calendar = icalendar.Calendar.from_ical(document.document)
    vevent = next(iter(calendar.walk("VEVENT")))
    assert str(vevent["SUMMARY"]) == "Rencontre des pionniers"
    assert vevent.decoded("DTSTART") == START
    assert any(c.name == "VALARM" for c in vevent.subcomponents)
    coordinator_view = await env.say(ADMIN, "/evenements")
    assert "👥 Réponses : 1 participe · 0 peut-être · 0 ne vient pas" in coordinator_view.text


async def test_the_reminder_arrives_once_and_survives_a_restart(env: BotEnv, clock: MovableClock) -> None:
    event_id = await _publish(env)
    await env.services.database.storage.events.toggle_reminder(MEMBER, event_id)
    clock.set(START - dt.timedelta(days=1) + dt.timedelta(minutes=1))
    assert await env.services.events.plan_reminders() == 1
    assert await env.services.events.plan_reminders() == 0, "planning twice records nothing new"
    # The bot restarts between planning and sending: the outbox is in the database.
    first = await _runtime(env)
    await first.stop()
    second = await _runtime(env)
    try:
        assert await second.sender.drain() == 1
        assert await second.sender.drain() == 0
    finally:
        await second.stop()
    reminder = env.fake.sent_to(MEMBER)[-1]
    assert reminder.text.startswith("⏰ Rappel : Rencontre des pionniers")
    assert [d for _, d in buttons(reminder)] == [f"e:i:{event_id}"]


async def test_after_downtime_only_the_closest_reminder_is_sent(env: BotEnv, clock: MovableClock) -> None:
    event_id = await _publish(env)
    await env.services.database.storage.events.toggle_reminder(MEMBER, event_id)
    clock.set(START - dt.timedelta(hours=1))  # the 7-day, 1-day and 2-hour reminders were all missed
    await env.services.events.plan_reminders()
    counts = await env.services.database.storage.outbox.counts("reminder", event_id)
    assert counts.get(Status.PENDING) == 1 and counts.get(Status.SKIPPED) == 2
    clock.set(START + dt.timedelta(minutes=5))  # and now the event has started
    runtime = await _runtime(env)
    try:
        await runtime.sender.drain()
    finally:
        await runtime.stop()
    assert (await env.services.database.storage.outbox.counts("reminder", event_id)).get(Status.SENT, 0) == 0
    assert not any(m.text.startswith("⏰") for m in env.fake.sent_to(MEMBER) if m.text)


async def test_moving_and_cancelling_notify_subscribers(env: BotEnv, clock: MovableClock) -> None:
    event_id = await _publish(env)
    await env.services.database.storage.events.toggle_reminder(MEMBER, event_id)
    clock.set(START - dt.timedelta(days=1) + dt.timedelta(minutes=1))
    await env.services.events.plan_reminders()
    moved = await env.services.events.move(event_id, START + dt.timedelta(days=7), None)
    assert moved is not None and moved.revision == 2
    runtime = await _runtime(env)
    try:
        await runtime.sender.drain()
        texts = [m.text for m in env.fake.sent_to(MEMBER)]
        assert any(t.startswith("🕒 Nouvel horaire : Rencontre des pionniers") for t in texts)
        assert not any(t.startswith("⏰") for t in texts), "the reminder planned for the old time is dropped"
        await env.services.events.cancel(event_id)
        await runtime.sender.drain()
    finally:
        await runtime.stop()
    assert env.fake.sent_to(MEMBER)[-1].text.startswith("🚫 Événement annulé : Rencontre des pionniers")
    assert (await env.say(MEMBER, "/evenements")).text == text("events_none")


async def test_a_user_who_blocked_the_bot_gets_no_reminder_and_is_marked_inactive(
    env: BotEnv, clock: MovableClock
) -> None:
    event_id = await _publish(env)
    await env.services.database.storage.events.toggle_reminder(MEMBER, event_id)
    await env.fake.user_blocks(MEMBER, notify=False)
    clock.set(START - dt.timedelta(hours=2) + dt.timedelta(minutes=1))
    await env.services.events.plan_reminders()
    runtime = await _runtime(env)
    try:
        await runtime.sender.drain()
    finally:
        await runtime.stop()
    assert (await env.services.database.storage.outbox.counts("reminder", event_id)).get(Status.BLOCKED) == 1
    user = await env.services.database.storage.users.get_user(MEMBER)
    assert user is not None and not user.active


async def test_annuler_ends_any_flow_and_the_next_text_is_a_question_again(env: BotEnv) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    asked_start = await env.say(ADMIN, "Atelier mobilité")
    assert asked_start.text == text("new_event_start")
    assert (await env.say(ADMIN, "/annuler")).text == text("flow_cancelled")
    answer = await env.say(ADMIN, "Combien de catalyseurs dans le réseau ?")
    assert "350" in answer.text, "answered as a question, not as the event's start"
    await env.say(ADMIN, "/annonce")
    assert (await env.say(ADMIN, "/annuler")).text == text("flow_cancelled")
    assert (await env.say(ADMIN, "/annuler")).text == text("flow_nothing")


async def test_a_new_command_mid_draft_says_the_event_draft_is_abandoned(env: BotEnv) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Atelier <mobilité>")
    assert (await env.say(ADMIN, "12/03/2027 14h30")).text.startswith("J'ai compris")
    before = len(env.fake.sent_to(ADMIN))
    await env.say(ADMIN, "/annonce")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) >= before + 2)
    notice, prompt = env.fake.sent_to(ADMIN)[before : before + 2]
    assert notice.text == text("new_event_dropped", title="Atelier <mobilité>")
    assert notice.text.startswith("Votre brouillon d'événement « Atelier <mobilité> » est abandonné")
    assert prompt.text == text("announce_ask")
    assert await env.services.conversations.get(ADMIN, ADMIN, "new_event") is None
    # the same command again restarts the creation, and says so too
    await env.say(ADMIN, "/annuler")
    await env.say(ADMIN, "/nouvel_evenement")
    await env.say(ADMIN, "Café des catalyseurs")
    assert (await env.say(ADMIN, "/nouvel_evenement")).text == text(
        "new_event_dropped", title="Café des catalyseurs"
    )
    await env.fake.wait_for(lambda: env.fake.sent_to(ADMIN)[-1].text == text("new_event_title"))
    # nothing typed yet: nothing to lose, nothing said
    assert (await env.say(ADMIN, "/annonce")).text == text("announce_ask")


async def test_a_title_is_required_and_dates_out_of_range_are_asked_again(env: BotEnv) -> None:
    await env.say(ADMIN, "/nouvel_evenement")
    for empty in ("-", "—", "\x00", "\u200b\u200b", "\u200b\u200d\u3164"):  # « - » skips optional fields only
        assert (await env.say(ADMIN, empty)).text == text("new_event_title")
    assert (await env.say(ADMIN, "Atelier")).text == text("new_event_start")
    refused = await env.say(ADMIN, "01/01/0001 00h00")
    # issue 13: the reason comes from the catalogue, in the user's language (« l'année doit être comprise
    # entre 1970 et 2100 »; the English catalogue says "the year must be between 1970 and 2100")
    assert text("date_out_of_range") in refused.text and "1970" in refused.text
    check = await env.say(ADMIN, "12/03/2027 14h30")
    assert check.text == "J'ai compris : vendredi 12 mars 2027, 14 h 30. Est-ce bien cela ?"
    sent = len(env.fake.sent_to(ADMIN))
    await env.click(ADMIN, check, "ne:dy")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(ADMIN)) > sent)
    assert env.fake.sent_to(ADMIN)[-1].text == text("new_event_end")
