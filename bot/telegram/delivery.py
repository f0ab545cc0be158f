"""The background delivery of the bot: the outbox sender over its own rate-limiter-free Bot."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from bot.config import DeliveryConfig
from bot.delivery.sender import Sender, SenderSettings
from bot.telegram.transport import TelegramTransport, build_bot

if TYPE_CHECKING:
    from bot.app import Services


class DeliveryRuntime:
    """Sends what the outbox holds (reminders, notices), paced, until stopped; a crash loses nothing."""

    def __init__(
        self,
        services: Services,
        token: str,
        api_root: str,
        config: DeliveryConfig,
        renderers: Sequence[Callable[[TelegramTransport, Services], None]] = (),
    ) -> None:
        """`renderers`: each feature's setup of how its deliveries look, as the features registered them in
        the application (`bot_data[context.RENDERERS]`, see `context.add_renderers`)."""
        self.bot = build_bot(token, api_root=api_root)
        self.transport = TelegramTransport(self.bot)
        for setup in renderers:
            setup(self.transport, services)
        settings = SenderSettings(
            rate=config.rate,
            per_chat_interval=config.per_chat_interval,
            group_per_minute=config.group_per_minute,
            max_attempts=config.max_attempts,
            stale_after=config.claim_timeout,
            max_hold=config.claim_timeout * 3 / 4,
        )

        async def blocked(chat_id: int) -> None:
            if chat_id > 0:
                await services.users.blocked(chat_id, True)

        self.sender = Sender(
            services.outbox, self.transport, settings, clock=services.users.clock, on_blocked=blocked
        )
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, background: bool = True) -> None:
        await self.bot.initialize()
        if background:
            self._task = asyncio.create_task(self.sender.run(self._stop), name="catabot-delivery")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self._task, timeout=30)
        await self.bot.shutdown()
