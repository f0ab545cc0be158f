"""Updates of different chats are handled at the same time; those of one chat, one after the other.

python-telegram-bot handles updates one at a time by default: every database read a handler makes before
it hands its work to a task (the flow in progress, the user's role) holds up every other person's update.
With `concurrent_updates(True)` it would handle them all at once, but two messages of one chat could then
race (a flow's step read before the previous step was saved). `ChatOrdered` keeps the order inside each
chat and lets chats overlap, up to `max_concurrent_updates` updates in flight.

Under a flood of texts (questions, mostly), button presses and commands must not queue behind them: every
dispatch reads the database, and a few hundred texts dispatched at once would fill its connection pool for
seconds. So texts are dispatched through their own lane (`TEXT_LANE` at once), and button presses and
commands beside it. Questions run on after their dispatch (`block=False`), and `give_way` lets a question
step wait (briefly) while a button press or a command is being dispatched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.locks import KeyedLocks

MAX_CONCURRENT_UPDATES = 4096  # updates waiting their turn (their chat's, or the text lane) cost a task each
TEXT_LANE = 4  # texts dispatched at once (each reads the database); 4 measured better than 8 under a flood
GIVE_WAY_SECONDS = 0.05  # the longest a question step waits for the dispatches in flight


class ChatOrdered(BaseUpdateProcessor):
    """One lock per chat (per user for updates without a chat), held while the update is dispatched; texts
    (messages that are not commands) are also dispatched at most `text_lane` at a time.

    Handlers registered with `block=False` return at once (their task runs on): the next update of the
    chat does not wait for them, only for the dispatch. Locks of idle chats are dropped.
    """

    def __init__(
        self, max_concurrent_updates: int = MAX_CONCURRENT_UPDATES, text_lane: int = TEXT_LANE
    ) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: KeyedLocks[tuple[str, int]] = KeyedLocks()
        self._texts = asyncio.Semaphore(text_lane)
        self._dispatching = 0  # button presses and commands being dispatched
        self._calm = asyncio.Event()  # set while none is
        self._calm.set()

    async def give_way(self, most: float = GIVE_WAY_SECONDS) -> None:
        """Wait until no button press or command is being dispatched, for at most `most` seconds (never
        longer: questions keep moving under a steady stream of button presses)."""
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

    @staticmethod
    def is_text(update: object) -> bool:
        """A message (or an edit) that is not a command: a question, a flow's answer, a file."""
        if not isinstance(update, Update) or update.effective_message is None or update.callback_query:
            return False
        return not (update.effective_message.text or "").startswith("/")

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if self.is_text(update):
            await self._in_order(update, coroutine, lane=self._texts)
            return
        self._dispatching += 1
        self._calm.clear()
        try:
            await self._in_order(update, coroutine)
        finally:
            self._dispatching -= 1
            if not self._dispatching:
                self._calm.set()

    async def _in_order(
        self, update: object, coroutine: Awaitable[Any], lane: asyncio.Semaphore | None = None
    ) -> None:
        key = self.key(update)
        if key is None:
            async with lane or contextlib.nullcontext():
                await coroutine
            return
        async with self._locks.hold(key), lane or contextlib.nullcontext():  # the chat's turn first: in order
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: PTB waits for the updates in flight."""


async def give_way(processor: BaseUpdateProcessor) -> None:
    """`ChatOrdered.give_way` when the application uses it; nothing otherwise."""
    if isinstance(processor, ChatOrdered):
        await processor.give_way()
