"""The webhook server of `catabot run`: the secret is checked before the body is read, bodies are capped.

python-telegram-bot's own webhook server (tornado) reads the whole request body into memory before it
looks at the secret header, so one large POST from anyone costs its size in memory. This server (aiohttp)
answers a POST on `/<path>`:

* 403 when the `X-Telegram-Bot-Api-Secret-Token` header is not the configured secret, from the headers
  alone: the body is never read and the connection is closed;
* 413 when the body is larger than `max_body` bytes (declared by Content-Length, or found while reading a
  chunked body: reading stops at the cap);
* 400 when the body is not a JSON update; 200 once the update is queued for the application.

Telegram sends one update per request; updates are far below 1 MB (a message is at most 4,096 characters,
files come as ids), hence the default cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from dataclasses import dataclass

from aiohttp import web
from telegram import Update
from telegram.ext import Application

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1024 * 1024  # bytes


@dataclass(frozen=True)
class WebhookSettings:
    """Where to listen (`listen`:`port`, path `/<path>`), the public `url` given to Telegram, the `secret`
    Telegram sends back (1-256 characters A-Z a-z 0-9 _ -), the body cap in bytes."""

    listen: str
    port: int
    path: str
    url: str
    secret: str
    max_body: int = MAX_BODY


class WebhookServer:
    """An aiohttp server feeding `application.update_queue`; `start()` then `stop()`."""

    def __init__(self, application: Application, settings: WebhookSettings) -> None:  # type: ignore[type-arg]
        self.application = application
        self.settings = settings
        self._secret = settings.secret.encode()
        app = web.Application(client_max_size=settings.max_body)
        app.router.add_post(f"/{settings.path.strip('/')}", self._receive)
        # lingering_time=0: an unread body is not drained after the answer, the connection is closed
        self._runner = web.AppRunner(app, access_log=None, lingering_time=0)

    async def start(self) -> None:
        """Listen; `OSError` when the address is taken or not allowed."""
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.listen, self.settings.port).start()

    async def stop(self) -> None:
        await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.debug("webhook: a request without the right secret was refused")
            return _closing(web.Response(status=403))
        declared = request.content_length
        if declared is not None and declared > self.settings.max_body:
            return _closing(web.Response(status=413))
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _closing(web.Response(status=413))
        try:
            update = Update.de_json(json.loads(body), self.application.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            log.warning("webhook: a body that is not a Telegram update was refused")
            return _closing(web.Response(status=400))
        await self.application.update_queue.put(update)
        return web.Response()


def _closing(response: web.Response) -> web.Response:
    response.force_close()
    return response


async def start_webhook(
    application: Application,  # type: ignore[type-arg]
    settings: WebhookSettings,
    allowed_updates: list[str],
) -> WebhookServer:
    """Serve `settings` and register its URL and secret with Telegram (`setWebhook`)."""
    server = WebhookServer(application, settings)
    await server.start()
    try:
        await application.bot.set_webhook(
            settings.url, secret_token=settings.secret, allowed_updates=allowed_updates
        )
    except BaseException:
        await server.stop()
        raise
    return server


async def serve_webhook(
    application: Application,  # type: ignore[type-arg]
    settings: WebhookSettings,
    allowed_updates: list[str],
) -> None:
    """Run `application` on the webhook until SIGINT or SIGTERM, with the start and stop sequence of
    `Application.run_webhook` (initialize, post_init, start; stop, post_stop, shutdown, post_shutdown)."""
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stopped.set)
    try:
        await application.initialize()  # a rejected token raises here: post_shutdown still runs
        if application.post_init:
            await application.post_init(application)
        server = await start_webhook(application, settings, allowed_updates)
        try:
            await application.start()
            await stopped.wait()
            log.debug("Stop signal received: shutting down")
        finally:
            await server.stop()
            if application.running:
                await application.stop()
                if application.post_stop:
                    await application.post_stop(application)
    finally:
        await application.shutdown()
        if application.post_shutdown:
            await application.post_shutdown(application)
