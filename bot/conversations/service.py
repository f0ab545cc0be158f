"""Where a user stands in a multi-step flow (creating an event, composing an announcement, …).

One flow at a time per chat and user waits for their next message: starting one ends the others, as a user
expects when they type a new command mid-way. The state is a small JSON object the adapter defines; it
expires `FLOW_EXPIRY` after its last change (a draft abandoned for a day is gone, never sent).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from bot.clock import Clock, utc_now
from bot.storage.conversations import ConversationRepository

FLOW_EXPIRY = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Flow:
    """A flow in progress: its name (e.g. "announce") and its state (a JSON object)."""

    name: str
    state: dict[str, Any]


class ConversationService:
    def __init__(
        self, store: ConversationRepository, clock: Clock = utc_now, expiry: dt.timedelta = FLOW_EXPIRY
    ):
        self.store = store
        self.clock = clock
        self.expiry = expiry

    async def current(self, chat_id: int, user_id: int) -> Flow | None:
        """The flow this user is in, in this chat (the latest changed), or None."""
        found = await self.store.latest(chat_id, user_id, now=self.clock())
        return Flow(*found) if found is not None else None

    async def get(self, chat_id: int, user_id: int, name: str) -> dict[str, Any] | None:
        return await self.store.load(chat_id, user_id, name, now=self.clock())

    async def start(self, chat_id: int, user_id: int, name: str, state: dict[str, Any]) -> None:
        """Begin `name` with `state`, ending any other flow of this user in this chat."""
        await self.store.end(chat_id, user_id)
        await self.save(chat_id, user_id, name, state)

    async def save(self, chat_id: int, user_id: int, name: str, state: dict[str, Any]) -> None:
        """Store the new state of `name`; its expiry starts again."""
        now = self.clock()
        await self.store.save(chat_id, user_id, name, state, now=now, expires_at=now + self.expiry)

    async def end(self, chat_id: int, user_id: int, name: str | None = None) -> bool:
        """End `name` (every flow when None); whether there was one."""
        return await self.store.end(chat_id, user_id, name) > 0

    async def purge(self) -> int:
        """Delete the expired flows (a periodic job); how many."""
        return await self.store.purge_expired(now=self.clock())
