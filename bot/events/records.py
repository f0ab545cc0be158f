"""An event as stored, what a coordinator or an import says about it, and the limits of its fields.

The limits are the same for the importer, the Telegram flow and the storage (the columns' sizes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

MAX_UID = 200  # characters of an imported event's external id
MAX_TITLE = 200
MAX_PLACE = 300
MAX_LINK = 500
MAX_DESCRIPTION = 4000  # longer ones (Outlook/Teams invitations): shortened by the importer, with a warning
FIELD_LIMITS = {"title": MAX_TITLE, "place": MAX_PLACE, "link": MAX_LINK, "description": MAX_DESCRIPTION}
EDITABLE_FIELDS = ("title", "place", "link", "description")  # what a coordinator may change besides the time


class Audience(StrEnum):
    ALL = "all"
    MEMBERS = "members"  # members and coordinators


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    CANCELLED = "cancelled"


class RsvpAnswer(StrEnum):
    YES = "yes"
    MAYBE = "maybe"
    NO = "no"


UpsertOutcome = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class EventFields:
    """What a coordinator (or an import) says about an event; the storage checks it."""

    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    place: str | None = None
    link: str | None = None
    description: str | None = None
    audience: Audience | str = Audience.ALL
    all_day: bool = False  # shown and exported without hours; starts_at/ends_at hold 09:00/18:00 Paris


@dataclass(frozen=True)
class Event:
    id: int
    uid: str | None  # the external id of an imported event
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str | None
    link: str | None
    description: str | None
    audience: Audience
    status: EventStatus
    revision: int  # starts at 1, +1 whenever starts_at changes (reminders are keyed by it)
    created_by: int | None
    created_at: datetime
    updated_at: datetime
    all_day: bool = False

    def fields(self) -> EventFields:
        """What a coordinator or an import may change, as they are now."""
        return EventFields(
            self.title, self.starts_at, self.ends_at, self.place, self.link, self.description, self.audience,
            self.all_day,
        )  # fmt: skip
