"""Coordinator announcements (`bot.announcements.service`) over the real storage, on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.announcements.records import ANNOUNCEMENT, Campaign, CampaignStatus
from bot.announcements.service import (
    CANCELLED,
    OPTED_OUT,
    AnnouncementService,
    Outcome,
    OutcomeKind,
    Preview,
    Report,
)
from bot.delivery.outbox import Status
from bot.storage import Database, Storage, open_database
from bot.storage.base import Connector
from bot.storage.campaigns import CampaignRepository
from bot.storage.engine import transaction
from bot.storage.schema import deliveries
from bot.users.records import Role
from tests.storage_fixtures import T0

NEWCOMER, MEMBER, AUTHOR, APPROVER, OPTED, GONE, GONE_COORDINATOR, SECOND = 1, 2, 3, 4, 5, 6, 7, 8
EVERYONE = [NEWCOMER, MEMBER, AUTHOR, APPROVER, SECOND]  # active and not opted out, by id
MEMBERS = [MEMBER, AUTHOR, APPROVER, SECOND]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


@pytest.fixture
async def db(db_url: str, tmp_path: Path) -> AsyncIterator[Database]:
    database = await open_database(db_url, tmp_path)
    try:
        await community(database.storage)
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def direct(storage: Storage, clock: Clock) -> AnnouncementService:
    """Campaigns sent without approval."""
    return AnnouncementService(storage, require_approval=False, clock=clock)


@pytest.fixture
def approved(storage: Storage, clock: Clock) -> AnnouncementService:
    """Campaigns for others than their author need another coordinator's approval."""
    return AnnouncementService(storage, require_approval=True, clock=clock)


async def community(storage: Storage) -> None:
    roles = {
        NEWCOMER: Role.NEWCOMER,
        MEMBER: Role.MEMBER,
        AUTHOR: Role.COORDINATOR,
        APPROVER: Role.COORDINATOR,
        OPTED: Role.MEMBER,
        GONE: Role.MEMBER,
        GONE_COORDINATOR: Role.COORDINATOR,
        SECOND: Role.COORDINATOR,
    }
    for user_id, role in roles.items():
        await storage.users.touch_user(user_id, now=T0)
        await storage.users.set_role(user_id, role)
    await storage.preferences.set_preference(OPTED, "announcements", False, now=T0)
    for user_id in (GONE, GONE_COORDINATOR):
        await storage.users.set_active(user_id, False)  # they blocked the bot
    await storage.preferences.set_topics(MEMBER, ["compta"], now=T0)
    await storage.preferences.set_topics(OPTED, ["compta"], now=T0)


async def recorded(db: Database, campaign_id: int) -> list[dict[str, Any]]:
    stmt = (
        select(deliveries)
        .where(deliveries.c.kind == ANNOUNCEMENT, deliveries.c.ref_id == campaign_id)
        .order_by(deliveries.c.chat_id)
    )
    async with transaction(db.engine, write=False) as conn:
        return [dict(row) for row in (await conn.execute(stmt)).mappings()]


async def chats(db: Database, campaign_id: int) -> list[int]:
    return [row["chat_id"] for row in await recorded(db, campaign_id)]


async def drafted(service: AnnouncementService, audience: str = "all", topic: str | None = None) -> Campaign:
    campaign = await service.draft(AUTHOR, "<b>Assemblée générale</b> le 12 mars")
    preview = await service.choose_audience(campaign.id, audience, topic)
    assert preview is not None
    return preview.campaign


async def awaiting(service: AnnouncementService, audience: str = "all") -> Campaign:
    campaign = await drafted(service, audience)
    outcome = await service.send_now(campaign.id, by=AUTHOR)
    assert outcome.kind == OutcomeKind.AWAITING_APPROVAL and outcome.campaign is not None
    return outcome.campaign


# -- draft, audience, preview, send -------------------------------------------------------------------------


async def test_draft_preview_and_send_now(db: Database, direct: AnnouncementService) -> None:
    campaign = await direct.draft(
        AUTHOR, "Affiche", media_kind="photo", media_file_id="AgAC", media_name="affiche.jpg"
    )
    assert (campaign.author_id, campaign.status, campaign.audience, campaign.created_at) == (
        AUTHOR,
        "draft",
        "me",
        T0,
    )
    members = await direct.choose_audience(campaign.id, "members")
    assert members is not None
    assert (members.recipients, members.opted_out, members.campaign.audience) == (4, 1, "members")
    everyone = await direct.choose_audience(campaign.id, "all")  # changed its mind
    assert everyone is not None
    assert (everyone.recipients, everyone.opted_out) == (5, 1)  # inactive users: neither
    assert await direct.preview(campaign.id) == Preview(everyone.campaign, 5, 1)
    assert await direct.preview(404) is None
    assert await direct.choose_audience(404, "all") is None

    assert (await direct.send_now(campaign.id, by=APPROVER)).kind == OutcomeKind.NOT_AUTHOR
    assert (await direct.send_now(404, by=AUTHOR)) == Outcome(OutcomeKind.NOT_FOUND, None)
    assert await recorded(db, campaign.id) == []

    outcome = await direct.send_now(campaign.id, by=AUTHOR)
    assert outcome.launched and outcome.kind == OutcomeKind.SENDING
    assert (outcome.recipients, outcome.opted_out) == (5, 1)
    assert outcome.campaign is not None
    assert (outcome.campaign.status, outcome.campaign.recipients, outcome.campaign.opted_out) == (
        "sending",
        5,
        1,
    )
    rows = await recorded(db, campaign.id)
    assert [(row["chat_id"], row["status"], row["not_before"]) for row in rows] == [
        (chat, "pending", T0) for chat in EVERYONE
    ]

    # Pressing again (or a second "send" at once) sends nothing more; the audience is fixed once launched.
    again = await direct.send_now(campaign.id, by=AUTHOR)
    assert again.kind == OutcomeKind.CONFLICT and not again.launched
    assert await chats(db, campaign.id) == EVERYONE
    assert await direct.choose_audience(campaign.id, "members") is None


async def test_double_send_from_two_processes_launches_once(db: Database, db_url: str, clock: Clock) -> None:
    async with await open_database(db_url, Path("/nonexistent")) as other:
        services = [
            AnnouncementService(db.storage, require_approval=False, clock=clock),
            AnnouncementService(other.storage, require_approval=False, clock=clock),
        ]
        campaign = await drafted(services[0])
        outcomes = await asyncio.gather(*(services[i % 2].send_now(campaign.id, AUTHOR) for i in range(4)))
    assert [outcome.launched for outcome in outcomes].count(True) == 1
    assert await chats(db, campaign.id) == EVERYONE


async def test_topic_audience(db: Database, direct: AnnouncementService) -> None:
    campaign = await direct.draft(AUTHOR, "Compta")
    with pytest.raises(ValueError):
        await direct.choose_audience(campaign.id, "topic")  # which topic?
    preview = await direct.choose_audience(campaign.id, "topic", "compta")
    assert preview is not None and (preview.recipients, preview.opted_out) == (1, 1)
    assert (await direct.send_now(campaign.id, AUTHOR)).recipients == 1
    assert await chats(db, campaign.id) == [MEMBER]


async def test_nobody_to_send_to_is_done_at_once(db: Database, direct: AnnouncementService) -> None:
    campaign = await drafted(direct, "topic", "nobody-follows-this")
    outcome = await direct.send_now(campaign.id, AUTHOR)
    assert outcome.kind == OutcomeKind.DONE and outcome.launched
    assert outcome.campaign is not None and outcome.campaign.status == "done"
    assert outcome.campaign.finished_at == T0
    assert await recorded(db, campaign.id) == []


async def test_me_is_only_the_author_even_opted_out_and_needs_no_approval(
    db: Database, storage: Storage, approved: AnnouncementService
) -> None:
    await storage.preferences.set_preference(AUTHOR, "announcements", False, now=T0)
    campaign = await approved.draft(AUTHOR, "Test")
    preview = await approved.choose_audience(campaign.id, "me")
    assert preview is not None and (preview.recipients, preview.opted_out) == (1, 0)
    assert await approved.preview(campaign.id) == preview
    outcome = await approved.send_now(campaign.id, AUTHOR)
    assert (outcome.kind, outcome.recipients) == (OutcomeKind.SENDING, 1)
    assert await chats(db, campaign.id) == [AUTHOR]
    assert await approved.skip_reason(campaign.id, AUTHOR) is None  # a test send ignores the opt-out


# -- scheduling ---------------------------------------------------------------------------------------------


async def test_schedule_records_deliveries_due_at_send_at(
    db: Database, storage: Storage, direct: AnnouncementService, clock: Clock
) -> None:
    campaign = await drafted(direct, "members")
    for when in (T0, T0 - timedelta(minutes=1)):
        past = await direct.schedule(campaign.id, when, by=AUTHOR)
        assert past.kind == OutcomeKind.PAST and not past.launched
    assert (await direct.schedule(campaign.id, T0 + timedelta(hours=2), by=APPROVER)).kind == "not_author"

    send_at = T0 + timedelta(hours=2)
    outcome = await direct.schedule(campaign.id, send_at, by=AUTHOR)
    assert outcome.kind == OutcomeKind.SCHEDULED and outcome.campaign is not None
    assert (outcome.campaign.status, outcome.campaign.send_at, outcome.recipients) == (
        "scheduled",
        send_at,
        4,
    )
    assert {row["not_before"] for row in await recorded(db, campaign.id)} == {send_at}
    assert await chats(db, campaign.id) == MEMBERS

    assert await storage.outbox.claim(100, now=send_at - timedelta(seconds=1)) == []  # the sender waits
    report = await direct.report(campaign.id)
    assert report is not None and (report.status, report.pending, report.total) == ("scheduled", 4, 5)
    clock.now = send_at
    report = await direct.report(campaign.id)
    assert report is not None and report.status == CampaignStatus.SENDING  # due: being sent
    assert len(await storage.outbox.claim(100, now=send_at)) == 4


# -- approval -----------------------------------------------------------------------------------------------


async def test_approval_by_another_coordinator(
    db: Database, storage: Storage, approved: AnnouncementService
) -> None:
    campaign = await drafted(approved)
    outcome = await approved.send_now(campaign.id, by=AUTHOR)
    assert outcome.kind == OutcomeKind.AWAITING_APPROVAL and not outcome.launched
    assert (outcome.recipients, outcome.opted_out) == (5, 1)  # what the approvers are asked about
    assert outcome.campaign is not None and outcome.campaign.status == "awaiting_approval"
    assert await recorded(db, campaign.id) == []
    assert await approved.approvers(outcome.campaign) == [APPROVER, SECOND]  # not the author, not inactive

    own = await approved.approve(campaign.id, AUTHOR)
    assert own.kind == OutcomeKind.OWN_CAMPAIGN and not own.launched
    assert await recorded(db, campaign.id) == []

    await storage.preferences.set_preference(
        NEWCOMER, "announcements", False, now=T0
    )  # recipients: at launch
    launched = await approved.approve(campaign.id, APPROVER)
    assert launched.kind == OutcomeKind.SENDING and launched.campaign is not None
    assert (launched.campaign.approved_by, launched.recipients, launched.opted_out) == (APPROVER, 4, 2)
    assert await chats(db, campaign.id) == [MEMBER, AUTHOR, APPROVER, SECOND]

    late = await approved.approve(campaign.id, SECOND)
    assert late.kind == OutcomeKind.CONFLICT and late.campaign is not None
    assert late.campaign.approved_by == APPROVER
    assert len(await recorded(db, campaign.id)) == 4
    assert (await approved.approve(404, APPROVER)).kind == OutcomeKind.NOT_FOUND


async def test_a_scheduled_campaign_keeps_its_time_through_approval(
    db: Database, approved: AnnouncementService, clock: Clock
) -> None:
    send_at = T0 + timedelta(hours=1)
    early = await drafted(approved)
    assert (await approved.schedule(early.id, send_at, AUTHOR)).kind == OutcomeKind.AWAITING_APPROVAL
    stored = await approved.storage.campaigns.get_campaign(early.id)
    assert stored is not None and stored.send_at == send_at  # remembered
    clock.advance(10)
    outcome = await approved.approve(early.id, APPROVER)
    assert outcome.kind == OutcomeKind.SCHEDULED
    assert {row["not_before"] for row in await recorded(db, early.id)} == {send_at}

    late = await drafted(approved)
    assert (await approved.schedule(late.id, clock.now + timedelta(minutes=5), AUTHOR)).kind == (
        OutcomeKind.AWAITING_APPROVAL
    )
    clock.advance(30)  # approved after the time asked for: sent at once
    outcome = await approved.approve(late.id, SECOND)
    assert outcome.kind == OutcomeKind.SENDING and outcome.campaign is not None
    assert outcome.campaign.status == "sending"


async def test_concurrent_approve_and_refusal_exactly_one_wins(
    db: Database, db_url: str, clock: Clock
) -> None:
    """From two processes; the refusal starts a little later each round, so that it lands before the approval,
    between the approval and the launch, or after the launch."""
    async with await open_database(db_url, Path("/nonexistent")) as other:
        first = AnnouncementService(db.storage, require_approval=True, clock=clock)
        second = AnnouncementService(other.storage, require_approval=True, clock=clock)
        for delay in range(0, 120, 8):
            campaign = await awaiting(first)

            async def refuse(campaign_id: int = campaign.id, delay: int = delay) -> bool:
                for _ in range(delay):
                    await asyncio.sleep(0)
                return await second.cancel(campaign_id, SECOND, expect={"awaiting_approval"})

            outcome, refused = await asyncio.gather(first.approve(campaign.id, APPROVER), refuse())
            assert outcome.launched != refused, (delay, outcome, refused)
            stored = await first.storage.campaigns.get_campaign(campaign.id)
            assert stored is not None
            if refused:
                assert stored.status == "cancelled" and outcome.kind == OutcomeKind.CONFLICT
                assert (await first.storage.outbox.counts(ANNOUNCEMENT, campaign.id))[Status.PENDING] == 0
            else:
                assert stored.status == "sending" and await chats(db, campaign.id) == EVERYONE

        for _ in range(3):  # two coordinators approving at once: one launch, each message once
            campaign = await awaiting(first)
            outcomes = await asyncio.gather(
                first.approve(campaign.id, APPROVER), second.approve(campaign.id, SECOND)
            )
            assert [outcome.launched for outcome in outcomes].count(True) == 1
            assert await chats(db, campaign.id) == EVERYONE


class RefusingCampaigns(CampaignRepository):
    """Another coordinator's refusal lands between the approval and the launch."""

    def __init__(self, connector: Connector, refuse: Callable[[int], Awaitable[bool]]) -> None:
        super().__init__(connector)
        self.refuse = refuse
        self.refused: bool | None = None

    async def approve_campaign(
        self, campaign_id: int, approver_id: int, *, now: datetime | None = None
    ) -> bool:
        approved = await super().approve_campaign(campaign_id, approver_id, now=now)
        self.refused = await self.refuse(campaign_id)
        return approved


class RefusedRightAfterApproval(Storage):
    def __init__(self, engine: AsyncEngine, refuse: Callable[[int], Awaitable[bool]]) -> None:
        super().__init__(engine)
        self.refusing = RefusingCampaigns(Connector(engine), refuse)
        self.campaigns = self.refusing

    @property
    def refused(self) -> bool | None:
        return self.refusing.refused


async def test_a_refusal_between_approval_and_launch_wins(
    db: Database, approved: AnnouncementService, clock: Clock
) -> None:
    refusing = RefusedRightAfterApproval(
        db.engine, lambda campaign_id: approved.cancel(campaign_id, SECOND, expect={"awaiting_approval"})
    )
    racing = AnnouncementService(refusing, require_approval=True, clock=clock)
    campaign = await awaiting(approved)
    outcome = await racing.approve(campaign.id, APPROVER)
    assert refusing.refused is True
    assert outcome.kind == OutcomeKind.CONFLICT and outcome.campaign is not None
    assert outcome.campaign.status == "cancelled"
    assert await recorded(db, campaign.id) == []

    # The other way round: once launched, a refusal (of the approval request) does nothing.
    campaign = await awaiting(approved)
    assert (await approved.approve(campaign.id, APPROVER)).launched
    assert not await approved.cancel(campaign.id, SECOND, expect={"awaiting_approval"})
    assert await chats(db, campaign.id) == EVERYONE


# -- cancel -------------------------------------------------------------------------------------------------


async def test_who_may_cancel_what(approved: AnnouncementService, direct: AnnouncementService) -> None:
    draft = await drafted(approved)
    assert not await approved.cancel(draft.id, APPROVER)  # a draft is its author's own
    assert await approved.cancel(draft.id, AUTHOR)
    assert not await approved.cancel(draft.id, AUTHOR)  # once
    stored = await approved.storage.campaigns.get_campaign(draft.id)
    assert stored is not None and (stored.status, stored.finished_at) == ("cancelled", T0)

    refused = await awaiting(approved)
    assert not await approved.cancel(refused.id, APPROVER, expect={"scheduled"})  # not what they saw
    assert await approved.cancel(refused.id, APPROVER, expect={"awaiting_approval"})  # a refusal
    assert (await approved.approve(refused.id, SECOND)).kind == OutcomeKind.CONFLICT

    done = await drafted(direct, "topic", "nobody")
    assert (await direct.send_now(done.id, AUTHOR)).kind == OutcomeKind.DONE
    assert not await direct.cancel(done.id, AUTHOR)
    assert not await direct.cancel(404, AUTHOR)


async def test_cancel_skips_what_is_not_sent_yet(
    db: Database, storage: Storage, direct: AnnouncementService, clock: Clock
) -> None:
    campaign = await drafted(direct)
    await direct.send_now(campaign.id, AUTHOR)
    first, second = await storage.outbox.claim(2, now=T0)
    await storage.outbox.finish(first.id, Status.SENT, now=T0)
    clock.advance(1)

    assert await direct.cancel(campaign.id, APPROVER)  # any coordinator stops a running campaign
    counts = await storage.outbox.counts(ANNOUNCEMENT, campaign.id)
    assert (counts[Status.SENT], counts[Status.SENDING], counts[Status.SKIPPED], counts[Status.PENDING]) == (
        1,
        1,  # claimed: its sender's renderer skips it
        3,
        0,
    )
    assert {row["last_error"] for row in await recorded(db, campaign.id) if row["status"] == "skipped"} == {
        CANCELLED
    }
    assert await direct.skip_reason(campaign.id, second.chat_id) == CANCELLED
    report = await direct.report(campaign.id)
    assert report is not None and report.status == "cancelled"

    scheduled = await drafted(direct, "members")
    await direct.schedule(scheduled.id, clock.now + timedelta(days=1), AUTHOR)
    assert await direct.cancel(scheduled.id, AUTHOR)
    assert (await storage.outbox.counts(ANNOUNCEMENT, scheduled.id))[Status.SKIPPED] == 4
    assert await storage.outbox.claim(100, now=clock.now + timedelta(days=2)) == []


# -- report and send-time checks ----------------------------------------------------------------------------


async def test_report_counts_each_outcome(
    storage: Storage, direct: AnnouncementService, clock: Clock
) -> None:
    campaign = await drafted(direct)
    await direct.send_now(campaign.id, AUTHOR)
    report = await direct.report(campaign.id)
    assert report == Report(
        sent=0, blocked=0, failed={}, skipped=1, pending=5, total=6, status=CampaignStatus.SENDING
    )
    d1, d2, d3, d4, d5 = await storage.outbox.claim(10, now=T0)
    await storage.outbox.finish(d1.id, Status.SENT, now=T0)
    await storage.outbox.finish(d2.id, Status.SENT, now=T0)
    await storage.outbox.finish(
        d3.id, Status.BLOCKED, now=T0, reason="Forbidden: bot was blocked by the user"
    )
    await storage.outbox.finish(d4.id, Status.FAILED, now=T0, reason="chat not found")
    report = await direct.report(campaign.id)
    assert report == Report(
        sent=2,
        blocked=1,
        failed={"chat not found": 1},
        skipped=1,  # opted out at launch
        pending=1,  # d5, being sent
        total=6,
        status=CampaignStatus.SENDING,
    )
    assert (report.failed_count, report.processed) == (1, 5)
    assert not await direct.finish_if_done(campaign.id)

    clock.advance(1)
    await storage.outbox.finish(d5.id, Status.SKIPPED, now=clock.now, reason=OPTED_OUT)  # opted out since
    assert await direct.finish_if_done(campaign.id)
    assert not await direct.finish_if_done(campaign.id)
    report = await direct.report(campaign.id)
    assert report is not None
    assert (report.skipped, report.pending, report.processed, report.total, report.status) == (
        2,
        0,
        6,
        6,
        CampaignStatus.DONE,
    )
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None and stored.finished_at == clock.now
    assert await direct.report(404) is None


async def test_skip_reason_rechecks_at_send_time(storage: Storage, direct: AnnouncementService) -> None:
    campaign = await drafted(direct)
    await direct.send_now(campaign.id, AUTHOR)
    assert await direct.skip_reason(campaign.id, MEMBER) is None
    await storage.preferences.set_preference(
        MEMBER, "announcements", False, now=T0
    )  # opted out after the launch
    assert await direct.skip_reason(campaign.id, MEMBER) == OPTED_OUT
    assert await direct.skip_reason(404, MEMBER) == CANCELLED


async def test_a_forgotten_author_keeps_the_campaign_without_an_author(
    storage: Storage, approved: AnnouncementService
) -> None:
    campaign = await awaiting(approved)
    await storage.personal_data.forget_user(AUTHOR)
    assert (await approved.send_now(campaign.id, AUTHOR)).kind == OutcomeKind.NOT_AUTHOR
    stored = await storage.campaigns.get_campaign(campaign.id)
    assert stored is not None and stored.author_id is None and stored.text.startswith("<b>Assemblée")
    assert await approved.approvers(stored) == [APPROVER, SECOND]
    assert (await approved.approve(campaign.id, APPROVER)).launched
