"""Coordinator announcements ("campaigns") over the storage: draft → audience and preview → send now or
schedule (→ approval by another coordinator) → delivered by the outbox sender → report.

Launching a campaign records one pending delivery per recipient (kind `ANNOUNCEMENT`, key `CAMPAIGN_KEY`)
with `not_before` = its `send_at` (or now), in the same transaction as its status change: the sender only
claims due deliveries, so a scheduled campaign needs no job of its own. Recipients are chosen at launch (when
sent, scheduled, or approved): active users of the audience who did not opt out; "me" is only the author,
whatever their preferences (a test send); "event" is those who answered yes or maybe to an event (its id in
`topic`), whatever their announcement preferences, and needs no approval (the coordinator writes to the
people coming to their event: « la salle change »). The adapter checks again as each message goes out
(`skip_reason`).

Rules enforced here (the adapter checks first that the user is a coordinator):

- only the author sends or schedules their draft;
- with `require_approval`, a campaign for anyone but its author waits for another coordinator's approval
  (`approvers` lists whom to ask); its author cannot approve it, and only one coordinator approves it;
- the author may cancel their campaign at any stage until it is done; another coordinator may cancel it once
  it has left the draft stage (to refuse an approval request, or stop a scheduled or running campaign), not
  a draft, which is still its author's own;
- each step changes the status with a compare-and-set: of two coordinators pressing at once, only one acts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from bot.announcements.records import ANNOUNCEMENT, Campaign, CampaignAudience, CampaignStatus, MediaKind
from bot.clock import Clock, utc_now
from bot.delivery.outbox import Delivery, Status
from bot.delivery.sender import Skip
from bot.users.records import Role

if TYPE_CHECKING:
    from bot.storage.repository import Storage

CANCELLED = "campaign cancelled"  # the reason of the deliveries skipped because their campaign was cancelled
OPTED_OUT = "opted out"  # the reason of a delivery skipped because its user opted out after the launch
CANCELLABLE = frozenset(
    {
        CampaignStatus.DRAFT,
        CampaignStatus.AWAITING_APPROVAL,
        CampaignStatus.SCHEDULED,
        CampaignStatus.SENDING,
    }
)


class OutcomeKind(StrEnum):
    """What `send_now`, `schedule` or `approve` did."""

    SENDING = "sending"  # launched: the messages go out now
    SCHEDULED = "scheduled"  # launched: the messages go out at `send_at`
    DONE = "done"  # launched, but there was nobody to send it to
    AWAITING_APPROVAL = "awaiting_approval"  # another coordinator must approve it: ask `approvers`
    NOT_FOUND = "not_found"  # unknown campaign
    NOT_AUTHOR = "not_author"  # only its author sends or schedules a draft
    OWN_CAMPAIGN = "own_campaign"  # an author cannot approve their own campaign
    PAST = "past"  # schedule: the time is not in the future
    CONFLICT = "conflict"  # its status (or audience) is no longer the one needed: someone acted first


_LAUNCHED = frozenset({OutcomeKind.SENDING, OutcomeKind.SCHEDULED, OutcomeKind.DONE})


@dataclass(frozen=True)
class Outcome:
    kind: OutcomeKind
    campaign: Campaign | None  # as it is now; None if unknown
    recipients: int = 0  # launched: deliveries planned; awaiting approval: users it would reach today
    opted_out: int = 0  # users of the audience left out because they opted out

    @property
    def launched(self) -> bool:
        return self.kind in _LAUNCHED


@dataclass(frozen=True)
class Preview:
    """Whom a campaign would reach if it were launched now."""

    campaign: Campaign
    recipients: int  # active users of the audience who did not opt out ("me": its author)
    opted_out: int  # active users of the audience left out because they opted out


@dataclass(frozen=True)
class Report:
    """Where a campaign's messages are: `total` = sent + blocked + failed + skipped + pending."""

    sent: int
    blocked: int  # the user had blocked the bot
    failed: dict[str, int]  # reason → count, most frequent first
    skipped: int  # opted out at launch (never recorded) + skipped when sent (opted out since, cancelled…)
    pending: int  # not sent yet (due later, waiting or being sent)
    total: int  # the deliveries recorded at launch + the users left out because they opted out
    status: CampaignStatus  # SCHEDULED once `send_at` has come reads SENDING

    @property
    def failed_count(self) -> int:
        return sum(self.failed.values())

    @property
    def processed(self) -> int:
        """Everything no longer pending: for a "processed / total" progress line."""
        return self.total - self.pending


class AnnouncementService:
    def __init__(self, storage: Storage, *, require_approval: bool, clock: Clock = utc_now) -> None:
        self.storage = storage
        self.require_approval = require_approval
        self.clock = clock

    async def draft(
        self,
        author_id: int,
        text: str,
        *,
        media_kind: MediaKind | str | None = None,
        media_file_id: str | None = None,
        media_name: str | None = None,
    ) -> Campaign:
        """A new draft (audience "me" until `choose_audience`); ValueError for a blank text without media."""
        return await self.storage.campaigns.create_campaign(
            author_id,
            text,
            media_kind=media_kind,
            media_file_id=media_file_id,
            media_name=media_name,
            now=self.clock(),
        )

    async def choose_audience(
        self, campaign_id: int, audience: CampaignAudience | str, topic: str | None = None
    ) -> Preview | None:
        """Set the draft's audience ("topic" needs `topic`; ValueError otherwise), count whom it would reach.

        None if the campaign is unknown or no longer a draft."""
        campaign = await self.storage.campaigns.set_campaign_audience(
            campaign_id, audience, topic, now=self.clock()
        )
        if campaign is None:
            return None
        recipients, opted_out = await self._recipients(campaign)
        return Preview(campaign, len(recipients), opted_out)

    async def preview(self, campaign_id: int) -> Preview | None:
        """Whom the campaign would reach if it were launched now; None if unknown."""
        campaign = await self.storage.campaigns.get_campaign(campaign_id)
        if campaign is None:
            return None
        recipients, opted_out = await self._recipients(campaign)
        return Preview(campaign, len(recipients), opted_out)

    async def send_now(self, campaign_id: int, by: int) -> Outcome:
        """The author sends their draft now, or asks for approval (see the module's rules)."""
        return await self._submit(campaign_id, by, None)

    async def schedule(self, campaign_id: int, send_at: dt.datetime, by: int) -> Outcome:
        """The author sends their draft at `send_at` (aware, in the future: PAST otherwise), or asks for
        approval first; an approval that comes after `send_at` sends it at once."""
        return await self._submit(campaign_id, by, send_at)

    async def approvers(self, campaign: Campaign) -> list[int]:
        """Whom to ask for approval: the active coordinators but the author, by id."""
        coordinators = await self.storage.users.users_with_role(Role.COORDINATOR)
        return [user.id for user in coordinators if user.active and user.id != campaign.author_id]

    async def approve(self, campaign_id: int, approver_id: int) -> Outcome:
        """Another coordinator approves a campaign awaiting approval: it is launched.

        OWN_CAMPAIGN for its author; CONFLICT if it is not awaiting approval any more (approved by someone
        else, or cancelled, even at the same moment)."""
        campaign = await self.storage.campaigns.get_campaign(campaign_id)
        if campaign is None:
            return Outcome(OutcomeKind.NOT_FOUND, None)
        if campaign.author_id == approver_id:
            return Outcome(OutcomeKind.OWN_CAMPAIGN, campaign)
        if campaign.status != CampaignStatus.AWAITING_APPROVAL:
            return Outcome(OutcomeKind.CONFLICT, campaign)
        now = self.clock()
        if not await self.storage.campaigns.approve_campaign(campaign_id, approver_id, now=now):
            return await self._conflict(campaign_id)
        return await self._launch(campaign, {CampaignStatus.AWAITING_APPROVAL}, now)

    async def cancel(self, campaign_id: int, by: int, *, expect: AbstractSet[str] | None = None) -> bool:
        """Cancel the campaign (see the module's rules for who may); whether it was cancelled.

        Its deliveries not sent yet are skipped ("campaign cancelled"); those being sent are left to the
        sender, whose renderer skips them (`skip_reason`). `expect`: only from these statuses, e.g. the one
        the coordinator saw on the button ({"awaiting_approval"} to refuse an approval request: if the
        campaign was approved at the same moment, the refusal does nothing).
        """
        campaign = await self.storage.campaigns.get_campaign(campaign_id)
        if campaign is None:
            return False
        allowed = set(CANCELLABLE)
        if campaign.author_id is not None and campaign.author_id != by:
            allowed.discard(CampaignStatus.DRAFT)
        if expect is not None:
            allowed &= {CampaignStatus(status) for status in expect}
        now = self.clock()
        if not await self.storage.campaigns.set_campaign_status(
            campaign_id, CampaignStatus.CANCELLED, now=now, expect=allowed
        ):
            return False
        await self.storage.outbox.skip_pending(ANNOUNCEMENT, campaign_id, CANCELLED, now=now)
        return True

    async def report(self, campaign_id: int) -> Report | None:
        """Where the campaign's messages are; None if unknown."""
        campaign = await self.storage.campaigns.get_campaign(campaign_id)
        if campaign is None:
            return None
        counts = await self.storage.outbox.counts(ANNOUNCEMENT, campaign_id)
        failed = await self.storage.outbox.failures(ANNOUNCEMENT, campaign_id)
        status = campaign.status
        due = campaign.send_at is not None and campaign.send_at <= self.clock()
        if status == CampaignStatus.SCHEDULED and due:
            status = CampaignStatus.SENDING
        return Report(
            sent=counts[Status.SENT],
            blocked=counts[Status.BLOCKED],
            failed=failed,
            skipped=counts[Status.SKIPPED] + campaign.opted_out,
            pending=counts[Status.PENDING] + counts[Status.SENDING],
            total=sum(counts.values()) + campaign.opted_out,
            status=status,
        )

    async def finish_if_done(self, campaign_id: int) -> bool:
        """Mark a launched campaign DONE once nothing is left to send; whether it was (once)."""
        return await self.storage.campaigns.finish_campaign_if_done(campaign_id, now=self.clock())

    async def skip_reason(self, campaign_id: int, chat_id: int) -> str | None:
        """Why a message of the campaign must not go to `chat_id` now (`CANCELLED`, `OPTED_OUT`), or None.

        For the adapter's renderer, just before sending. A "me" campaign ignores the author's opt-out."""
        campaign = await self.storage.campaigns.get_campaign(campaign_id)
        if campaign is None or campaign.status == CampaignStatus.CANCELLED:
            return CANCELLED
        if campaign.audience in (CampaignAudience.ME, CampaignAudience.EVENT):
            return None
        if not (await self.storage.preferences.get_preferences(chat_id)).announcements:
            return OPTED_OUT
        return None

    async def get(self, campaign_id: int) -> Campaign | None:
        return await self.storage.campaigns.get_campaign(campaign_id)

    async def recent(self, limit: int = 10) -> list[Campaign]:
        """The latest campaigns, newest first."""
        return await self.storage.campaigns.campaigns(limit=limit)

    async def in_progress(self, limit: int = 20) -> list[Campaign]:
        """Among the latest campaigns, those launched whose progress message is to be kept up to date."""
        launched = (CampaignStatus.SCHEDULED, CampaignStatus.SENDING)
        recent = await self.storage.campaigns.campaigns(limit=limit)
        return [c for c in recent if c.status in launched and c.progress_chat_id is not None]

    async def set_progress_message(self, campaign_id: int, chat_id: int, message_id: int) -> None:
        """Where the author sees the campaign's progress (edited as messages go out)."""
        await self.storage.campaigns.set_campaign_progress_message(campaign_id, chat_id, message_id)

    @staticmethod
    def cancellable_by(campaign: Campaign, user_id: int) -> bool:
        """Whether to offer `user_id` to cancel the campaign from their list: their own, not finished."""
        return campaign.author_id == user_id and campaign.status in CANCELLABLE

    async def deliverable(self, delivery: Delivery) -> Campaign:
        """The campaign of a message about to be sent; `Skip` (see `skip_reason`) when it must not go."""
        reason = await self.skip_reason(delivery.ref_id, delivery.chat_id)
        campaign = await self.storage.campaigns.get_campaign(delivery.ref_id)
        if reason is not None or campaign is None:
            raise Skip(reason or "campaign deleted")
        return campaign

    # -- internals ----------------------------------------------------------------------------------------

    async def _submit(self, campaign_id: int, by: int, send_at: dt.datetime | None) -> Outcome:
        campaign = await self.storage.campaigns.get_campaign(campaign_id)
        if campaign is None:
            return Outcome(OutcomeKind.NOT_FOUND, None)
        if campaign.author_id is None or campaign.author_id != by:
            return Outcome(OutcomeKind.NOT_AUTHOR, campaign)
        now = self.clock()
        if send_at is not None and send_at <= now:
            return Outcome(OutcomeKind.PAST, campaign)
        if campaign.status != CampaignStatus.DRAFT:
            return Outcome(OutcomeKind.CONFLICT, campaign)
        if not await self.storage.campaigns.schedule_campaign(campaign_id, send_at, now=now):
            return await self._conflict(campaign_id)
        if self.require_approval and campaign.audience not in (CampaignAudience.ME, CampaignAudience.EVENT):
            if not await self.storage.campaigns.set_campaign_status(
                campaign_id, CampaignStatus.AWAITING_APPROVAL, now=now, expect={CampaignStatus.DRAFT}
            ):
                return await self._conflict(campaign_id)
            waiting = await self.storage.campaigns.get_campaign(campaign_id)
            assert waiting is not None  # campaigns are never deleted
            recipients, opted_out = await self._recipients(waiting)
            return Outcome(OutcomeKind.AWAITING_APPROVAL, waiting, len(recipients), opted_out)
        return await self._launch(campaign, {CampaignStatus.DRAFT}, now)

    async def _launch(self, campaign: Campaign, expect: AbstractSet[str], now: dt.datetime) -> Outcome:
        """Choose the recipients now and launch (see `Storage.launch_campaign`): CONFLICT if the status is no
        longer in `expect` or the audience changed meanwhile."""
        recipients, opted_out = await self._recipients(campaign)
        launched = await self.storage.campaigns.launch_campaign(
            campaign.id,
            recipients,
            opted_out,
            expect=expect,
            audience=campaign.audience,
            topic=campaign.topic,
            now=now,
        )
        if launched is None:
            return await self._conflict(campaign.id)
        kind = OutcomeKind.SCHEDULED if launched.status == CampaignStatus.SCHEDULED else OutcomeKind.SENDING
        if kind == OutcomeKind.SENDING and await self.storage.campaigns.finish_campaign_if_done(
            campaign.id, now=now
        ):
            finished = await self.storage.campaigns.get_campaign(campaign.id)  # nobody to send it to
            assert finished is not None
            launched, kind = finished, OutcomeKind.DONE
        return Outcome(kind, launched, launched.recipients, launched.opted_out)

    async def _recipients(self, campaign: Campaign) -> tuple[list[int], int]:
        """(recipients, opted out) of the campaign's audience today."""
        if campaign.audience == CampaignAudience.ME:
            return ([] if campaign.author_id is None else [campaign.author_id]), 0
        audience = campaign.audience.value
        recipients = await self.storage.campaigns.announcement_recipients(audience, campaign.topic)
        opted_out = await self.storage.campaigns.announcement_opted_out_count(audience, campaign.topic)
        return recipients, opted_out

    async def _conflict(self, campaign_id: int) -> Outcome:
        return Outcome(OutcomeKind.CONFLICT, await self.storage.campaigns.get_campaign(campaign_id))
