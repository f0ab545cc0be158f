"""Coordinator announcements ("campaigns"); who they reach is in `bot.storage.audiences`.

A campaign sends its messages through the outbox: deliveries of kind `ANNOUNCEMENT`, key `CAMPAIGN_KEY`,
whose `ref_id` is the campaign id; `launch_campaign` records them in the transaction of its status change."""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any

from sqlalchemy import (
    RowMapping,
    and_,
    insert,
    or_,
    select,
    update,
)

from bot.announcements.records import (
    ANNOUNCEMENT,
    CAMPAIGN_KEY,
    Campaign,
    CampaignAudience,
    CampaignStatus,
    MediaKind,
)
from bot.delivery.outbox import Status
from bot.storage.audiences import AudienceQueries
from bot.storage.base import (
    check_length,
    ensure_user,
    utc,
    utc_value,
)
from bot.storage.outbox import UNFINISHED, enqueue_rows
from bot.storage.preferences import MAX_TOPIC
from bot.storage.schema import (
    campaigns,
    deliveries,
)

_MEDIA_LENGTH = 200  # campaigns.media_file_id and campaigns.media_name
CAMPAIGN_PRIVATE = frozenset({"author_id", "approved_by", "progress_chat_id", "progress_message_id"})


class CampaignRepository(AudienceQueries):
    """Campaigns: draft, audience, schedule, approval, launch, progress, end."""

    async def create_campaign(
        self,
        author_id: int,
        text: str,
        *,
        media_kind: MediaKind | str | None = None,
        media_file_id: str | None = None,
        media_name: str | None = None,
        now: datetime | None = None,
    ) -> Campaign:
        """A new draft, for the "me" audience until `set_campaign_audience` chooses another.

        `text` is stored as it is (Telegram HTML); it may be blank only with a media. `media_kind` ("photo"
        or "document") and `media_file_id` go together (ValueError otherwise). An unknown `author_id` is
        created as a newcomer.
        """
        values = _campaign_media(text, media_kind, media_file_id, media_name)
        now = utc(now)
        async with self._tx(write=True) as conn:
            await ensure_user(conn, author_id, now)
            result = await conn.execute(
                insert(campaigns)
                .values(
                    author_id=author_id,
                    text=text,
                    audience=CampaignAudience.ME.value,
                    topic=None,
                    status=CampaignStatus.DRAFT.value,
                    created_at=now,
                    updated_at=now,
                    **values,
                )
                .returning(*campaigns.c)
            )
            row = result.mappings().one()
        return campaign_record(row)

    async def get_campaign(self, campaign_id: int) -> Campaign | None:
        async with self._tx(write=False) as conn:
            result = await conn.execute(select(campaigns).where(campaigns.c.id == campaign_id))
            row = result.mappings().first()
        return None if row is None else campaign_record(row)

    async def campaigns(self, limit: int = 10, offset: int = 0) -> list[Campaign]:
        """Every campaign, whatever its status, newest first."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset: 0 or more, got {limit} and {offset}")
        stmt = (
            select(campaigns)
            .order_by(campaigns.c.created_at.desc(), campaigns.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._tx(write=False) as conn:
            rows = (await conn.execute(stmt)).mappings().all()
        return [campaign_record(row) for row in rows]

    async def set_campaign_audience(
        self,
        campaign_id: int,
        audience: CampaignAudience | str,
        topic: str | None = None,
        *,
        now: datetime | None = None,
    ) -> Campaign | None:
        """Choose who receives a draft: "all", "members", "coordinators", "topic" (with `topic`, and only
        then) or "me" (ValueError otherwise). The campaign, or None if it is unknown or no longer a draft."""
        audience = CampaignAudience(audience)
        if (audience in (CampaignAudience.TOPIC, CampaignAudience.EVENT)) != (topic is not None):
            raise ValueError(f"campaign audience {audience.value!r}: a topic with 'topic' and only then")
        if topic is not None:
            check_length("topic", topic, MAX_TOPIC)
        if audience == CampaignAudience.EVENT:
            _event_id(topic)
        now = utc(now)
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.DRAFT.value)
                .values(audience=audience.value, topic=topic, updated_at=now)
                .returning(*campaigns.c)
            )
            row = result.mappings().first()
        return None if row is None else campaign_record(row)

    async def schedule_campaign(
        self, campaign_id: int, send_at: datetime | None, *, now: datetime | None = None
    ) -> bool:
        """Remember when to send a draft (None: as soon as it is launched). False if it is unknown or no
        longer a draft. Launching it (`launch_campaign`) plans its deliveries for that time."""
        at = None if send_at is None else utc_value("send_at", send_at)
        values = {"send_at": at, "updated_at": utc(now)}
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status == CampaignStatus.DRAFT.value)
                .values(**values)
            )
        return result.rowcount > 0

    async def set_campaign_status(
        self,
        campaign_id: int,
        status: CampaignStatus | str,
        *,
        now: datetime | None = None,
        expect: AbstractSet[str] | None = None,
    ) -> bool:
        """Change the status, only if the current one is in `expect` (any, if None); whether it changed.

        Compare-and-set in one UPDATE: of concurrent changes expecting the same status, exactly one succeeds
        (two coordinators pressing at once cannot both act). DONE and CANCELLED set `finished_at`. Nothing
        else is done: cancelling does not touch the deliveries (see `skip_pending`).
        """
        status = CampaignStatus(status)
        now = utc(now)
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status in (CampaignStatus.DONE, CampaignStatus.CANCELLED):
            values["finished_at"] = now
        stmt = update(campaigns).where(campaigns.c.id == campaign_id)
        if expect is not None:
            stmt = stmt.where(campaigns.c.status.in_(_campaign_statuses(expect)))
        async with self._tx(write=True) as conn:
            result = await conn.execute(stmt.values(**values))
        return result.rowcount > 0

    async def approve_campaign(
        self, campaign_id: int, approver_id: int, *, now: datetime | None = None
    ) -> bool:
        """Record that `approver_id` approves a campaign AWAITING_APPROVAL; whether they may.

        Never its author (a forgotten author's campaign may be approved by anyone), and only one approver per
        campaign: a second coordinator is refused, the same one may approve again (a retry). The status is
        left to `launch_campaign` (expect AWAITING_APPROVAL): a cancellation in between wins, and the launch
        then does nothing.
        """
        now = utc(now)
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(
                    campaigns.c.id == campaign_id,
                    campaigns.c.status == CampaignStatus.AWAITING_APPROVAL.value,
                    or_(campaigns.c.author_id.is_(None), campaigns.c.author_id != approver_id),
                    or_(campaigns.c.approved_by.is_(None), campaigns.c.approved_by == approver_id),
                )
                .values(approved_by=approver_id, updated_at=now)
            )
        return result.rowcount > 0

    async def launch_campaign(
        self,
        campaign_id: int,
        recipients: Sequence[int],
        opted_out: int,
        *,
        expect: AbstractSet[str],
        audience: CampaignAudience | str,
        topic: str | None = None,
        now: datetime | None = None,
    ) -> Campaign | None:
        """Launch a campaign whose status is in `expect`: one transaction, so it is all or nothing.

        The status becomes SCHEDULED (`send_at` in the future) or SENDING; the counts are stored (`recipients`
        without duplicates, `opted_out`); one pending `ANNOUNCEMENT` delivery per recipient is recorded (key
        `CAMPAIGN_KEY`), not before `send_at` (or `now`): the sender only claims due deliveries, so scheduling
        needs no other job. Deliveries recorded already are left as they are: launching twice sends once.

        `audience` and `topic` are those the recipients were chosen for. The launched campaign, or None
        (nothing done) if it is unknown, its status is not in `expect` or its audience is another one (it
        changed meanwhile).
        """
        if opted_out < 0:
            raise ValueError(f"opted_out: 0 or more, got {opted_out}")
        same_topic = campaigns.c.topic.is_(None) if topic is None else campaigns.c.topic == topic
        now = utc(now)
        unique = list(dict.fromkeys(recipients))
        async with self._tx(write=True) as conn:
            locked = select(campaigns.c.send_at).where(
                campaigns.c.id == campaign_id,
                campaigns.c.status.in_(_campaign_statuses(expect)),
                campaigns.c.audience == CampaignAudience(audience).value,
                same_topic,
            )
            found = (await conn.execute(locked.with_for_update())).first()
            if found is None:
                return None
            send_at: datetime | None = found[0]
            due = send_at is None or send_at <= now
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(
                    status=(CampaignStatus.SENDING if due else CampaignStatus.SCHEDULED).value,
                    recipients=len(unique),
                    opted_out=opted_out,
                    updated_at=now,
                )
                .returning(*campaigns.c)
            )
            row = result.mappings().one()
            not_before = now if send_at is None else send_at
            await enqueue_rows(
                conn, ANNOUNCEMENT, campaign_id, unique, CAMPAIGN_KEY, not_before, now, Status.PENDING, None
            )
        return campaign_record(row)

    async def set_campaign_counts(self, campaign_id: int, recipients: int, opted_out: int) -> bool:
        """Store how many deliveries were planned and how many users were left out (opted out); False if the
        campaign is unknown. `launch_campaign` does it already."""
        if recipients < 0 or opted_out < 0:
            raise ValueError(f"campaign counts: 0 or more, got {recipients} and {opted_out}")
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(recipients=recipients, opted_out=opted_out)
            )
        return result.rowcount > 0

    async def set_campaign_progress_message(self, campaign_id: int, chat_id: int, message_id: int) -> bool:
        """The message that shows the campaign's progress (to edit it); False if the campaign is unknown."""
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(progress_chat_id=chat_id, progress_message_id=message_id)
            )
        return result.rowcount > 0

    async def finish_campaign_if_done(self, campaign_id: int, *, now: datetime | None = None) -> bool:
        """A launched campaign becomes DONE (with `finished_at`) once none of its deliveries is pending or
        being sent; whether it did. One UPDATE, so it happens once.

        Launched: SENDING, or SCHEDULED with `send_at` come (nobody has to mark it SENDING first).
        """
        now = utc(now)
        unfinished = select(deliveries.c.id).where(
            deliveries.c.kind == ANNOUNCEMENT,
            deliveries.c.ref_id == campaign_id,
            deliveries.c.status.in_(UNFINISHED),
        )
        async with self._tx(write=True) as conn:
            result = await conn.execute(
                update(campaigns)
                .where(
                    campaigns.c.id == campaign_id,
                    or_(
                        campaigns.c.status == CampaignStatus.SENDING.value,
                        and_(
                            campaigns.c.status == CampaignStatus.SCHEDULED.value,
                            campaigns.c.send_at <= now,
                        ),
                    ),
                    ~unfinished.exists(),
                )
                .values(status=CampaignStatus.DONE.value, finished_at=now, updated_at=now)
            )
        return result.rowcount > 0


def _campaign_media(
    text: str, media_kind: MediaKind | str | None, media_file_id: str | None, media_name: str | None
) -> dict[str, Any]:
    """The media columns of a new campaign, checked."""
    if (media_kind is None) != (media_file_id is None):
        raise ValueError("campaign media: media_kind and media_file_id go together")
    if media_file_id is not None:
        check_length("media_file_id", media_file_id, _MEDIA_LENGTH)
    if media_name is not None:
        if media_kind is None:
            raise ValueError("campaign media: media_name without a media")
        check_length("media_name", media_name, _MEDIA_LENGTH)
    if not text.strip() and media_kind is None:
        raise ValueError("campaign text: blank, and no media")
    return {
        "media_kind": None if media_kind is None else MediaKind(media_kind).value,
        "media_file_id": media_file_id,
        "media_name": media_name,
    }


def _campaign_statuses(expect: AbstractSet[str]) -> list[str]:
    """The stored values of `expect` (ValueError for a status that does not exist)."""
    return sorted(CampaignStatus(status).value for status in expect)


def campaign_record(row: RowMapping) -> Campaign:
    return Campaign(
        id=row["id"],
        author_id=row["author_id"],
        text=row["text"],
        media_kind=None if row["media_kind"] is None else MediaKind(row["media_kind"]),
        media_file_id=row["media_file_id"],
        media_name=row["media_name"],
        audience=CampaignAudience(row["audience"]),
        topic=row["topic"],
        status=CampaignStatus(row["status"]),
        send_at=row["send_at"],
        approved_by=row["approved_by"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        recipients=row["recipients"],
        opted_out=row["opted_out"],
        progress_chat_id=row["progress_chat_id"],
        progress_message_id=row["progress_message_id"],
        finished_at=row["finished_at"],
    )


def _event_id(topic: str | None) -> int:
    """The event id an "event" campaign keeps in `topic` (ValueError when it is not one)."""
    if topic is None or not topic.isdigit():
        raise ValueError(f"an event campaign's topic is its event id, got {topic!r}")
    return int(topic)
