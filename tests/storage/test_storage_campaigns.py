"""Campaigns (coordinator announcements) on every backend, and migration 0004."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.announcements.records import (
    ANNOUNCEMENT,
    CAMPAIGN_KEY,
    Campaign,
    CampaignAudience,
    CampaignStatus,
    MediaKind,
)
from bot.delivery.outbox import Status
from bot.storage import Database, Storage, open_database
from bot.storage.database import current_revision, upgrade_engine
from bot.storage.engine import create_engine, transaction
from bot.storage.schema import (
    campaigns,
    deliveries,
    diagnostic_results,
    diagnostic_sessions,
    event_subscriptions,
    events,
    feedback,
    invitations,
    preferences,
    questions,
    rsvps,
    users,
)
from bot.users.records import Role
from tests.storage.test_storage import HEAD
from tests.storage.test_storage_events import populate_0002, populate_0003, schema_differences
from tests.storage_fixtures import T0, migrate, minutes, shared_columns, table_names, table_rows

ME, OTHER, THIRD = 987_654_321, 123_456_789, 555_000_111
TABLES_0003 = [
    users,
    invitations,
    questions,
    feedback,
    diagnostic_sessions,
    diagnostic_results,
    events,
    event_subscriptions,
    rsvps,
    preferences,
    deliveries,
]
AWAITING = {CampaignStatus.AWAITING_APPROVAL}


async def rows(engine: AsyncEngine, tables: list[Table]) -> dict[str, list[dict[str, Any]]]:
    return await table_rows(engine, tables)


async def campaign_deliveries(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(deliveries)
        .where(deliveries.c.kind == ANNOUNCEMENT, deliveries.c.ref_id == campaign_id)
        .order_by(deliveries.c.chat_id)
    )
    async with transaction(db.engine, write=False) as conn:
        return [dict(row) for row in (await conn.execute(stmt)).mappings()]


async def awaiting(storage: Storage, author: int = ME, audience: str = "all") -> Campaign:
    """A campaign of `author` to `audience`, awaiting approval."""
    campaign = await storage.campaigns.create_campaign(author, "Bonjour <b>à tous</b>", now=T0)
    assert await storage.campaigns.set_campaign_audience(campaign.id, audience, now=T0)
    assert await storage.campaigns.set_campaign_status(
        campaign.id, CampaignStatus.AWAITING_APPROVAL, now=minutes(1), expect={CampaignStatus.DRAFT}
    )
    return campaign


# -- migration 0004 -----------------------------------------------------------------------------------------


async def test_upgrade_from_0003_keeps_the_data(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade_engine(engine, "0003")  # the database of the previous version of the bot
        assert await current_revision(engine) == "0003"
        await populate_0002(Storage(engine))
        await populate_0003(Storage(engine))
        before = await rows(engine, TABLES_0003)
        assert all(before.values())
        assert "campaigns" not in await table_names(engine)
    finally:
        await engine.dispose()

    async with await open_database(db_url, tmp_path) as db:  # the new version starts: it migrates
        assert await current_revision(db.engine) == HEAD
        after, kept = shared_columns(await rows(db.engine, TABLES_0003), before)
        assert after == kept
        assert await schema_differences(db.engine) == []
        campaign = await db.storage.campaigns.create_campaign(ME, "Bonjour", now=minutes(10))
        assert (campaign.author_id, campaign.status, campaign.audience) == (ME, "draft", "me")


async def test_downgrade_to_0003_and_upgrade_again(db: Database) -> None:
    await populate_0002(db.storage)
    await populate_0003(db.storage)
    await awaiting(db.storage)
    before = await rows(db.engine, TABLES_0003)

    await migrate(db.engine, "downgrade", "0003")
    assert await current_revision(db.engine) == "0003"
    assert "campaigns" not in await table_names(db.engine)
    after, kept = shared_columns(await rows(db.engine, TABLES_0003), before)
    assert after == kept

    await migrate(db.engine, "upgrade", "head")
    assert await current_revision(db.engine) == HEAD
    assert await schema_differences(db.engine) == []
    after, kept = shared_columns(await rows(db.engine, TABLES_0003), before)
    assert after == kept
    assert await db.storage.campaigns.campaigns() == []  # back, empty
    await awaiting(db.storage)


# -- drafts -------------------------------------------------------------------------------------------------


async def test_create_and_get_a_campaign(storage: Storage) -> None:
    campaign = await storage.campaigns.create_campaign(
        ME, "<i>Photo</i>", media_kind="photo", media_file_id="AgAC-file", media_name="affiche.jpg", now=T0
    )
    assert campaign == Campaign(
        id=campaign.id,
        author_id=ME,
        text="<i>Photo</i>",
        media_kind=MediaKind.PHOTO,
        media_file_id="AgAC-file",
        media_name="affiche.jpg",
        audience=CampaignAudience.ME,  # until chosen: never everyone by accident
        topic=None,
        status=CampaignStatus.DRAFT,
        send_at=None,
        approved_by=None,
        created_at=T0,
        updated_at=T0,
        recipients=0,
        opted_out=0,
        progress_chat_id=None,
        progress_message_id=None,
        finished_at=None,
    )
    assert await storage.campaigns.get_campaign(campaign.id) == campaign
    assert await storage.campaigns.get_campaign(campaign.id + 1) is None
    author = await storage.users.get_user(ME)  # an unknown author is created
    assert author is not None and author.role == Role.NEWCOMER
    document = await storage.campaigns.create_campaign(
        ME, "", media_kind="document", media_file_id="BQAC", now=T0
    )
    assert (document.text, document.media_kind, document.media_name) == ("", "document", None)


async def test_campaign_values_are_checked(storage: Storage) -> None:
    for text, media in (
        ("  ", {}),  # blank without media
        ("x", {"media_kind": "photo"}),  # a kind without a file
        ("x", {"media_file_id": "F"}),
        ("x", {"media_kind": "video", "media_file_id": "F"}),
        ("x", {"media_kind": "photo", "media_file_id": "F" * 201}),
        ("x", {"media_kind": "photo", "media_file_id": "F", "media_name": "n" * 201}),
        ("x", {"media_name": "a.pdf"}),  # a name without a media
    ):
        with pytest.raises(ValueError):
            await storage.campaigns.create_campaign(ME, text, now=T0, **media)
    campaign = await storage.campaigns.create_campaign(ME, "x", now=T0)
    for audience, topic in (("topic", None), ("all", "compta"), ("admins", None), ("topic", "t" * 65)):
        with pytest.raises(ValueError):
            await storage.campaigns.set_campaign_audience(campaign.id, audience, topic, now=T0)
    with pytest.raises(ValueError):
        await storage.campaigns.set_campaign_status(campaign.id, "paused", now=T0)
    with pytest.raises(ValueError):
        await storage.campaigns.set_campaign_status(campaign.id, "done", now=T0, expect={"paused"})
    with pytest.raises(ValueError):
        await storage.campaigns.set_campaign_counts(campaign.id, -1, 0)
    with pytest.raises(ValueError):
        await storage.campaigns.schedule_campaign(campaign.id, datetime(2025, 3, 2, 12, 0), now=T0)  # naive
    with pytest.raises(ValueError):
        await storage.campaigns.campaigns(limit=-1)
    assert await storage.campaigns.get_campaign(campaign.id) == campaign  # nothing changed


async def test_the_database_enforces_the_campaign_rules(db: Database) -> None:
    await db.storage.users.touch_user(ME, now=T0)
    valid = {"author_id": ME, "text": "x", "created_at": T0, "updated_at": T0}
    for wrong in (
        {"audience": "topic"},  # without a topic
        {"audience": "all", "topic": "compta"},
        {"audience": "admins"},
        {"status": "paused"},
        {"media_kind": "photo"},  # without a file
        {"media_kind": "video", "media_file_id": "F"},
        {"recipients": -1},
        {"author_id": 404},  # unknown user
    ):
        with pytest.raises(IntegrityError):
            async with transaction(db.engine, write=True) as conn:
                await conn.execute(insert(campaigns).values(**(valid | wrong)))
    async with transaction(db.engine, write=True) as conn:
        await conn.execute(insert(campaigns).values(**valid, audience="topic", topic="compta"))
    [stored] = await db.storage.campaigns.campaigns()
    assert (stored.audience, stored.topic, stored.status) == ("topic", "compta", "draft")


async def test_audience_changes_only_while_a_draft(storage: Storage) -> None:
    campaign = await storage.campaigns.create_campaign(ME, "x", now=T0)
    chosen = await storage.campaigns.set_campaign_audience(campaign.id, "topic", "compta", now=minutes(1))
    assert chosen is not None
    assert (chosen.audience, chosen.topic, chosen.updated_at) == ("topic", "compta", minutes(1))
    chosen = await storage.campaigns.set_campaign_audience(
        campaign.id, CampaignAudience.MEMBERS, now=minutes(2)
    )
    assert chosen is not None and (chosen.audience, chosen.topic) == ("members", None)
    assert await storage.campaigns.schedule_campaign(campaign.id, minutes(60), now=minutes(2))
    assert await storage.campaigns.get_campaign(campaign.id) == replace(chosen, send_at=minutes(60))
    assert await storage.campaigns.set_campaign_status(
        campaign.id, "awaiting_approval", now=minutes(3), expect={"draft"}
    )
    assert await storage.campaigns.set_campaign_audience(campaign.id, "all", now=minutes(4)) is None
    assert not await storage.campaigns.schedule_campaign(campaign.id, minutes(90), now=minutes(4))
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None and (stored.audience, stored.send_at) == ("members", minutes(60))
    assert await storage.campaigns.set_campaign_audience(404, "all", now=T0) is None
    assert not await storage.campaigns.schedule_campaign(404, None, now=T0)


async def test_campaigns_newest_first(storage: Storage) -> None:
    first = await storage.campaigns.create_campaign(ME, "one", now=minutes(1))
    second = await storage.campaigns.create_campaign(OTHER, "two", now=minutes(2))
    third = await storage.campaigns.create_campaign(ME, "three", now=minutes(2))  # same time: higher id first
    assert await storage.campaigns.campaigns() == [third, second, first]
    assert await storage.campaigns.campaigns(limit=2, offset=1) == [second, first]
    assert await storage.campaigns.campaigns(limit=0) == []


# -- status changes -----------------------------------------------------------------------------------------


async def test_set_status_is_a_compare_and_set(storage: Storage) -> None:
    campaign = await storage.campaigns.create_campaign(ME, "x", now=T0)
    assert not await storage.campaigns.set_campaign_status(
        campaign.id, "sending", now=minutes(1), expect={"scheduled"}
    )
    assert not await storage.campaigns.set_campaign_status(
        campaign.id, "sending", now=minutes(1), expect=set()
    )
    assert await storage.campaigns.set_campaign_status(
        campaign.id, "sending", now=minutes(1), expect={"draft", "awaiting_approval"}
    )
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None
    assert (stored.status, stored.updated_at, stored.finished_at) == ("sending", minutes(1), None)
    assert await storage.campaigns.set_campaign_status(
        campaign.id, CampaignStatus.CANCELLED, now=minutes(2)
    )  # any
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None and (stored.status, stored.finished_at) == ("cancelled", minutes(2))
    assert not await storage.campaigns.set_campaign_status(404, "done", now=minutes(3))


async def test_concurrent_status_changes_let_exactly_one_through(db: Database, db_url: str) -> None:
    """Coordinators pressing at once, from two processes: of changes expecting one status, one wins."""
    async with await open_database(db_url, Path("/nonexistent")) as other:
        stores = [db.storage, other.storage]
        for _ in range(5):
            campaign = await awaiting(db.storage)
            targets = [CampaignStatus.CANCELLED, CampaignStatus.SENDING, CampaignStatus.CANCELLED] * 2
            results = await asyncio.gather(
                *(
                    stores[i % 2].campaigns.set_campaign_status(
                        campaign.id, target, now=minutes(2), expect=AWAITING
                    )
                    for i, target in enumerate(targets)
                )
            )
            assert sum(results) == 1, results
            # A launch racing a refusal: exactly one acts, and a refused campaign records no delivery.
            campaign = await awaiting(db.storage)
            launched, refused = await asyncio.gather(
                other.storage.campaigns.launch_campaign(
                    campaign.id, [1, 2, 3], 0, expect=AWAITING, audience="all", now=minutes(2)
                ),
                db.storage.campaigns.set_campaign_status(
                    campaign.id, "cancelled", now=minutes(2), expect=AWAITING
                ),
            )
            assert (launched is None) == refused
            expected = 0 if refused else 3
            assert len(await campaign_deliveries(db, campaign.id)) == expected


async def test_approval_rules(storage: Storage) -> None:
    draft = await storage.campaigns.create_campaign(ME, "x", now=T0)
    assert not await storage.campaigns.approve_campaign(draft.id, OTHER, now=T0)  # not awaiting approval

    campaign = await awaiting(storage)
    assert not await storage.campaigns.approve_campaign(campaign.id, ME, now=minutes(2))  # its author
    assert await storage.campaigns.approve_campaign(campaign.id, OTHER, now=minutes(2))
    assert not await storage.campaigns.approve_campaign(campaign.id, THIRD, now=minutes(3))  # one approver
    assert await storage.campaigns.approve_campaign(campaign.id, OTHER, now=minutes(3))  # a retry
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None
    assert (stored.status, stored.approved_by, stored.updated_at) == ("awaiting_approval", OTHER, minutes(3))
    assert not await storage.campaigns.approve_campaign(404, OTHER, now=T0)

    orphan = await awaiting(storage, author=THIRD)
    await storage.personal_data.forget_user(THIRD)
    assert await storage.campaigns.approve_campaign(orphan.id, OTHER, now=minutes(4))  # a forgotten author's


# -- launch, progress, end ----------------------------------------------------------------------------------


async def test_launch_now_records_each_delivery_once(db: Database) -> None:
    storage = db.storage
    campaign = await awaiting(storage)
    assert await storage.campaigns.launch_campaign(
        campaign.id, [3, 1, 2], 4, expect={"draft"}, audience="all", now=minutes(2)
    ) is None  # fmt: skip
    assert await storage.campaigns.launch_campaign(
        campaign.id, [3, 1, 2], 4, expect=AWAITING, audience="members", now=minutes(2)
    ) is None  # fmt: skip  # the audience changed since the recipients were chosen
    assert await campaign_deliveries(db, campaign.id) == []

    launched = await storage.campaigns.launch_campaign(
        campaign.id, [3, 1, 2, 1], 4, expect=AWAITING, audience="all", now=minutes(2)
    )
    assert launched is not None
    assert (launched.status, launched.recipients, launched.opted_out, launched.updated_at) == (
        "sending",
        3,
        4,
        minutes(2),
    )
    recorded = await campaign_deliveries(db, campaign.id)
    assert [(d["chat_id"], d["key"], d["status"], d["not_before"]) for d in recorded] == [
        (chat, CAMPAIGN_KEY, "pending", minutes(2)) for chat in (1, 2, 3)
    ]
    # Launching again (e.g. a retry) records nothing new.
    again = await storage.campaigns.launch_campaign(
        campaign.id, [1, 2, 3, 4], 4, expect={"sending"}, audience="all", now=minutes(3)
    )
    assert again is not None
    assert len(await campaign_deliveries(db, campaign.id)) == 4  # only 4 is new
    assert await storage.campaigns.launch_campaign(
        campaign.id, [1, 2, 3], 4, expect={"sending"}, audience="all", now=minutes(3)
    )
    assert len(await campaign_deliveries(db, campaign.id)) == 4


async def test_a_scheduled_launch_waits_for_send_at(db: Database) -> None:
    storage = db.storage
    campaign = await storage.campaigns.create_campaign(ME, "x", now=T0)
    await storage.campaigns.set_campaign_audience(campaign.id, "coordinators", now=T0)
    assert await storage.campaigns.schedule_campaign(campaign.id, minutes(60), now=T0)
    launched = await storage.campaigns.launch_campaign(
        campaign.id, [OTHER], 0, expect={"draft"}, audience="coordinators", now=minutes(1)
    )
    assert launched is not None and (launched.status, launched.send_at) == ("scheduled", minutes(60))
    [recorded] = await campaign_deliveries(db, campaign.id)
    assert recorded["not_before"] == minutes(60)
    assert await storage.outbox.claim(10, now=minutes(59)) == []
    assert (
        await storage.campaigns.finish_campaign_if_done(campaign.id, now=minutes(59)) is False
    )  # not due yet
    [claimed] = await storage.outbox.claim(10, now=minutes(60))
    assert claimed.chat_id == OTHER
    await storage.outbox.finish(claimed.id, Status.SENT, now=minutes(61))
    assert await storage.campaigns.finish_campaign_if_done(
        campaign.id, now=minutes(61)
    )  # no need to mark it sending
    done = await storage.campaigns.get_campaign(campaign.id)
    assert done is not None and (done.status, done.finished_at) == ("done", minutes(61))

    # A send_at that passed before the launch (a late approval) sends at once.
    late = await storage.campaigns.create_campaign(ME, "y", now=T0)
    assert await storage.campaigns.schedule_campaign(late.id, minutes(5), now=T0)
    launched = await storage.campaigns.launch_campaign(
        late.id, [OTHER], 0, expect={"draft"}, audience="me", now=minutes(9)
    )
    assert launched is not None and launched.status == "sending"
    [recorded] = await campaign_deliveries(db, late.id)
    assert recorded["not_before"] == minutes(5)


async def test_finish_once_nothing_is_left_to_send(db: Database) -> None:
    storage = db.storage
    campaign = await awaiting(storage)
    assert not await storage.campaigns.finish_campaign_if_done(campaign.id, now=minutes(2))  # not launched
    await storage.campaigns.launch_campaign(
        campaign.id, [1, 2], 0, expect=AWAITING, audience="all", now=minutes(2)
    )
    d1, d2 = await storage.outbox.claim(10, now=minutes(2))
    await storage.outbox.finish(d1.id, Status.SENT, now=minutes(3))
    assert not await storage.campaigns.finish_campaign_if_done(
        campaign.id, now=minutes(3)
    )  # d2 is being sent
    await storage.outbox.retry(d2.id, at=minutes(5), reason="timeout", now=minutes(3))
    assert not await storage.campaigns.finish_campaign_if_done(campaign.id, now=minutes(3))  # d2 is pending
    await storage.outbox.enqueue(
        "reminder", campaign.id, [9], "60", not_before=minutes(99), now=T0
    )  # another kind
    [d2] = await storage.outbox.claim(1, now=minutes(5))
    await storage.outbox.finish(d2.id, Status.FAILED, now=minutes(6), reason="chat not found")
    assert await storage.campaigns.finish_campaign_if_done(campaign.id, now=minutes(7))
    assert not await storage.campaigns.finish_campaign_if_done(campaign.id, now=minutes(8))  # once
    done = await storage.campaigns.get_campaign(campaign.id)
    assert done is not None and (done.status, done.finished_at) == ("done", minutes(7))


async def test_counts_and_progress_message(storage: Storage) -> None:
    campaign = await storage.campaigns.create_campaign(ME, "x", now=T0)
    assert await storage.campaigns.set_campaign_counts(campaign.id, 120, 7)
    assert await storage.campaigns.set_campaign_progress_message(campaign.id, ME, 4242)
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None
    assert (stored.recipients, stored.opted_out, stored.progress_chat_id, stored.progress_message_id) == (
        120,
        7,
        ME,
        4242,
    )
    assert stored.updated_at == T0  # technical, not a change of the campaign
    assert not await storage.campaigns.set_campaign_counts(404, 1, 1)
    assert not await storage.campaigns.set_campaign_progress_message(404, ME, 1)


# -- personal data ------------------------------------------------------------------------------------------


async def test_deleting_a_user_keeps_their_campaigns_without_their_id(db: Database) -> None:
    campaign = await awaiting(db.storage)
    async with transaction(db.engine, write=True) as conn:
        await conn.execute(delete(users).where(users.c.id == ME))  # the foreign key: SET NULL
    kept = await db.storage.campaigns.get_campaign(campaign.id)
    assert kept is not None and (kept.author_id, kept.text) == (None, campaign.text)


async def test_export_and_forget_campaigns(db: Database) -> None:
    storage = db.storage
    mine = await awaiting(storage, author=ME)
    assert await storage.campaigns.approve_campaign(mine.id, OTHER, now=minutes(2))
    launched = await storage.campaigns.launch_campaign(
        mine.id, [ME, OTHER], 1, expect=AWAITING, audience="all", now=minutes(2)
    )
    assert launched is not None
    await storage.campaigns.set_campaign_progress_message(mine.id, ME, 10)
    theirs = await awaiting(storage, author=OTHER)
    assert await storage.campaigns.approve_campaign(theirs.id, ME, now=minutes(2))
    await storage.campaigns.set_campaign_progress_message(theirs.id, OTHER, 11)
    before = await storage.personal_data.export_user(OTHER)

    exported = await storage.personal_data.export_user(ME)
    assert exported["campaigns"] == [
        {
            "id": mine.id,
            "text": "Bonjour <b>à tous</b>",
            "media_kind": None,
            "media_file_id": None,
            "media_name": None,
            "audience": "all",
            "topic": None,
            "status": "sending",
            "send_at": None,
            "created_at": T0.isoformat(),
            "updated_at": minutes(2).isoformat(),
            "recipients": 2,
            "opted_out": 1,
            "finished_at": None,
        }
    ]
    assert exported["campaigns_approved"] == [{"id": theirs.id}]

    await storage.personal_data.forget_user(ME)
    rows_after = await rows(db.engine, [campaigns, deliveries])
    for table, found in rows_after.items():
        for row in found:
            assert ME not in row.values(), (table, row)
    kept = await storage.campaigns.get_campaign(mine.id)
    assert kept is not None
    assert (kept.text, kept.author_id, kept.approved_by, kept.progress_chat_id) == (
        "Bonjour <b>à tous</b>",
        None,
        OTHER,
        None,
    )
    assert await storage.personal_data.export_user(OTHER) == before
    assert [d["chat_id"] for d in await campaign_deliveries(db, mine.id)] == [OTHER]
