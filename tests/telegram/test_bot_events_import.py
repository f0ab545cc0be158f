"""Issue 13, imports end to end (`catabot events import`, then the bot through the fake Bot API, SQLite and
PostgreSQL): all-day events, a whole file checked before anything is written, encodings, recurring events,
and the people concerned told of what an import changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import icalendar
import pytest

from bot.delivery.outbox import Status
from bot.events.records import MAX_DESCRIPTION
from tests.botkit import BotEnv, buttons
from tests.events_kit import card_of, drain, events_bot, ics, import_file, paris, texts
from tests.telegram.test_bot_events import MovableClock

MEMBER, OTHER, THIRD = 400, 401, 402


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(paris(2027, 1, 1, 12))


@pytest.fixture
async def env(
    db_url: str, tmp_path: Path, knowledge_copy: Path, clock: MovableClock
) -> AsyncIterator[BotEnv]:
    async with events_bot(db_url, tmp_path, knowledge_copy, clock) as running:
        for user in (MEMBER, OTHER, THIRD):
            await running.say(user, "/start")
        yield running


async def _import(
    env: BotEnv, db_url: str, tmp_path: Path, name: str, content: str | bytes
) -> tuple[int, str]:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8", newline="")
    else:
        path.write_bytes(content)
    return await import_file(db_url, tmp_path, path)


ALL_DAY = """
UID:rencontre-2027
SUMMARY:Rencontre nationale
DTSTART;VALUE=DATE:20270911
DTEND;VALUE=DATE:20270912
LOCATION:Lyon
"""


async def test_an_all_day_event_is_shown_exported_and_reminded_as_one(
    env: BotEnv, db_url: str, tmp_path: Path, clock: MovableClock
) -> None:
    code, _ = await _import(env, db_url, tmp_path, "rencontre.ics", ics(ALL_DAY))
    assert code == 0
    card = await card_of(env, MEMBER, "Rencontre nationale")
    assert "samedi 11 septembre 2027 (toute la journée)" in card.text
    assert "9 h 00" not in card.text and "18 h 00" not in card.text
    event = await env.services.database.storage.events.get_event_by_uid("rencontre-2027")
    assert event is not None and event.all_day
    sent = len(env.fake.sent_to(MEMBER))
    await env.click(MEMBER, card, f"e:i:{event.id}")
    await env.fake.wait_for(lambda: len(env.fake.sent_to(MEMBER)) > sent)
    document = env.fake.sent_to(MEMBER)[-1].document
    assert document is not None and b"DTSTART;VALUE=DATE:20270911" in document
    vevent = next(iter(icalendar.Calendar.from_ical(document).walk("VEVENT")))
    assert vevent.decoded("DTEND") == dt.date(2027, 9, 12)
    alarm = next(c for c in vevent.subcomponents if c.name == "VALARM")
    assert alarm.decoded("TRIGGER") == -dt.timedelta(hours=15), "the day before at 09:00, not 2 h before"
    await env.click(MEMBER, card, f"e:r:{event.id}")
    clock.set(paris(2027, 9, 10, 9, 1))  # the day before, 09:01 Paris
    assert await env.services.events.plan_reminders() == 1
    await drain(env)
    assert "C'est demain (toute la journée)" in texts(env, MEMBER)[-1]


async def test_a_bad_entry_stops_the_import_before_anything_is_written(
    env: BotEnv, db_url: str, tmp_path: Path
) -> None:
    good = "UID:bon\nSUMMARY:Atelier\nDTSTART:20270301T100000Z"
    long_link = "URL:https://example.org/" + "a" * 623  # 643 characters
    long_place = "LOCATION:" + "L" * 351
    long_uid = "UID:" + "u" * 228
    calendar = ics(
        good,
        f"UID:lien\nSUMMARY:Lien\nDTSTART:20270302T100000Z\n{long_link}",
        f"UID:lieu\nSUMMARY:Lieu\nDTSTART:20270303T100000Z\n{long_place}",
        f"{long_uid}\nSUMMARY:Uid\nDTSTART:20270304T100000Z",
    )
    code, out = await _import(env, db_url, tmp_path, "agenda.ics", calendar)
    assert code == 1
    path = tmp_path / "agenda.ics"
    lines = calendar.splitlines()
    assert (
        f"{path}:{lines.index(long_link) + 1}: VEVENT[2] (UID lien): URL: at most 500 characters, got 643"
        in out
    )
    assert (
        f"{path}:{lines.index(long_place) + 1}: VEVENT[3] (UID lieu): LOCATION: at most 300 characters" in out
    )
    assert f"{path}:{lines.index(long_uid) + 1}: VEVENT[4]: UID: at most 200 characters, got 228" in out
    assert "Traceback" not in out
    assert await env.services.database.storage.events.get_event_by_uid("bon") is None, "nothing written"


async def test_a_long_description_is_shortened_with_a_warning(
    env: BotEnv, db_url: str, tmp_path: Path
) -> None:
    description = "DESCRIPTION:" + "Réunion Teams. " * 400  # 6,000 characters, 5,999 once stripped
    code, out = await _import(
        env,
        db_url,
        tmp_path,
        "teams.ics",
        ics(f"UID:teams\nSUMMARY:Point Teams\nDTSTART:20270301T100000Z\n{description}"),
    )
    assert code == 0
    assert (
        f"VEVENT[1] (UID teams): DESCRIPTION: 5999 characters, shortened to {MAX_DESCRIPTION} (warning)"
        in out
    )
    event = await env.services.database.storage.events.get_event_by_uid("teams")
    assert event is not None and event.description is not None and len(event.description) == MAX_DESCRIPTION


async def test_a_windows_1252_calendar_is_decoded_and_a_damaged_one_refused(
    env: BotEnv, db_url: str, tmp_path: Path
) -> None:
    calendar = ics("UID:pleniere\nSUMMARY:Réunion plénière à Besançon\nDTSTART:20270301T100000Z")
    code, _ = await _import(env, db_url, tmp_path, "outlook.ics", calendar.encode("cp1252"))
    assert code == 0
    card = await card_of(env, MEMBER, "plénière")
    assert "Réunion plénière à Besançon" in card.text and "\ufffd" not in card.text
    damaged = ics("UID:abime\nSUMMARY:R\ufffdunion\nDTSTART:20270302T100000Z")
    code, out = await _import(env, db_url, tmp_path, "abime.ics", damaged)
    assert code == 1
    assert f"{tmp_path / 'abime.ics'}:6: contains replacement characters (U+FFFD)" in out
    assert await env.services.database.storage.events.get_event_by_uid("abime") is None


# The occurrences must fall within a year of the real date (the CLI imports with the current time): the café
# of the 5th of each month, from January of next year (always CET at 12:00, 11:00 UTC).
Y = str(dt.date.today().year + 1)
CAFE = f"""
UID:cafe-catalyseurs
SUMMARY:Café des catalyseurs
DTSTART;TZID=Europe/Paris:{Y}0105T120000
DTEND;TZID=Europe/Paris:{Y}0105T130000
RRULE:FREQ=MONTHLY;COUNT=6
EXDATE;TZID=Europe/Paris:{Y}0205T120000
"""
TIMEZONE = """BEGIN:VTIMEZONE\r
TZID:Europe/Paris\r
BEGIN:STANDARD\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
END:STANDARD\r
BEGIN:DAYLIGHT\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
END:DAYLIGHT\r
END:VTIMEZONE\r
"""


def _cafe(*extra: str) -> str:
    return ics(CAFE, *extra).replace("PRODID:-//test//FR\r\n", "PRODID:-//test//FR\r\n" + TIMEZONE)


async def test_a_monthly_event_becomes_occurrences_that_keep_their_answers(
    env: BotEnv, db_url: str, tmp_path: Path
) -> None:
    code, out = await _import(env, db_url, tmp_path, "cafe.ics", _cafe())
    assert code == 0 and "5 created" in out, out  # 6 months from January, February excluded
    events = env.services.database.storage.events
    january = await events.get_event_by_uid(f"cafe-catalyseurs#{Y}0105T110000Z")
    march = await events.get_event_by_uid(f"cafe-catalyseurs#{Y}0305T110000Z")
    assert january is not None and march is not None
    assert await events.get_event_by_uid(f"cafe-catalyseurs#{Y}0205T110000Z") is None
    assert march.starts_at == paris(int(Y), 3, 5, 12)
    card = await card_of(env, MEMBER, "Café des catalyseurs")
    await env.click(MEMBER, card, f"e:p:{january.id}:yes")
    await env.services.events.rsvp(OTHER, march.id, "maybe")
    moved = f"""
UID:cafe-catalyseurs
RECURRENCE-ID;TZID=Europe/Paris:{Y}0305T120000
SUMMARY:Café des catalyseurs
DTSTART;TZID=Europe/Paris:{Y}0305T140000
DTEND;TZID=Europe/Paris:{Y}0305T150000
"""
    code, out = await _import(env, db_url, tmp_path, "cafe.ics", _cafe(moved))
    assert code == 0 and "0 created, 1 updated, 4 unchanged" in out, out
    assert await events.rsvp_of(MEMBER, january.id) == "yes", "an unchanged occurrence keeps its answers"
    await drain(env)
    assert any(t.startswith("🕒 Nouvel horaire : Café des catalyseurs") for t in texts(env, OTHER))
    assert not any(t.startswith("🕒") for t in texts(env, MEMBER))
    # January is dropped from the series (a new EXDATE): that occurrence is cancelled, its people told
    dropped = _cafe(moved).replace(
        f"EXDATE;TZID=Europe/Paris:{Y}0205T120000", f"EXDATE;TZID=Europe/Paris:{Y}0205T120000,{Y}0105T120000"
    )
    code, out = await _import(env, db_url, tmp_path, "cafe.ics", dropped)
    assert code == 0 and "4 unchanged, 1 cancelled" in out, out
    cancelled = await events.get_event(january.id)
    assert cancelled is not None and cancelled.status == "cancelled"
    await drain(env)
    assert any(t.startswith("🚫 Événement annulé : Café des catalyseurs") for t in texts(env, MEMBER))


async def test_a_reimport_that_moves_or_cancels_tells_subscribers_and_those_coming_once(
    env: BotEnv, db_url: str, tmp_path: Path
) -> None:
    atelier = "UID:atelier\nSUMMARY:Atelier tiers-lieux\nDTSTART:20270301T100000Z"
    assert (await _import(env, db_url, tmp_path, "a.ics", ics(atelier)))[0] == 0
    event = await env.services.database.storage.events.get_event_by_uid("atelier")
    assert event is not None
    await env.services.events.toggle_reminder(MEMBER, event.id)
    await env.services.events.rsvp(MEMBER, event.id, "yes")  # subscribed and coming: told once
    await env.services.events.rsvp(OTHER, event.id, "yes")  # coming, no « Me rappeler »
    await env.services.events.rsvp(THIRD, event.id, "no")
    moved = atelier.replace("20270301T100000Z", "20270308T100000Z")
    code, out = await _import(env, db_url, tmp_path, "a.ics", ics(moved))
    assert code == 0 and "1 updated" in out
    await drain(env)
    for user in (MEMBER, OTHER):
        assert [t for t in texts(env, user) if t.startswith("🕒 Nouvel horaire : Atelier tiers-lieux")] != []
        assert len([t for t in texts(env, user) if t.startswith("🕒")]) == 1
    assert not any(t.startswith("🕒") for t in texts(env, THIRD))
    code, out = await _import(env, db_url, tmp_path, "a.ics", ics(moved + "\nSTATUS:CANCELLED"))
    assert code == 0 and "1 cancelled" in out
    await drain(env)
    for user in (MEMBER, OTHER):
        assert len([t for t in texts(env, user) if t.startswith("🚫 Événement annulé : Atelier")]) == 1
    counts = await env.services.database.storage.outbox.counts("event_change", event.id)
    assert counts.get(Status.SENT) == 4


async def test_the_card_buttons_of_an_imported_event(env: BotEnv, db_url: str, tmp_path: Path) -> None:
    assert (await _import(env, db_url, tmp_path, "r.ics", ics(ALL_DAY)))[0] == 0
    card = await card_of(env, MEMBER, "Rencontre nationale")
    assert next(d for _, d in buttons(card)).startswith("e:r:")
