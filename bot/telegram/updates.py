"""Updates of different chats are handled at the same time; those of one chat, one after the other.

python-telegram-bot handles updates one at a time by default: every database read a handler makes before
it hands its work to a task (the flow in progress, the user's role) holds up every other person's update.
With `concurrent_updates(True)` it would handle them all at once, but two messages of one chat could then
race (a flow's step read before the previous step was saved). `ChatOrdered` keeps the order inside each
chat and lets chats overlap, up to `max_concurrent_updates` updates in flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT_UPDATES = 256


class ChatOrdered(BaseUpdateProcessor):
    """One lock per chat (per user for updates without a chat), held while the update is dispatched.

    Handlers registered with `block=False` return at once (their task runs on): the next update of the
    chat does not wait for them, only for the dispatch. Locks of idle chats are dropped.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}

    @staticmethod
    def key(update: object) -> tuple[str, int] | None:
        """("chat", id), ("user", id) or None (no order to keep) for an update."""
        if isinstance(update, Update):
            if update.effective_chat is not None:
                return ("chat", update.effective_chat.id)
            if update.effective_user is not None:
                return ("user", update.effective_user.id)
        return None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = self.key(update)
        if key is None:
            await coroutine
            return
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                await coroutine
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: PTB waits for the updates in flight."""
