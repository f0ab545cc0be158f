"""Updates of different chats are handled at the same time; those of one chat, one after the other.

python-telegram-bot handles updates one at a time by default: every database read a handler makes before
it hands its work to a task (the flow in progress, the user's role) holds up every other person's update.
With `concurrent_updates(True)` it would handle them all at once, but two messages of one chat could then
race (a flow's step read before the previous step was saved). `ChatOrdered` keeps the order inside each
chat and lets chats overlap, up to `max_concurrent_updates` updates in flight.

Questions run on after their dispatch (`block=False`), and under a flood they would share the event loop
evenly with button presses and commands; `give_way` lets a question step wait (briefly) while updates are
being dispatched, so a button press is answered ahead of the questions queued before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT_UPDATES = 256
GIVE_WAY_SECONDS = 0.05  # the longest a question step waits for the dispatches in flight


class ChatOrdered(BaseUpdateProcessor):
    """One lock per chat (per user for updates without a chat), held while the update is dispatched.

    Handlers registered with `block=False` return at once (their task runs on): the next update of the
    chat does not wait for them, only for the dispatch. Locks of idle chats are dropped.
    """

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[tuple[str, int], tuple[asyncio.Lock, int]] = {}
        self._dispatching = 0
        self._calm = asyncio.Event()  # set while no update is being dispatched
        self._calm.set()

    async def give_way(self, most: float = GIVE_WAY_SECONDS) -> None:
        """Wait until no update is being dispatched, for at most `most` seconds (never longer: questions
        keep moving under a steady stream of button presses)."""
        if self._dispatching:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._calm.wait(), most)

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
        self._dispatching += 1
        self._calm.clear()
        try:
            await self._in_order(update, coroutine)
        finally:
            self._dispatching -= 1
            if not self._dispatching:
                self._calm.set()

    async def _in_order(self, update: object, coroutine: Awaitable[Any]) -> None:
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


async def give_way(processor: BaseUpdateProcessor) -> None:
    """`ChatOrdered.give_way` when the application uses it; nothing otherwise."""
    if isinstance(processor, ChatOrdered):
        await processor.give_way()
