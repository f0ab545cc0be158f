"""Events, per-user event settings and the delivery outbox on every backend, and migration 0003."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Table, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.delivery.outbox import Delivery, OutboxStore, Status
from bot.events.records import Audience, Event, EventFields, EventStatus, RsvpAnswer
from bot.storage import Database, Storage, open_database
from bot.storage.database import current_revision, upgrade_engine
from bot.storage.engine import create_engine, transaction
from bot.storage.outbox import CHAT_MOVED
from bot.storage.schema import (
    deliveries,
    diagnostic_results,
    diagnostic_sessions,
    event_subscriptions,
    events,
    feedback,
    invitations,
    metadata,
    preferences,
    questions,
    rsvps,
    users,
)
from bot.users.records import Preferences, Role
from tests.storage.test_storage import HEAD
from tests.storage_fixtures import T0, migrate, minutes, shared_columns, table_names, table_rows

ME, OTHER = 987_654_321, 123_456_789
GROUP = -1_001_234_567_890  # a supergroup: chat ids are not user ids
TABLES_0002 = [users, invitations, questions, feedback, diagnostic_sessions, diagnostic_results]
NEW_TABLES = {"events", "event_subscriptions", "rsvps", "preferences", "deliveries"}


def fields(title: str = "Atelier", *, at: int = 60, **changes: Any) -> EventFields:
    """An event starting `at` minutes after T0, lasting an hour."""
    values: dict[str, Any] = {
        "title": title,
        "starts_at": minutes(at),
        "ends_at": minutes(at + 60),
        "place": "Lyon",
        "link": "https://example.org/atelier",
        "description": "Un atelier.",
        "audience": Audience.ALL,
    }
    return EventFields(**(values | changes))


async def user(storage: Storage, user_id: int, role: Role = Role.NEWCOMER, *, active: bool = True) -> None:
    await storage.users.touch_user(user_id, now=T0)
    await storage.users.set_role(user_id, role)
    await storage.users.set_active(user_id, active)


async def count(engine: AsyncEngine, table: Table) -> int:
    async with transaction(engine, write=False) as conn:
        return int(await conn.scalar(select(func.count()).select_from(table)) or 0)


# -- migration 0003 -----------------------------------------------------------------------------------------


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(differences)


async def rows_0002(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    return await table_rows(engine, TABLES_0002)


async def populate_0002(storage: Storage) -> None:
    """Data in every table of revision 0002 (only uses queries on those tables)."""
    await storage.users.touch_user(ME, language_hint="en", now=T0)
    question = await storage.questions.record_question(
        ME, "private", "Comment adhérer ?", "fr", True, "adhesion", 0.9
    )
    await storage.questions.record_feedback(question, OTHER, -1, now=minutes(1))
    code = await storage.users.create_invitation(ME, now=T0)
    assert await storage.users.redeem_invitation(code, OTHER, now=minutes(2)) == "ok"
    await storage.diagnosis.save_diagnostic_result(
        ME,
        territory="rural",
        structure=None,
        version="1",
        scores={"animation": 20},
        statuses={"animation": "missing"},
        answers={"q1": "a"},
        now=minutes(3),
    )
    await storage.diagnosis.save_diagnostic(OTHER, {"q1": "b"}, now=minutes(4))


def columns_0003(table: Table) -> list[Any]:
    """The columns `table` had at revision 0003 (events.all_day came with 0006)."""
    return [c for c in table.c if not (table is events and c.name == "all_day")]


async def populate_0003(storage: Storage) -> Event:
    """Data in the tables of revision 0003; the event is written with the columns 0003 has (later columns
    take their defaults), so that this also fills a database still at 0003."""
    columns = columns_0003(events)
    values = dataclasses.asdict(fields()) | {"audience": "all", "status": "scheduled", "revision": 1}
    values |= {"created_by": ME, "created_at": minutes(5), "updated_at": minutes(5)}
    del values["all_day"]
    async with transaction(storage._engine, write=True) as conn:
        row = (await conn.execute(events.insert().values(**values).returning(*columns))).mappings().one()
    event = Event(**{c.name: row[c.name] for c in columns})
    assert await storage.events.toggle_reminder(OTHER, event.id, now=minutes(6))
    await storage.events.set_rsvp(OTHER, event.id, "yes", now=minutes(6))
    await storage.preferences.set_preference(ME, "remind_all", True, now=minutes(6))
    await storage.outbox.enqueue(
        "reminder", event.id, [OTHER, GROUP], "60", not_before=minutes(0), now=minutes(7)
    )
    return event


async def test_upgrade_from_0002_keeps_the_data(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade_engine(engine, "0002")  # the database of the previous version of the bot
        assert await current_revision(engine) == "0002"
        await populate_0002(Storage(engine))
        before = await rows_0002(engine)
        assert all(before.values())
    finally:
        await engine.dispose()

    async with await open_database(db_url, tmp_path) as db:  # the new version starts: it migrates
        assert await current_revision(db.engine) == HEAD
        after, kept = shared_columns(await rows_0002(db.engine), before)
        assert after == kept
        assert await table_names(db.engine) >= NEW_TABLES
        assert await schema_differences(db.engine) == []
        event = await populate_0003(db.storage)
        assert await db.storage.events.reminder_recipients(event) == [OTHER, ME]  # by id


async def test_downgrade_to_0002_and_upgrade_again(db: Database) -> None:
    await populate_0002(db.storage)
    await populate_0003(db.storage)
    before = await rows_0002(db.engine)

    await migrate(db.engine, "downgrade", "0002")
    assert await current_revision(db.engine) == "0002"
    assert not NEW_TABLES & await table_names(db.engine)
    after, kept = shared_columns(await rows_0002(db.engine), before)
    assert after == kept

    await migrate(db.engine, "upgrade", "head")
    assert await current_revision(db.engine) == HEAD
    assert await schema_differences(db.engine) == []
    after, kept = shared_columns(await rows_0002(db.engine), before)
    assert after == kept
    for table in (events, event_subscriptions, rsvps, preferences, deliveries):  # back, empty
        assert await count(db.engine, table) == 0, table.name
    await populate_0003(db.storage)


# -- events -------------------------------------------------------------------------------------------------


async def test_create_and_get_an_event(storage: Storage) -> None:
    created = await storage.events.create_event(fields(), created_by=ME, now=T0)
    assert created == Event(
        id=created.id,
        uid=None,
        title="Atelier",
        starts_at=minutes(60),
        ends_at=minutes(120),
        place="Lyon",
        link="https://example.org/atelier",
        description="Un atelier.",
        audience=Audience.ALL,
        status=EventStatus.SCHEDULED,
        revision=1,
        created_by=ME,
        created_at=T0,
        updated_at=T0,
    )
    assert created.starts_at.tzinfo is not None
    assert await storage.events.get_event(created.id) == created
    assert await storage.events.get_event(created.id + 1) is None

    bare = await storage.events.create_event(
        EventFields("Visio", minutes(10), audience="members"), created_by=None, uid="agenda:1", now=T0
    )
    assert (bare.ends_at, bare.place, bare.link, bare.description) == (None, None, None, None)
    assert (bare.audience, bare.uid, bare.created_by) == (Audience.MEMBERS, "agenda:1", None)
    with pytest.raises(IntegrityError):  # that uid exists: upsert_event is the way to import
        await storage.events.create_event(fields(), created_by=None, uid="agenda:1", now=T0)


async def test_event_fields_are_checked(storage: Storage) -> None:
    bad: list[EventFields] = [
        fields(title=""),
        fields(title="x" * 201),
        fields(place="x" * 301),
        fields(link="x" * 501),
        fields(audience="everyone"),
        fields(ends_at=minutes(59)),  # before it starts
        fields(starts_at=datetime(2025, 3, 1, 13, 0)),  # naive: which time zone?
        fields(ends_at=datetime(2025, 3, 1, 14, 0)),
    ]
    for wrong in bad:
        with pytest.raises(ValueError):
            await storage.events.create_event(wrong, created_by=ME, now=T0)
    with pytest.raises(ValueError):
        await storage.events.upsert_event("x" * 201, fields(), now=T0)
    assert await storage.events.count_upcoming(now=T0, include_members_only=True) == 0


async def test_update_reports_the_changes_and_bumps_the_revision_only_when_the_time_changes(
    storage: Storage,
) -> None:
    event = await storage.events.create_event(fields(), created_by=ME, now=T0)

    same = await storage.events.update_event(event.id, fields(), now=minutes(1))
    assert same == (event, frozenset())  # nothing written, not even updated_at

    paris = timezone(timedelta(hours=1))
    same_instant = fields(starts_at=minutes(60).astimezone(paris), ends_at=minutes(120).astimezone(paris))
    assert await storage.events.update_event(event.id, same_instant, now=minutes(1)) == (event, frozenset())

    result = await storage.events.update_event(event.id, fields("Atelier compta", place=None), now=minutes(2))
    assert result is not None
    renamed, changed = result
    assert changed == {"title", "place"}
    assert (renamed.title, renamed.place, renamed.revision, renamed.updated_at) == (
        "Atelier compta",
        None,
        1,
        minutes(2),
    )

    result = await storage.events.update_event(
        event.id, fields("Atelier compta", place=None, ends_at=minutes(90)), now=minutes(3)
    )
    assert result is not None and result[1] == {"ends_at"} and result[0].revision == 1

    moved = fields("Atelier compta", place=None, at=120, audience="members")
    result = await storage.events.update_event(event.id, moved, now=minutes(4))
    assert result is not None
    event, changed = result
    assert changed == {"starts_at", "ends_at", "audience"}
    assert (event.starts_at, event.revision, event.audience) == (minutes(120), 2, Audience.MEMBERS)
    assert (event.created_at, event.updated_at) == (T0, minutes(4))
    assert await storage.events.get_event(event.id) == event

    assert await storage.events.update_event(event.id + 1, moved, now=minutes(5)) is None


async def test_cancel_an_event(storage: Storage) -> None:
    event = await storage.events.create_event(fields(), created_by=ME, now=T0)
    cancelled = await storage.events.cancel_event(event.id, now=minutes(1))
    assert cancelled is not None
    assert (cancelled.status, cancelled.updated_at, cancelled.revision) == (
        EventStatus.CANCELLED,
        minutes(1),
        1,
    )
    assert await storage.events.cancel_event(event.id, now=minutes(2)) == cancelled  # once
    assert await storage.events.cancel_event(event.id + 1, now=minutes(2)) is None
    assert await storage.events.upcoming_events(now=T0) == []
    # Editing a cancelled event keeps it cancelled.
    result = await storage.events.update_event(event.id, fields("Autre titre"), now=minutes(3))
    assert result is not None and result[0].status == EventStatus.CANCELLED


async def test_upsert_is_idempotent(db: Database) -> None:
    storage = db.storage
    created, outcome = await storage.events.upsert_event("agenda:42", fields(), now=T0)
    assert outcome == "created"
    assert (created.uid, created.revision, created.created_by, created.created_at) == (
        "agenda:42",
        1,
        None,
        T0,
    )

    again, outcome = await storage.events.upsert_event(
        "agenda:42", fields(), now=minutes(1)
    )  # imported twice
    assert (again, outcome) == (created, "unchanged")
    assert await count(db.engine, events) == 1

    renamed, outcome = await storage.events.upsert_event(
        "agenda:42", fields("Atelier (complet)"), now=minutes(2)
    )
    assert outcome == "updated"
    assert (renamed.id, renamed.title, renamed.revision, renamed.updated_at) == (
        created.id,
        "Atelier (complet)",
        1,
        minutes(2),
    )
    moved, outcome = await storage.events.upsert_event(
        "agenda:42", fields("Atelier (complet)", at=90), now=minutes(3)
    )
    assert (outcome, moved.revision, moved.starts_at) == ("updated", 2, minutes(90))

    other, outcome = await storage.events.upsert_event("agenda:43", fields(), now=minutes(4))
    assert outcome == "created" and other.id != created.id
    assert await count(db.engine, events) == 2


async def test_a_cancelled_event_imported_again_stays_cancelled(storage: Storage) -> None:
    event, _ = await storage.events.upsert_event("agenda:1", fields(), now=T0)
    await storage.events.cancel_event(event.id, now=minutes(1))
    again, outcome = await storage.events.upsert_event("agenda:1", fields(), now=minutes(2))
    assert (outcome, again.status) == ("unchanged", EventStatus.CANCELLED)
    changed, outcome = await storage.events.upsert_event("agenda:1", fields("Nouveau titre"), now=minutes(3))
    assert (outcome, changed.status) == ("updated", EventStatus.CANCELLED)


async def test_concurrent_imports_of_one_uid_create_it_once(db: Database, db_url: str) -> None:
    async with await open_database(db_url, Path("/nonexistent")) as other:  # a second process, say
        stores = [db.storage, other.storage]
        results = await asyncio.gather(
            *(stores[i % 2].events.upsert_event("agenda:7", fields(), now=T0) for i in range(8))
        )
    assert sorted(outcome for _, outcome in results) == ["created"] + ["unchanged"] * 7
    assert len({event.id for event, _ in results}) == 1
    assert await count(db.engine, events) == 1


async def test_upcoming_events_paginated_and_filtered(storage: Storage) -> None:
    past = await storage.events.create_event(fields("passé", at=-180), created_by=ME, now=T0)
    ongoing = await storage.events.create_event(
        fields("en cours", at=-30), created_by=ME, now=T0
    )  # until +30
    no_end = await storage.events.create_event(fields("sans fin", at=-1, ends_at=None), created_by=ME, now=T0)
    later = [
        await storage.events.create_event(fields(f"n°{i}", at=100 * i), created_by=ME, now=T0)
        for i in (3, 1, 2)
    ]
    members = await storage.events.create_event(
        fields("réservé", at=150, audience="members"), created_by=ME, now=T0
    )
    cancelled = await storage.events.create_event(fields("annulé", at=50), created_by=ME, now=T0)
    await storage.events.cancel_event(cancelled.id, now=T0)
    same_time = await storage.events.create_event(fields("même heure", at=100), created_by=ME, now=T0)

    everyone = ["en cours", "n°1", "même heure", "n°2", "n°3"]  # by start, then by id
    listed = await storage.events.upcoming_events(now=T0, limit=50)
    assert [e.title for e in listed] == everyone
    assert await storage.events.count_upcoming(now=T0) == 5
    assert [e.title for e in await storage.events.upcoming_events(now=T0, limit=2)] == everyone[:2]
    assert [e.title for e in await storage.events.upcoming_events(now=T0, limit=2, offset=2)] == everyone[2:4]
    assert [e.title for e in await storage.events.upcoming_events(now=T0, limit=2, offset=4)] == everyone[4:]
    assert await storage.events.upcoming_events(now=T0, limit=2, offset=6) == []

    with_members = await storage.events.upcoming_events(now=T0, include_members_only=True, limit=50)
    assert [e.title for e in with_members] == ["en cours", "n°1", "même heure", "réservé", "n°2", "n°3"]
    assert await storage.events.count_upcoming(now=T0, include_members_only=True) == 6

    assert [e.title for e in await storage.events.upcoming_events(now=minutes(-1), limit=3)] == [
        "en cours",
        "sans fin",
        "n°1",
    ]  # an event without an end is upcoming until it starts
    assert await storage.events.count_upcoming(now=minutes(1000)) == 0
    assert {past.id, no_end.id, cancelled.id}.isdisjoint(e.id for e in with_members)
    assert ongoing.id == listed[0].id and later[1].id == listed[1].id and same_time.id == listed[2].id
    assert members.id == with_members[3].id
    with pytest.raises(ValueError):
        await storage.events.upcoming_events(now=T0, limit=-1)


async def test_events_starting_between_for_the_reminder_tick(storage: Storage) -> None:
    at_start = await storage.events.create_event(fields("début", at=60), created_by=ME, now=T0)
    inside = await storage.events.create_event(
        fields("dedans", at=89, audience="members"), created_by=ME, now=T0
    )
    await storage.events.create_event(fields("fin", at=90), created_by=ME, now=T0)  # the end is excluded
    await storage.events.create_event(fields("avant", at=59), created_by=ME, now=T0)
    cancelled = await storage.events.create_event(fields("annulé", at=70), created_by=ME, now=T0)
    await storage.events.cancel_event(cancelled.id, now=T0)

    found = await storage.events.events_starting_between(minutes(60), minutes(90))
    assert [e.id for e in found] == [at_start.id, inside.id]
    with pytest.raises(ValueError):
        await storage.events.events_starting_between(datetime(2025, 3, 1), minutes(90))


# -- reminders, RSVPs, preferences --------------------------------------------------------------------------


async def test_toggle_a_reminder(storage: Storage) -> None:
    first = await storage.events.create_event(fields(), created_by=ME, now=T0)
    second = await storage.events.create_event(fields(at=200), created_by=ME, now=T0)
    assert await storage.events.reminder_event_ids(OTHER) == set()

    assert await storage.events.toggle_reminder(OTHER, first.id, now=T0)  # an unknown user is created
    assert await storage.users.get_user(OTHER) is not None
    assert await storage.events.toggle_reminder(OTHER, second.id, now=T0)
    assert await storage.events.reminder_event_ids(OTHER) == {first.id, second.id}
    assert not await storage.events.toggle_reminder(OTHER, first.id, now=minutes(1))
    assert await storage.events.reminder_event_ids(OTHER) == {second.id}
    assert await storage.events.toggle_reminder(OTHER, first.id, now=minutes(2))
    assert await storage.events.reminder_event_ids(ME) == set()
    with pytest.raises(LookupError):
        await storage.events.toggle_reminder(OTHER, second.id + 1, now=T0)


async def test_rsvp_answers_and_counts(storage: Storage) -> None:
    event = await storage.events.create_event(fields(), created_by=ME, now=T0)
    other_event = await storage.events.create_event(fields(at=200), created_by=ME, now=T0)
    assert await storage.events.rsvp_counts(event.id) == {"yes": 0, "maybe": 0, "no": 0}
    assert await storage.events.rsvp_of(ME, event.id) is None

    await storage.events.set_rsvp(ME, event.id, "yes", now=T0)
    await storage.events.set_rsvp(OTHER, event.id, RsvpAnswer.MAYBE, now=T0)
    await storage.events.set_rsvp(3, event.id, "yes", now=T0)
    await storage.events.set_rsvp(ME, other_event.id, "no", now=T0)
    assert await storage.events.rsvp_counts(event.id) == {"yes": 2, "maybe": 1, "no": 0}

    await storage.events.set_rsvp(ME, event.id, "no", now=minutes(1))  # changes their mind
    assert await storage.events.rsvp_of(ME, event.id) == "no"
    assert await storage.events.rsvp_counts(event.id) == {"yes": 1, "maybe": 1, "no": 1}
    assert await storage.events.rsvp_counts(other_event.id) == {"yes": 0, "maybe": 0, "no": 1}

    with pytest.raises(ValueError):
        await storage.events.set_rsvp(ME, event.id, "perhaps", now=T0)
    with pytest.raises(LookupError):
        await storage.events.set_rsvp(ME, other_event.id + 1, "yes", now=T0)


async def test_preferences(storage: Storage) -> None:
    assert await storage.preferences.get_preferences(ME) == Preferences(
        remind_all=False, new_event_notices=False, announcements=True, topics=()
    )
    await storage.preferences.set_preference(ME, "remind_all", True, now=T0)  # an unknown user is created
    assert await storage.users.get_user(ME) is not None
    await storage.preferences.set_preference(ME, "announcements", False, now=T0)
    await storage.preferences.set_topics(ME, ["compta", "rh", "compta"], now=T0)
    assert await storage.preferences.get_preferences(ME) == Preferences(True, False, False, ("compta", "rh"))
    await storage.preferences.set_preference(ME, "new_event_notices", True, now=T0)
    await storage.preferences.set_preference(ME, "remind_all", False, now=T0)
    assert await storage.preferences.get_preferences(ME) == Preferences(False, True, False, ("compta", "rh"))
    assert await storage.preferences.get_preferences(OTHER) == Preferences()

    with pytest.raises(ValueError):
        await storage.preferences.set_preference(ME, "topics", True, now=T0)
    with pytest.raises(ValueError):
        await storage.preferences.set_topics(ME, [""], now=T0)
    with pytest.raises(ValueError):
        await storage.preferences.set_topics(ME, ["x" * 65], now=T0)


async def test_deleting_an_event_or_a_user_cascades(db: Database) -> None:
    event = await db.storage.events.create_event(fields(), created_by=ME, now=T0)
    for user_id in (ME, OTHER):
        await db.storage.events.toggle_reminder(user_id, event.id, now=T0)
        await db.storage.events.set_rsvp(user_id, event.id, "yes", now=T0)
        await db.storage.preferences.set_preference(user_id, "remind_all", True, now=T0)
    async with transaction(db.engine, write=True) as conn:
        await conn.execute(delete(users).where(users.c.id == ME))
    assert await db.storage.events.reminder_event_ids(ME) == set()
    assert await db.storage.preferences.get_preferences(ME) == Preferences()
    assert await db.storage.events.rsvp_counts(event.id) == {"yes": 1, "maybe": 0, "no": 0}
    async with transaction(db.engine, write=True) as conn:
        await conn.execute(delete(events).where(events.c.id == event.id))
    assert await db.storage.events.reminder_event_ids(OTHER) == set()
    assert await db.storage.events.rsvp_of(OTHER, event.id) is None


# -- recipients ---------------------------------------------------------------------------------------------


async def test_reminder_and_notice_recipients(storage: Storage) -> None:
    open_event = await storage.events.create_event(fields(), created_by=ME, now=T0)
    members_event = await storage.events.create_event(fields(audience="members"), created_by=ME, now=T0)
    await user(storage, 1)  # newcomer, asked for both reminders
    await user(storage, 2, Role.MEMBER)  # every reminder
    await user(storage, 3, Role.COORDINATOR)  # asked for both reminders
    await user(storage, 4, Role.MEMBER, active=False)  # asked, every reminder, notices: blocked the bot
    await user(storage, 5)  # newcomer, every reminder, notices
    await user(storage, 6, Role.MEMBER)  # nothing asked
    await user(storage, 7, Role.COORDINATOR)  # notices
    for user_id in (1, 3, 4):
        for event in (open_event, members_event):
            assert await storage.events.toggle_reminder(user_id, event.id, now=T0)
    for user_id in (2, 4, 5):
        await storage.preferences.set_preference(user_id, "remind_all", True, now=T0)
    for user_id in (4, 5, 7):
        await storage.preferences.set_preference(user_id, "new_event_notices", True, now=T0)
    await storage.preferences.set_preference(6, "remind_all", False, now=T0)  # a row, with the default

    assert await storage.events.reminder_recipients(open_event) == [1, 2, 3, 5]
    assert await storage.events.reminder_recipients(members_event) == [2, 3]  # newcomers left out
    assert await storage.events.event_notice_recipients(open_event) == [5, 7]
    assert await storage.events.event_notice_recipients(members_event) == [7]

    await storage.events.toggle_reminder(1, open_event.id, now=minutes(1))  # not any more
    await storage.users.set_active(4, True)  # back
    assert await storage.events.reminder_recipients(open_event) == [2, 3, 4, 5]


async def test_announcement_recipients_and_opt_outs(storage: Storage) -> None:
    await user(storage, 1)  # newcomer
    await user(storage, 2, Role.MEMBER)
    await user(storage, 3, Role.COORDINATOR)
    await user(storage, 4, Role.MEMBER)  # opted out
    await user(storage, 5, Role.COORDINATOR)  # opted out
    await user(storage, 6, Role.MEMBER, active=False)  # blocked the bot: neither sent nor counted
    await user(storage, 7)  # opted out, then back
    await storage.preferences.set_preference(4, "announcements", False, now=T0)
    await storage.preferences.set_preference(5, "announcements", False, now=T0)
    await storage.preferences.set_preference(6, "announcements", False, now=T0)
    await storage.preferences.set_preference(7, "announcements", False, now=T0)
    await storage.preferences.set_preference(7, "announcements", True, now=minutes(1))
    await storage.preferences.set_topics(1, ["compta"], now=T0)
    await storage.preferences.set_topics(2, ["rh", "compta"], now=T0)
    await storage.preferences.set_topics(4, ["compta"], now=T0)
    await storage.preferences.set_topics(6, ["compta"], now=T0)
    await storage.preferences.set_topics(3, ['"compta"'], now=T0)  # not the same topic
    await storage.preferences.set_topics(7, ["compta-rh"], now=T0)

    expected = {
        ("all", None): ([1, 2, 3, 7], 2),
        ("members", None): ([2, 3], 2),
        ("coordinators", None): ([3], 1),
        ("topic", "compta"): ([1, 2], 1),
        ("topic", "rh"): ([2], 0),
        ("topic", "inconnu"): ([], 0),
    }
    for (audience, topic), (recipients, opted_out) in expected.items():
        assert await storage.campaigns.announcement_recipients(audience, topic) == recipients, audience
        assert await storage.campaigns.announcement_opted_out_count(audience, topic) == opted_out, audience
    for audience, topic in (("topic", None), ("all", "compta"), ("admins", None)):
        with pytest.raises(ValueError):
            await storage.campaigns.announcement_recipients(audience, topic)


# -- outbox -------------------------------------------------------------------------------------------------


async def delivery(db: Database, delivery_id: int) -> dict[str, Any]:
    async with transaction(db.engine, write=False) as conn:
        row = (await conn.execute(select(deliveries).where(deliveries.c.id == delivery_id))).mappings().one()
    return dict(row)


def test_storage_is_an_outbox_store(storage: Storage) -> None:
    store: OutboxStore = storage  # checked by mypy
    assert store is storage


async def test_enqueue_records_each_delivery_once(db: Database) -> None:
    storage = db.storage
    chats = [ME, OTHER, GROUP, OTHER]
    assert await storage.outbox.enqueue("announcement", 1, chats, "", not_before=T0, now=T0) == 3
    assert (
        await storage.outbox.enqueue("announcement", 1, chats, "", not_before=minutes(5), now=minutes(5)) == 0
    )
    assert await storage.outbox.enqueue("announcement", 1, [ME, 42], "", not_before=T0, now=T0) == 1
    # Another key, ref or kind is another delivery.
    assert await storage.outbox.enqueue("announcement", 1, [ME], "edited", not_before=T0, now=T0) == 1
    assert await storage.outbox.enqueue("announcement", 2, [ME], "", not_before=T0, now=T0) == 1
    assert await storage.outbox.enqueue("reminder", 1, [ME], "", not_before=T0, now=T0) == 1
    assert await storage.outbox.enqueue("reminder", 1, [], "", not_before=T0, now=T0) == 0
    assert await count(db.engine, deliveries) == 7
    assert (await storage.outbox.counts("announcement", 1))[Status.PENDING] == 5
    claimed = await storage.outbox.claim(10, now=T0)
    assert {d.chat_id for d in claimed} == {ME, OTHER, GROUP, 42}
    assert all(d.not_before == T0 for d in claimed)  # the first enqueue's, kept
    for wrong in ({"kind": "x" * 25}, {"key": "x" * 65}):
        args: dict[str, Any] = {"kind": "announcement", "key": ""} | wrong
        with pytest.raises(ValueError):
            await storage.outbox.enqueue(args["kind"], 1, [ME], args["key"], not_before=T0, now=T0)
    with pytest.raises(ValueError):
        await storage.outbox.enqueue("reminder", 1, [ME], "", not_before=datetime(2025, 3, 1), now=T0)


async def test_enqueue_as_skipped_and_existing_keys(db: Database) -> None:
    storage = db.storage
    assert await storage.outbox.existing_keys("reminder", []) == set()
    await storage.outbox.enqueue("reminder", 1, [ME, OTHER], "1d@r1", not_before=T0, now=T0)
    added = await storage.outbox.enqueue(
        "reminder",
        1,
        [ME, GROUP],
        "7d@r1",
        not_before=T0,
        now=minutes(1),
        status=Status.SKIPPED,
        reason="late",
    )
    assert added == 2
    await storage.outbox.enqueue("reminder", 2, [ME], "1d@r3", not_before=T0, now=T0)
    await storage.outbox.enqueue("event_notice", 1, [ME], "new", not_before=T0, now=T0)

    assert await storage.outbox.existing_keys("reminder", [1, 2, 1]) == {
        (1, ME, "1d@r1"),
        (1, OTHER, "1d@r1"),
        (1, ME, "7d@r1"),
        (1, GROUP, "7d@r1"),
        (2, ME, "1d@r3"),
    }
    assert await storage.outbox.existing_keys("reminder", [3]) == set()
    skipped = [row for row in await all_deliveries(db) if row["key"] == "7d@r1"]
    assert {(r["status"], r["finished_at"], r["last_error"]) for r in skipped} == {
        ("skipped", minutes(1), "late")
    }
    assert {d.key for d in await storage.outbox.claim(10, now=T0)} == {
        "1d@r1",
        "1d@r3",
        "new",
    }  # never the skipped
    for wrong in (Status.SENT, Status.SENDING):
        with pytest.raises(ValueError):
            await storage.outbox.enqueue("reminder", 1, [ME], "x", not_before=T0, now=T0, status=wrong)


async def test_enqueue_ten_thousand_chats(storage: Storage) -> None:
    chats = list(range(1, 10_001))
    assert await storage.outbox.enqueue("announcement", 9, chats, "", not_before=T0, now=T0) == 10_000
    assert await storage.outbox.enqueue("announcement", 9, [*chats, -1], "", not_before=T0, now=T0) == 1
    counts = await storage.outbox.counts("announcement", 9)
    assert counts == {status: 0 for status in Status} | {Status.PENDING: 10_001}
    batch = await storage.outbox.claim(1_000, now=T0)
    assert [d.chat_id for d in batch] == chats[:1_000]  # same not_before: by id, i.e. in enqueue order


async def test_claim_marks_sending_oldest_first_and_never_twice(db: Database) -> None:
    storage = db.storage
    await storage.outbox.enqueue("reminder", 1, [1, 2], "60", not_before=minutes(10), now=T0)
    await storage.outbox.enqueue("announcement", 5, [3], "", not_before=minutes(5), now=T0)
    await storage.outbox.enqueue("announcement", 6, [4], "", not_before=minutes(30), now=T0)  # not due yet

    assert await storage.outbox.claim(0, now=minutes(20)) == []
    first = await storage.outbox.claim(2, now=minutes(20))
    assert [(d.kind, d.chat_id) for d in first] == [("announcement", 3), ("reminder", 1)]
    assert first[0] == Delivery(
        id=first[0].id,
        kind="announcement",
        ref_id=5,
        chat_id=3,
        key="",
        status=Status.SENDING,
        attempts=0,
        not_before=minutes(5),
        last_error=None,
    )
    assert (await delivery(db, first[0].id))["claimed_at"] == minutes(20)
    second = await storage.outbox.claim(10, now=minutes(20))
    assert [d.chat_id for d in second] == [2]
    assert await storage.outbox.claim(10, now=minutes(29)) == []
    late = await storage.outbox.claim(10, now=minutes(30))  # due at its not_before
    assert [d.chat_id for d in late] == [4]
    assert await storage.outbox.get_delivery(late[0].id) == late[0]
    assert await storage.outbox.get_delivery(late[0].id + 100) is None


async def test_concurrent_claims_never_overlap(db: Database, db_url: str) -> None:
    chats = list(range(1, 301))
    await db.storage.outbox.enqueue("announcement", 1, chats, "", not_before=T0, now=T0)
    async with await open_database(db_url, Path("/nonexistent")) as other:  # a second sender process
        stores = [db.storage, other.storage]

        async def sender(store: Storage) -> list[int]:
            taken: list[int] = []
            while batch := await store.outbox.claim(7, now=T0):
                taken += [d.id for d in batch]
                await asyncio.sleep(0)
            return taken

        results = await asyncio.gather(*(sender(stores[i % 2]) for i in range(6)))
    claimed = [delivery_id for taken in results for delivery_id in taken]
    assert len(claimed) == len(set(claimed)) == 300
    assert (await db.storage.outbox.counts("announcement", 1))[Status.SENDING] == 300


async def test_claim_skips_what_another_sender_holds_without_waiting(db: Database, db_url: str) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: a second claim waits instead")
    await db.storage.outbox.enqueue("announcement", 1, [1, 2, 3], "", not_before=T0, now=T0)
    async with await open_database(db_url, Path("/nonexistent")) as other:
        async with transaction(db.engine, write=True) as conn:  # a sender in the middle of its claim
            oldest = select(deliveries.c.id).order_by(deliveries.c.id).limit(2).with_for_update()
            held = list((await conn.scalars(oldest)).all())
            claimed = await asyncio.wait_for(other.storage.outbox.claim(10, now=T0), timeout=5)
            assert [d.chat_id for d in claimed] == [3]
        assert [d.id for d in await other.storage.outbox.claim(10, now=T0)] == held  # released, still pending


async def test_finish_and_retry(db: Database) -> None:
    storage = db.storage
    await storage.outbox.enqueue("announcement", 1, [1, 2, 3, 4, 5], "", not_before=T0, now=T0)
    d1, d2, d3, d4, d5 = await storage.outbox.claim(10, now=T0)

    await storage.outbox.retry(d1.id, at=minutes(10), reason="429 Too Many Requests", now=T0)
    retried = await storage.outbox.get_delivery(d1.id)
    assert retried is not None
    assert (retried.status, retried.attempts, retried.not_before, retried.last_error) == (
        Status.PENDING,
        1,
        minutes(10),
        "429 Too Many Requests",
    )
    assert (await delivery(db, d1.id))["claimed_at"] is None
    assert await storage.outbox.claim(10, now=minutes(9)) == []  # delayed
    [again] = await storage.outbox.claim(10, now=minutes(10))
    assert (again.id, again.attempts) == (d1.id, 1)
    await storage.outbox.retry(d1.id, at=minutes(20), reason="timeout", now=minutes(10))
    [again] = await storage.outbox.claim(10, now=minutes(20))
    assert (again.attempts, again.last_error) == (2, "timeout")
    await storage.outbox.finish(d1.id, Status.SENT, now=minutes(21))

    await storage.outbox.finish(d2.id, Status.BLOCKED, now=minutes(1), reason="Forbidden: bot was blocked")
    await storage.outbox.finish(d3.id, Status.FAILED, now=minutes(1), reason="x" * 1000)
    await storage.outbox.finish(d4.id, Status.FAILED, now=minutes(1), reason="chat not found")
    await storage.outbox.finish(d5.id, Status.SKIPPED, now=minutes(1), reason="opted out")
    sent = await delivery(db, d1.id)
    assert (sent["status"], sent["finished_at"], sent["last_error"]) == ("sent", minutes(21), "timeout")
    assert (await delivery(db, d3.id))["last_error"] == "x" * 300  # cut to the column's size
    assert await storage.outbox.counts("announcement", 1) == {
        Status.PENDING: 0,
        Status.SENDING: 0,
        Status.SENT: 1,
        Status.BLOCKED: 1,
        Status.FAILED: 2,
        Status.SKIPPED: 1,
    }
    assert await storage.outbox.failures("announcement", 1) == {"x" * 300: 1, "chat not found": 1}
    assert await storage.outbox.failures("announcement", 2) == {}
    for not_final in (Status.PENDING, Status.SENDING):
        with pytest.raises(ValueError):
            await storage.outbox.finish(d1.id, not_final, now=minutes(22))
    assert await storage.outbox.claim(10, now=minutes(100)) == []


async def test_failures_counted_by_reason(storage: Storage) -> None:
    await storage.outbox.enqueue("announcement", 3, list(range(1, 7)), "", not_before=T0, now=T0)
    claimed = await storage.outbox.claim(10, now=T0)
    reasons = ["chat not found", "timeout", "chat not found", None, "chat not found", "timeout"]
    for d, reason in zip(claimed, reasons, strict=True):
        await storage.outbox.finish(d.id, Status.FAILED, now=T0, reason=reason)
    failures = await storage.outbox.failures("announcement", 3)
    assert failures == {"chat not found": 3, "timeout": 2, "": 1}
    assert list(failures) == ["chat not found", "timeout", ""]  # most frequent first


async def test_release_stale(db: Database) -> None:
    storage = db.storage
    await storage.outbox.enqueue("reminder", 1, [1, 2, 3], "60", not_before=T0, now=T0)
    [old] = await storage.outbox.claim(1, now=minutes(1))
    [recent] = await storage.outbox.claim(1, now=minutes(10))
    assert await storage.outbox.release_stale(older_than=minutes(1)) == 0  # claimed exactly then: not older
    assert await storage.outbox.release_stale(older_than=minutes(5)) == 1
    released = await storage.outbox.get_delivery(old.id)
    assert released is not None and (released.status, released.attempts) == (Status.PENDING, 0)
    assert (await delivery(db, old.id))["claimed_at"] is None
    assert (await storage.outbox.get_delivery(recent.id)) == recent
    assert [d.chat_id for d in await storage.outbox.claim(10, now=minutes(11))] == [
        1,
        3,
    ]  # 2 is still claimed
    assert await storage.outbox.release_stale(older_than=minutes(5)) == 0


async def test_move_chat(db: Database) -> None:
    storage = db.storage
    old, new = -100, -1_000_000_000_100  # a group that became a supergroup

    async def where(ref_id: int, chat_id: int) -> dict[str, Any]:
        [row] = [r for r in await all_deliveries(db) if (r["ref_id"], r["chat_id"]) == (ref_id, chat_id)]
        return row

    await storage.outbox.enqueue("announcement", 1, [old, ME], "", not_before=T0, now=T0)
    await storage.outbox.enqueue("announcement", 2, [old], "", not_before=minutes(1), now=T0)
    await storage.outbox.enqueue("announcement", 3, [old], "", not_before=minutes(2), now=T0)
    await storage.outbox.enqueue("announcement", 4, [old, new], "", not_before=minutes(60), now=T0)  # to both
    sending, _ = await storage.outbox.claim(2, now=T0)  # announcement 1, to old and to ME
    [sent] = await storage.outbox.claim(1, now=minutes(1))  # announcement 2 to old
    await storage.outbox.finish(sent.id, Status.SENT, now=minutes(1))

    await storage.outbox.move_chat(old, new)

    assert (await where(1, new))["status"] == "sending"  # claimed, not sent: follows, for the retry
    assert (await where(1, ME))["status"] == "sending"
    assert (await where(2, old))["status"] == "sent"  # sent where it was sent
    assert (await where(3, new))["status"] == "pending"
    assert (await where(4, new))["status"] == "pending"
    duplicate = await where(4, old)  # the new chat had it already
    assert (duplicate["status"], duplicate["last_error"]) == ("skipped", CHAT_MOVED)
    assert [(d.ref_id, d.chat_id) for d in await storage.outbox.claim(10, now=minutes(60))] == [
        (3, new),
        (4, new),
    ]
    assert sending.chat_id == old
    await storage.outbox.move_chat(new, new)  # nothing to do
    await storage.outbox.move_chat(12345, new)


async def test_skip_pending(db: Database) -> None:
    storage = db.storage
    await storage.outbox.enqueue("announcement", 1, [1, 2, 3, 4], "", not_before=T0, now=T0)
    await storage.outbox.enqueue("announcement", 2, [1], "", not_before=T0, now=T0)
    d1, d2 = await storage.outbox.claim(2, now=T0)
    await storage.outbox.finish(d1.id, Status.SENT, now=T0)

    assert await storage.outbox.skip_pending("announcement", 1, "campaign cancelled", now=minutes(1)) == 2
    assert await storage.outbox.skip_pending("announcement", 1, "campaign cancelled", now=minutes(2)) == 0
    assert await storage.outbox.counts("announcement", 1) == {status: 0 for status in Status} | {
        Status.SENT: 1,
        Status.SENDING: 1,  # claimed: left to its sender
        Status.SKIPPED: 2,
    }
    skipped = [row for row in await all_deliveries(db) if row["status"] == "skipped"]
    assert {(row["finished_at"], row["last_error"]) for row in skipped} == {
        (minutes(1), "campaign cancelled")
    }
    assert (await storage.outbox.counts("announcement", 2))[Status.PENDING] == 1
    assert d2.status == Status.SENDING


async def all_deliveries(db: Database) -> list[dict[str, Any]]:
    async with transaction(db.engine, write=False) as conn:
        return [dict(row) for row in (await conn.execute(select(deliveries))).mappings()]


# -- personal data ------------------------------------------------------------------------------------------


async def test_export_and_forget_the_event_data_of_a_user(db: Database) -> None:
    storage = db.storage
    mine = await storage.events.create_event(fields("mon atelier"), created_by=ME, now=T0)
    theirs = await storage.events.create_event(fields("leur atelier"), created_by=OTHER, now=T0)
    for user_id in (ME, OTHER):
        await storage.events.toggle_reminder(user_id, theirs.id, now=minutes(1))
        await storage.events.set_rsvp(user_id, mine.id, "maybe", now=minutes(2))
        await storage.preferences.set_preference(user_id, "new_event_notices", True, now=minutes(3))
        await storage.outbox.enqueue(
            "reminder", theirs.id, [user_id], "60", not_before=minutes(4), now=minutes(3)
        )
    await storage.outbox.enqueue("announcement", 1, [GROUP], "", not_before=minutes(4), now=minutes(3))
    [sent] = await storage.outbox.claim(1, now=minutes(4))
    await storage.outbox.finish(sent.id, Status.SENT, now=minutes(5))
    before = await storage.personal_data.export_user(OTHER)

    exported = await storage.personal_data.export_user(ME)
    json.dumps(exported)
    assert exported["events_created"] == [
        {
            "id": mine.id,
            "title": "mon atelier",
            "starts_at": minutes(60).isoformat(),
            "created_at": T0.isoformat(),
        }
    ]
    assert exported["event_reminders"] == [{"event_id": theirs.id, "created_at": minutes(1).isoformat()}]
    assert exported["rsvps"] == [
        {"event_id": mine.id, "answer": "maybe", "updated_at": minutes(2).isoformat()}
    ]
    assert exported["preferences"] == {
        "remind_all": False,
        "new_event_notices": True,
        "announcements": True,
        "topics": [],
    }
    assert exported["deliveries"] == [
        {
            "kind": "reminder",
            "ref_id": theirs.id,
            "status": "sent",
            "created_at": minutes(3).isoformat(),
            "not_before": minutes(4).isoformat(),
            "finished_at": minutes(5).isoformat(),
        }
    ]

    await storage.personal_data.forget_user(ME)
    for row in await all_deliveries(db):
        assert row["chat_id"] != ME
    async with transaction(db.engine, write=False) as conn:
        for table in (events, event_subscriptions, rsvps, preferences, deliveries):
            for stored in (await conn.execute(select(table))).mappings():
                assert ME not in stored.values(), (table.name, stored)
    assert await storage.personal_data.export_user(OTHER) == before
    kept = await storage.events.get_event(mine.id)
    assert kept is not None and kept.created_by is None
    assert await storage.events.event_notice_recipients(kept) == [OTHER]
    assert sum((await storage.outbox.counts("announcement", 1)).values()) == 1  # the group's
