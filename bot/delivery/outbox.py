"""The outbox contract shared by the storage (which keeps it) and the sender (which drains it).

A delivery is one message to one chat, recorded before anything is sent. Its identity
(kind, ref_id, chat_id, key) is unique, so planning the same message twice records it once.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class Status(enum.StrEnum):
    PENDING = "pending"  # waiting to be sent (possibly not before `not_before`)
    SENDING = "sending"  # claimed by a sender; back to pending if the sender died (see release_stale)
    SENT = "sent"
    BLOCKED = "blocked"  # the user blocked the bot: never retried
    FAILED = "failed"  # gave up, with a reason
    SKIPPED = (
        "skipped"  # not sent on purpose (opted out, event started, campaign cancelled, …), with a reason
    )


@dataclass(frozen=True)
class Delivery:
    id: int
    kind: str  # "reminder", "event_notice", "announcement", …
    ref_id: int  # the event or campaign id
    chat_id: int
    key: str  # distinguishes several deliveries of one kind/ref to one chat (e.g. the reminder offset)
    status: Status
    attempts: int
    not_before: dt.datetime
    last_error: str | None


class OutboxStore(Protocol):
    async def enqueue(
        self,
        kind: str,
        ref_id: int,
        chat_ids: Sequence[int],
        key: str,
        *,
        not_before: dt.datetime,
        now: dt.datetime,
    ) -> int:
        """Record one pending delivery per chat; existing (kind, ref_id, chat_id, key) are left as they are.
        Returns how many were new."""
        ...

    async def claim(self, limit: int, *, now: dt.datetime) -> list[Delivery]:
        """Up to `limit` pending deliveries due at `now` (oldest first), marked SENDING atomically so that two
        senders never claim the same one (FOR UPDATE SKIP LOCKED on PostgreSQL)."""
        ...

    async def finish(
        self, delivery_id: int, status: Status, *, now: dt.datetime, reason: str | None = None
    ) -> None:
        """SENT, BLOCKED, FAILED or SKIPPED."""
        ...

    async def retry(self, delivery_id: int, *, at: dt.datetime, reason: str, now: dt.datetime) -> None:
        """Back to PENDING not before `at`, attempts + 1."""
        ...

    async def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: pending deliveries follow it."""
        ...

    async def release_stale(self, *, older_than: dt.datetime) -> int:
        """SENDING deliveries claimed before `older_than` (their sender died) go back to PENDING."""
        ...

    async def counts(self, kind: str, ref_id: int) -> dict[Status, int]: ...

    async def failures(self, kind: str, ref_id: int) -> dict[str, int]:
        """reason → count, for FAILED deliveries."""
        ...

    async def skip_pending(self, kind: str, ref_id: int, reason: str, *, now: dt.datetime) -> int:
        """Cancel what is not sent yet (a cancelled campaign, a moved event)."""
        ...
