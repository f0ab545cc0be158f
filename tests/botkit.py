"""Run the real application against the fake Bot API, for end-to-end tests."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from telegram.ext import Application

from bot.app import Services, open_services
from bot.config import Config, load_config
from bot.telegram.context import RENDERERS
from bot.telegram.delivery import DeliveryRuntime
from bot.testing import FakeTelegram, SentMessage
from bot.testing.harness import running_application
from tests.conftest import write_config

ADMIN = 1
COORDINATOR = 2


@dataclass
class BotEnv:
    fake: FakeTelegram
    services: Services
    app: Application  # type: ignore[type-arg]

    async def say(self, user_id: int, text: str, **kwargs: object) -> SentMessage:
        """The user sends `text`; returns the bot's first new message in that chat."""
        chat_id = int(kwargs.get("chat_id", user_id))  # type: ignore[call-overload]
        before = len(self.fake.sent_to(chat_id))
        await self.fake.user_sends(user_id, text, **kwargs)  # type: ignore[arg-type]
        await self.fake.wait_for(lambda: len(self.fake.sent_to(chat_id)) > before)
        return self.fake.sent_to(chat_id)[before]

    def delivery_runtime(self) -> DeliveryRuntime:
        """The outbox sender as `catabot run` builds it (start it with `background=False` to drain)."""
        services, fake = self.services, self.fake
        renderers = self.app.bot_data[RENDERERS]
        return DeliveryRuntime(services, fake.token, fake.api_root, services.config.delivery, renderers)

    async def drain(self) -> None:
        """Send everything due in the outbox now, through the fake Bot API."""
        runtime = self.delivery_runtime()
        await runtime.start(background=False)
        try:
            await runtime.sender.drain()
        finally:
            await runtime.stop()

    async def click(self, user_id: int, message: SentMessage, data: str) -> str:
        """Press a button; returns the text of answerCallbackQuery (empty if none)."""
        query_id = await self.fake.user_clicks(user_id, message, data)
        await self.fake.wait_for(lambda: self.fake.answered_callback(query_id) is not None)
        answered = self.fake.answered_callback(query_id)
        assert answered is not None
        return str(answered.params.get("text") or "")


def bot_config(tmp_path: Path, knowledge: Path, **overrides: object) -> Config:
    config = load_config(write_config(tmp_path, knowledge=knowledge), env={})
    database = dataclasses.replace(config.database, url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    return dataclasses.replace(config, admins=(ADMIN,), database=database, **overrides)


@asynccontextmanager
async def running_bot(
    config: Config, services: Services | None = None, fake: FakeTelegram | None = None
) -> AsyncIterator[BotEnv]:
    """The application polling a fake Bot API; pass `fake` to keep the same Telegram across a restart."""
    own = services is None
    services = services or await open_services(config, say=lambda _: None)
    try:
        async with AsyncExitStack() as stack:
            if fake is None:
                fake = await stack.enter_async_context(FakeTelegram())
            app = await stack.enter_async_context(running_application(fake, services))
            yield BotEnv(fake, services, app)
    finally:
        if own:
            await services.close()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    """Wait until an async condition (e.g. on the database) holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise TimeoutError("the condition did not come true in time")
        await asyncio.sleep(0.02)


def buttons(message: SentMessage) -> list[tuple[str, str]]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]
