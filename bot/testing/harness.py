"""Run the real application against the fake Bot API: one start-up for the sandbox, the tests and the
benchmarks.

    async with FakeTelegram() as fake, running_application(fake, services) as application:
        await fake.user_sends(42, "/start")

The application is the one `catabot run` builds (`build_application`), with `post_init` run (scheduler
jobs, bot commands, the delivery runtime when `deliver`), then polling the fake, or serving a webhook on
127.0.0.1 when `webhook` is given (with the server of `catabot run`, bot.telegram.webhook). On exit it
stops in the reverse order; `services` stay open (the caller owns them).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Protocol

from telegram.ext import Application

from bot.app import Services
from bot.telegram.app import ALLOWED_UPDATES, build_application, stop_delivery
from bot.telegram.run import WEBHOOK_PATH
from bot.telegram.webhook import WebhookServer, WebhookSettings, start_webhook
from bot.testing.server import FakeTelegram


class BotApi(Protocol):
    """Where the bot finds the Bot API: a `FakeTelegram`, or one served by another process."""

    @property
    def token(self) -> str: ...

    @property
    def api_root(self) -> str: ...

    def instance_root(self, instance: str) -> str: ...


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a webhook server)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Webhook:
    """Where the application serves its webhook: http://127.0.0.1:{port}/telegram, checked with `secret`."""

    port: int = field(default_factory=free_port)
    secret: str = "s3cret"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{WEBHOOK_PATH}"


@asynccontextmanager
async def running_application(
    fake: FakeTelegram | BotApi,
    services: Services,
    *,
    deliver: bool = False,
    webhook: Webhook | None = None,
    poll_timeout: int = 1,
    instance: str | None = None,
) -> AsyncIterator[Application]:  # type: ignore[type-arg]
    """The started application, receiving `fake`'s updates.

    deliver: run the outbox sender (announcements, reminders) as `catabot run` does.
    webhook: serve updates on `webhook.url` (the fake POSTs them) instead of long polling.
    poll_timeout: seconds of one getUpdates long poll (the wait before a stop is noticed).
    instance: talk to the fake through `fake.instance_root(instance)`, one instance among several of
    the same bot (webhooks then rotate over the instances: see `bot.testing.updates`).
    The rate limiter is off: the fake is local and floods only when a test scripts it.
    """
    api_root = fake.api_root if instance is None else fake.instance_root(instance)
    application = build_application(
        fake.token, services, api_root=api_root, rate_limit=False, deliver=deliver
    )
    async with application:
        await application.post_init(application)  # type: ignore[misc]
        await application.start()
        updater = application.updater
        assert updater is not None
        server: WebhookServer | None = None
        if webhook is None:
            await updater.start_polling(
                poll_interval=0.0, timeout=poll_timeout, allowed_updates=ALLOWED_UPDATES
            )
        else:
            settings = WebhookSettings("127.0.0.1", webhook.port, WEBHOOK_PATH, webhook.url, webhook.secret)
            server = await start_webhook(application, settings, ALLOWED_UPDATES)
        try:
            yield application
        finally:
            if server is not None:
                await server.stop()
            else:
                await updater.stop()
            await application.stop()
            await stop_delivery(application)
