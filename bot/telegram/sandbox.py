"""`catabot chat`: the real application in a terminal, against the in-process fake Bot API.

What a Telegram client would show is printed: new messages, edited ones again (marked as updated), button
notices, and files (photos and documents are saved to a folder and their path printed). A number picks a
button of the last keyboard shown; a number that matches no button gets one polite line. Sandbox commands,
never sent to the bot: `/personne nouveau|membre|coordinateur` switches the simulated person (each has
its own chat and role), `/attendre [secondes]` lets background work (announcements, reminders) happen,
`/quitter` leaves. Lines read from a file (`catabot chat < session.txt`) are echoed after the prompt, and
lines starting with `#` are comments, so a replayed script reads as a transcript.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from telegram.ext import Application

from bot.app import Services, open_services
from bot.config import Config
from bot.diagnosis.cli import parse_number
from bot.messages import text
from bot.users import Role

if TYPE_CHECKING:  # the fake Bot API is for the sandbox only: `catabot run` with a token never loads it
    from bot.testing import FakeTelegram, SentMessage

log = logging.getLogger(__name__)
SANDBOX_USER = 1000
MAX_WAIT = 30.0  # seconds `/attendre` may wait
QUIET_MAX = 3.0  # seconds without any request after which the bot is taken as done, whatever still runs


@dataclass(frozen=True)
class Persona:
    """A simulated person: their Telegram id and the role stored for them (None: a newcomer)."""

    key: str
    user_id: int
    role: Role | None


PERSONAS = {
    "nouveau": Persona("nouveau", SANDBOX_USER, None),
    "membre": Persona("membre", SANDBOX_USER + 1, Role.MEMBER),
    "coordinateur": Persona("coordinateur", SANDBOX_USER + 2, Role.COORDINATOR),
}
ALIASES = {"newcomer": "nouveau", "member": "membre", "coordinator": "coordinateur"}


def terminal_text(message: str) -> str:
    """Telegram HTML as a terminal shows it: links as « title (url) », other tags dropped."""
    message = re.sub(
        r'<a href="([^"]*)">(.*?)</a>', lambda m: f"{m.group(2)} ({html.unescape(m.group(1))})", message
    )
    return html.unescape(re.sub(r"</?[a-zA-Z][^>]*>", "", message))


def _body(message: SentMessage) -> str:
    if message.kind == "text" and message.source is not None:
        return terminal_text(message.source) if message.parse_mode == "HTML" else message.source
    return message.text or message.caption or ""


def _requests(fake: FakeTelegram, upto: int | None = None) -> int:
    """The bot's requests to the fake among its first `upto` calls, long polls left out."""
    return sum(c.method != "getUpdates" for c in fake.calls[:upto])


def _choices(message: SentMessage) -> list[tuple[str, str]]:
    return [(b["text"], b["callback_data"]) for b in message.buttons if "callback_data" in b]


class Sandbox:
    """One terminal conversation; `read(prompt)` gives each line (EOFError ends it), `out` gets the chat."""

    def __init__(
        self,
        config: Config,
        read: Callable[[str], str],
        out: TextIO,
        *,
        language: str = "fr",
        files: Path | None = None,
        echo: bool = False,
        quiet: float = 0.3,
    ) -> None:
        self.config = config
        self.read = read
        self.out = out
        self.language = language
        self.files = files or config.path("data/sandbox")
        self.echo = echo
        self.quiet = quiet
        self.persona = PERSONAS["nouveau"]
        self.shown: dict[tuple[int, int], tuple[str, list[tuple[str, str]]]] = {}
        self.buttons: list[tuple[SentMessage, str]] = []
        self.application: Application | None = None  # type: ignore[type-arg]

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def _t(self, key: str, **values: object) -> str:
        return text(key, self.language, **values)

    async def run(self) -> None:
        from bot.testing import FakeTelegram
        from bot.testing.harness import running_application

        async with FakeTelegram() as fake:
            # a reused database may hold what earlier runs left for any persona (an answer, a reminder):
            # each persona has started the bot, so the fake delivers to them as Telegram would
            fake.add_private_chats(p.user_id for p in PERSONAS.values())
            services = await open_services(self.config, say=lambda m: log.info("%s", m))
            try:
                async with running_application(fake, services, deliver=True) as application:
                    self.application = application
                    self.say(self._t("sandbox_intro"))
                    await self._converse(fake, services)
            finally:
                await services.close()
        self.say(self._t("sandbox_bye"))

    async def _next_line(self) -> str | None:
        prompt = self._t("sandbox_prompt", persona=self._t(f"sandbox_persona_{self.persona.key}"))
        while True:
            try:
                line = await asyncio.to_thread(self.read, prompt)
            except (EOFError, KeyboardInterrupt):
                return None
            except UnicodeDecodeError:
                line = "\ufffd"
            if self.echo and line.strip():
                self.say(("" if line.lstrip().startswith("#") else prompt) + line.strip())
            if not line.lstrip().startswith("#"):
                return line.strip()

    async def _converse(self, fake: FakeTelegram, services: Services) -> None:
        while (line := await self._next_line()) is not None:
            if line in ("/quitter", "/quit"):
                return
            if not line:
                continue
            before = len(fake.calls)
            command, _, rest = line.partition(" ")
            if command in ("/personne", "/persona"):
                await self._switch(services, rest.strip().lower())
                self._print_chat(fake)
                continue
            if command in ("/attendre", "/wait"):
                seconds = parse_number(rest) if rest.strip() else 2
                await asyncio.sleep(min(float(seconds if seconds is not None else 2), MAX_WAIT))
                self._print_chat(fake)
                continue
            number = parse_number(line)
            if number is not None:
                if not await self._click(fake, number):
                    continue
            else:
                await fake.user_sends(self.persona.user_id, line, first_name="Sandbox")
            await self._settle(fake, before)
            self._print_notices(fake, before)
            self._print_chat(fake)

    async def _click(self, fake: FakeTelegram, number: int) -> bool:
        """Press button `number`; False (after one polite line) when no such button is shown."""
        if not 1 <= number <= len(self.buttons):
            if self.buttons:
                self.say(self._t("sandbox_no_such_button", number=number, count=len(self.buttons)))
            else:
                self.say(self._t("sandbox_no_buttons"))
            return False
        message, data = self.buttons[number - 1]
        if message.deleted or data not in message.callback_data:
            # The keyboard changed since it was printed: Telegram clients still send the old button.
            await fake.user_sends_raw_callback(
                self.persona.user_id, message.message_id, message.chat_id, data
            )
        else:
            await fake.user_clicks(self.persona.user_id, message, data, first_name="Sandbox")
        return True

    async def _switch(self, services: Services, wanted: str) -> None:
        key = ALIASES.get(wanted, wanted)
        persona = PERSONAS.get(key)
        if persona is None:
            self.say(self._t("sandbox_persona_usage", persona=self._t(f"sandbox_persona_{self.persona.key}")))
            return
        if persona.role is not None:
            await services.users.grant(persona.user_id, persona.role)  # the sandbox plays the admin
        self.persona, self.buttons = persona, []
        self.say(self._t("sandbox_persona_now", persona=self._t(f"sandbox_persona_{persona.key}")))

    async def _settle(self, fake: FakeTelegram, before: int, limit: float = 30.0) -> None:
        """Wait until the bot has answered and gone quiet: no request for `quiet` seconds and no update still
        being handled (a chart being drawn), or no request at all for `QUIET_MAX` seconds."""
        loop = asyncio.get_running_loop()
        queue = self.application.update_queue if self.application is not None else None
        joined = asyncio.ensure_future(queue.join()) if queue is not None else None
        start = last_change = loop.time()
        seen = before = _requests(fake, before)
        try:
            while loop.time() - start < limit:
                await asyncio.sleep(0.05)
                if (now := _requests(fake)) != seen:
                    seen, last_change = now, loop.time()
                silent = loop.time() - last_change
                handling = any(":process_" in t.get_name() and not t.done() for t in asyncio.all_tasks())
                if joined is not None and queue is not None:
                    handling = handling or not joined.done()
                    if joined.done():  # updates fetched later are waited for too
                        joined = asyncio.ensure_future(queue.join())
                if seen > before and ((silent >= self.quiet and not handling) or silent >= QUIET_MAX):
                    return
        finally:
            if joined is not None:
                joined.cancel()

    def _print_notices(self, fake: FakeTelegram, before: int) -> None:
        for call in fake.calls[before:]:
            if call.method == "answerCallbackQuery" and call.params.get("text"):
                self.say(f"[{call.params['text']}]")

    def _print_chat(self, fake: FakeTelegram) -> None:
        """Print the current person's messages that are new, or whose text or buttons changed."""
        for message in fake.sent_to(self.persona.user_id):
            key = (message.chat_id, message.message_id)
            body, choices = _body(message), _choices(message)
            if message.deleted or self.shown.get(key) == (body, choices):
                continue
            earlier = self.shown.get(key)
            self.shown[key] = (body, choices)
            if not choices:
                self.buttons = [b for b in self.buttons if b[0] is not message]
                if earlier is not None and earlier[0] == body:
                    continue  # only its keyboard went away
            self.say()
            if earlier is not None:
                self.say(self._t("sandbox_updated"))
            if message.document is not None:
                self.say(self._t("sandbox_document", path=self._save(message)))
            if body:
                self.say(body)
            if choices:
                self.buttons = [(message, data) for _, data in choices]
                self.say(self._t("sandbox_buttons"))
                for number, (label, _) in enumerate(choices, start=1):
                    self.say(f"  {number}. {label}")

    def _save(self, message: SentMessage) -> str:
        """Save a photo or document in the files folder; its path (relative to the working folder)."""
        data = message.document or b""
        name = message.filename or ("photo.png" if data.startswith(b"\x89PNG") else "photo.jpg")
        self.files.mkdir(parents=True, exist_ok=True)
        path = self.files / f"{message.chat_id}-{message.message_id:03d}-{Path(name).name}"
        path.write_bytes(data)
        try:
            return str(path.resolve().relative_to(Path.cwd()))
        except ValueError:
            return str(path)


def _stdin_line(prompt: str) -> str:
    import sys

    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def run_sandbox(config: Config, read: Callable[[str], str] | None = None, out: TextIO | None = None) -> None:
    """The sandbox on the terminal; when standard input is a file, each line is echoed as if typed."""
    import sys

    piped = read is None and not sys.stdin.isatty()
    reader = _stdin_line if piped else (read or input)
    asyncio.run(Sandbox(config, reader, out or sys.stdout, echo=piped).run())
