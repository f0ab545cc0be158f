"""A coordinator's announcement ("campaign") as stored, and the vocabulary of its life."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

ANNOUNCEMENT = "announcement"  # the delivery kind of a campaign's messages (ref_id: the campaign id)
CAMPAIGN_KEY = "main"  # the delivery key of a campaign's message to one chat


class CampaignStatus(StrEnum):
    """Where a campaign is: draft → (awaiting_approval →) scheduled / sending → done; or cancelled."""

    DRAFT = "draft"  # being written: text, media, audience
    AWAITING_APPROVAL = "awaiting_approval"  # a second coordinator must approve it
    SCHEDULED = "scheduled"  # approved, or launched with deliveries due at `send_at`
    SENDING = "sending"  # its deliveries are due: the sender is sending them
    DONE = "done"  # no delivery left to send
    CANCELLED = "cancelled"


class CampaignAudience(StrEnum):
    """Whom a campaign is for."""

    ALL = "all"
    MEMBERS = "members"  # members and coordinators
    COORDINATORS = "coordinators"
    TOPIC = "topic"  # users who follow the campaign's topic
    EVENT = "event"  # those who answered yes or maybe to the event whose id is the campaign's `topic`
    ME = "me"  # only the author


class AnnouncementAudience(StrEnum):
    """The audiences whose recipients are chosen among the users (every `CampaignAudience` but "me")."""

    ALL = "all"
    MEMBERS = "members"  # members and coordinators
    COORDINATORS = "coordinators"
    TOPIC = "topic"  # users who follow the topic
    EVENT = "event"  # those who answered yes or maybe to the event (its id as the topic)


class MediaKind(StrEnum):
    PHOTO = "photo"
    DOCUMENT = "document"


@dataclass(frozen=True)
class Campaign:
    """A coordinator's announcement: what to send, to whom, when, and how far it got."""

    id: int
    author_id: int | None  # None once the author was forgotten (the campaign is kept)
    text: str  # Telegram HTML, already safe
    media_kind: MediaKind | None
    media_file_id: str | None  # Telegram file_id, to send the media again
    media_name: str | None
    audience: CampaignAudience
    topic: str | None  # with the "topic" audience only
    status: CampaignStatus
    send_at: datetime | None  # None: as soon as launched
    approved_by: int | None
    created_at: datetime
    updated_at: datetime
    recipients: int  # deliveries planned at launch
    opted_out: int  # users of the audience left out at launch because they opted out
    progress_chat_id: int | None  # the message that shows the progress, if any
    progress_message_id: int | None
    finished_at: datetime | None  # when it became done or cancelled
