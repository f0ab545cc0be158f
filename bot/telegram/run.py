"""`catabot run` (polling or webhook, token from the environment) and `catabot chat` (the local sandbox)."""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from bot.app import open_services
from bot.config import Config, ConfigError
from bot.messages import text
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.transport import DEFAULT_API_ROOT

if TYPE_CHECKING:  # the fake Bot API is for the sandbox only: `catabot run` with a token never loads it
    from bot.testing import FakeTelegram, SentMessage

log = logging.getLogger(__name__)
SANDBOX_USER = 1000
WEBHOOK_PATH = "telegram"


def run_bot(config: Config, token: str) -> None:
    """Serve Telegram until SIGINT/SIGTERM (then exit cleanly): webhook mode when configured, else polling."""
    api_root = os.environ.get("TELEGRAM_API_BASE") or DEFAULT_API_ROOT
    application = build_application(token, lambda: open_services(config), api_root=api_root)
    webhook = config.telegram
    if webhook.webhook_url:
        if not webhook.webhook_secret:
            raise ConfigError("telegram.webhook_secret: required when telegram.webhook_url is set")
        application.run_webhook(
            listen=webhook.webhook_listen,
            port=webhook.webhook_port,
            url_path=WEBHOOK_PATH,
            webhook_url=webhook.webhook_url,
            secret_token=webhook.webhook_secret,
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        application.run_polling(allowed_updates=ALLOWED_UPDATES)


def terminal_text(message: str) -> str:
    """Telegram HTML as a terminal shows it: links as « title (url) », other tags dropped."""
    message = re.sub(
        r'<a href="([^"]*)">(.*?)</a>', lambda m: f"{m.group(2)} ({html.unescape(m.group(1))})", message
    )
    return html.unescape(re.sub(r"</?[a-zA-Z][^>]*>", "", message))


class Sandbox:
    """A terminal chat with the real application, running against the in-process fake Bot API."""

    def __init__(self, config: Config, read: Callable[[str], str], out: TextIO, language: str = "fr") -> None:
        self.config = config
        self.read = read
        self.out = out
        self.language = language
        self.shown = 0
        self.buttons: list[tuple[SentMessage, str]] = []

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def run(self) -> None:
        from bot.testing import FakeTelegram
        from bot.testing.harness import running_application

        async with FakeTelegram() as fake:
            services = await open_services(self.config, say=lambda m: log.info("%s", m))
            try:
                async with running_application(fake, services, deliver=True):
                    self.say(text("sandbox_intro", self.language))
                    await self._converse(fake)
            finally:
                await services.close()
        self.say(text("sandbox_bye", self.language))

    async def _converse(self, fake: FakeTelegram) -> None:
        while True:
            try:
                line = (await asyncio.to_thread(self.read, text("sandbox_prompt", self.language))).strip()
            except EOFError:
                return
            if line in ("/quitter", "/quit"):
                return
            if not line:
                continue
            before = self._activity(fake)
            if line.isdigit() and 1 <= int(line) <= len(self.buttons):
                message, data = self.buttons[int(line) - 1]
                await fake.user_clicks(SANDBOX_USER, message, data)
            else:
                await fake.user_sends(SANDBOX_USER, line, first_name="Sandbox")
            await self._settle(fake, before)
            self._print_new(fake, before)

    @staticmethod
    def _activity(fake: FakeTelegram) -> int:
        return len(fake.calls)

    async def _settle(self, fake: FakeTelegram, before: int, quiet: float = 0.3, limit: float = 30.0) -> None:
        """Wait until the bot has replied and then stayed silent for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        start = last_change = loop.time()
        seen = before
        while loop.time() - start < limit:
            await asyncio.sleep(0.05)
            now_calls = self._activity(fake)
            if now_calls != seen:
                seen, last_change = now_calls, loop.time()
            replied = len(fake.sent_to(SANDBOX_USER)) > self.shown or any(
                c.method in ("answerCallbackQuery", "editMessageText") for c in fake.calls[before:]
            )
            if replied and loop.time() - last_change >= quiet:
                return

    def _print_new(self, fake: FakeTelegram, before: int) -> None:
        for call in fake.calls[before:]:
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self.say(f"[{call.params['text']}]")
        messages = fake.sent_to(SANDBOX_USER)
        for message in messages[self.shown :]:
            self.say("")
            if message.kind == "document":
                self.say(
                    text(
                        "sandbox_document",
                        self.language,
                        name=message.filename,
                        size=len(message.document or b""),
                    )
                )
            if message.source:
                self.say(terminal_text(message.source) if message.parse_mode == "HTML" else message.source)
            rows = (message.reply_markup or {}).get("inline_keyboard", [])
            choices = [(b["text"], b["callback_data"]) for row in rows for b in row if "callback_data" in b]
            if choices:
                self.buttons = [(message, data) for _, data in choices]
                self.say(text("sandbox_buttons", self.language))
                for number, (label, _) in enumerate(choices, start=1):
                    self.say(f"  {number}. {label}")
        self.shown = len(messages)


def run_sandbox(config: Config, read: Callable[[str], str] = input, out: TextIO | None = None) -> None:
    import sys

    asyncio.run(Sandbox(config, read, out or sys.stdout).run())
