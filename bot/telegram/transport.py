"""The outbox's Telegram transport: render a delivery, send it with a plain PTB `Bot`, translate the errors.

    bot = build_bot(token)  # no AIORateLimiter, see below
    transport = TelegramTransport(bot)
    transport.register("reminder", render_reminder)  # async (Delivery) -> Outgoing, may raise Skip
    async with bot:
        await Sender(store, transport).run(stop)

Why no AIORateLimiter on this path: the `Sender` paces every message itself (global rate, one message per
second per private chat, 20 per minute per group; the limiter knows nothing of the private-chat limit) and
handles 429 itself: it pauses everything, keeps the delivery, and records the outcome in the outbox. Behind
an AIORateLimiter every request would be throttled twice, and with `max_retries` a RetryAfter would be
swallowed and retried inside PTB, holding the sender's only loop for that long, out of its control and its
accounting. `build_bot` therefore builds a plain `telegram.Bot` (which has no rate limiter at all), separate
from the Application's bot, and `TelegramTransport` refuses an `ExtBot` that has one. The Application's
interactive replies share Telegram's global budget (about 30 msg/s): the sender's default 25/s leaves room.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ExtBot
from telegram.warnings import PTBDeprecationWarning

from bot.delivery.outbox import Delivery
from bot.delivery.sender import Blocked, ChatMoved, DeliveryError, Rejected, RetryLater, Transient
from bot.telegram.http import AiohttpRequest

DEFAULT_API_ROOT = "https://api.telegram.org"
_URL_PREFIXES = ("https://", "http://", "tg://")


@dataclass
class Outgoing:
    """One message: text (HTML by default), optional inline buttons, optionally as a photo or document.

    `buttons` are rows of (label, data): data starting with https://, http:// or tg:// makes a URL button,
    anything else callback data (≤ 64 bytes). With `photo` (bytes, a file_id or a URL) or `document`
    ((file name, bytes)), `text` becomes the caption, which Telegram limits to 1024 characters (after
    entity parsing; a longer one is refused → FAILED).
    """

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    photo: bytes | str | None = None
    document: tuple[str, bytes] | str | None = None  # (file name, bytes), or a Telegram file_id
    parse_mode: str | None = "HTML"

    def __post_init__(self) -> None:
        if self.photo is not None and self.document is not None:
            raise ValueError("a message carries a photo or a document, not both")

    def markup(self) -> InlineKeyboardMarkup | None:
        rows = [
            [
                InlineKeyboardButton(label, url=data)
                if data.startswith(_URL_PREFIXES)
                else InlineKeyboardButton(label, callback_data=data)
                for label, data in row
            ]
            for row in self.buttons
            if row
        ]
        return InlineKeyboardMarkup(rows) if rows else None


Renderer = Callable[[Delivery], Awaitable[Outgoing]]


def build_bot(token: str, *, api_root: str = DEFAULT_API_ROOT, timeout: float = 10.0) -> Bot:
    """A plain Bot for the sender: no rate limiter, its own small connection pool (sends are sequential)."""
    root = api_root.rstrip("/")
    request = AiohttpRequest(
        4,
        connect_timeout=timeout,
        read_timeout=timeout,
        write_timeout=timeout,
        media_write_timeout=max(timeout, 20.0),
        pool_timeout=timeout,
    )
    return Bot(token, base_url=f"{root}/bot", base_file_url=f"{root}/file/bot", request=request)


def retry_after_seconds(error: RetryAfter) -> float:
    """`retry_after` is an int, or a timedelta with PTB_TIMEDELTA=1 (the future default): accept both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, dt.timedelta) else float(value)


def translate_error(error: TelegramError, token: str = "") -> DeliveryError | TelegramError:
    """The sender's view of a PTB error; errors with no meaning for delivery are returned unchanged."""
    message = error.message.replace(token, "<token>") if token else error.message
    if isinstance(error, RetryAfter):
        return RetryLater(retry_after_seconds(error))
    if isinstance(error, Forbidden):
        return Blocked(message)
    if isinstance(error, ChatMigrated):
        return ChatMoved(error.new_chat_id)
    if isinstance(error, BadRequest):  # before NetworkError: BadRequest subclasses it
        return Rejected(message)
    if isinstance(error, NetworkError):  # TimedOut included
        return Transient(f"{type(error).__name__}: {message}")
    return error  # InvalidToken, Conflict, EndPointNotFound…: the sender fails it with the type name


class TelegramTransport:
    """`Transport` over a PTB Bot, with one renderer per delivery kind."""

    def __init__(self, bot: Bot) -> None:
        if isinstance(bot, ExtBot) and bot.rate_limiter is not None:
            raise ValueError(
                "the outbox sender paces itself: give it a Bot without AIORateLimiter (build_bot)"
            )
        self.bot = bot
        self._renderers: dict[str, Renderer] = {}

    def register(self, kind: str, renderer: Renderer) -> None:
        self._renderers[kind] = renderer

    async def send(self, delivery: Delivery) -> None:
        renderer = self._renderers.get(delivery.kind)
        if renderer is None:
            raise Rejected(f"no renderer for {delivery.kind!r}")
        outgoing = await renderer(delivery)  # Skip and the renderer's own errors go to the sender as they are
        try:
            await self._send(delivery.chat_id, outgoing)
        except TelegramError as error:
            translated = translate_error(error, self.bot.token)
            if translated is error:
                raise
            raise translated from error

    async def _send(self, chat_id: int, out: Outgoing) -> None:
        markup = out.markup()
        if out.photo is not None:
            await self.bot.send_photo(
                chat_id, out.photo, caption=out.text or None, parse_mode=out.parse_mode, reply_markup=markup
            )
        elif out.document is not None:
            name, data = out.document if isinstance(out.document, tuple) else (None, out.document)
            await self.bot.send_document(
                chat_id,
                data,
                filename=name,
                caption=out.text or None,
                parse_mode=out.parse_mode,
                reply_markup=markup,
            )
        else:
            await self.bot.send_message(chat_id, out.text, parse_mode=out.parse_mode, reply_markup=markup)
