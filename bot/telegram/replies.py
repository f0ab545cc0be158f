"""Sending and editing the bot's messages: long texts split under Telegram's limit, buttons on the last part,
an edit in place that tolerates a double tap and messages that cannot be edited."""

from __future__ import annotations

import html
import re
from collections import OrderedDict

from telegram import CallbackQuery, Message
from telegram.error import BadRequest

from bot.telegram.render import Reply, split_message

_LAST_SHOWN: OrderedDict[tuple[int, int], tuple[str, str]] = OrderedDict()
_LAST_SHOWN_SIZE = 2048


def query_message(query: CallbackQuery) -> Message | None:
    """The message whose button was pressed, when the bot can still reach it."""
    return query.message if isinstance(query.message, Message) else None


async def send(message: Message | None, reply: Reply) -> None:
    """Send a reply, split under Telegram's length limit; the buttons go with the last part."""
    if message is None:
        return
    parts = split_message(reply.text)
    for number, part in enumerate(parts, start=1):
        await message.reply_html(
            part, reply_markup=reply.markup() if number == len(parts) else None, disable_web_page_preview=True
        )


async def replace(query: CallbackQuery, reply: Reply) -> None:
    """Show `reply` in place of the message whose button was pressed: edited when it is one of the bot's
    text messages, sent as a new message otherwise (a photo, a document, or a message that is not ours)."""
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    ours = message.from_user is not None and message.from_user.id == query.get_bot().id
    if not ours or message.text is None or len(split_message(reply.text)) > 1:  # too long for one edit
        await send(message, reply)
        return
    # Telegram refuses an edit that changes nothing. With two quick taps the second query still carries the
    # old message, so what we last showed is remembered too.
    key, shown = (message.chat_id, message.message_id), (reply.text, repr(reply.buttons))
    if _shows(message, reply) or _LAST_SHOWN.get(key) == shown:
        return
    try:
        await message.edit_text(reply.text, reply_markup=reply.markup(), disable_web_page_preview=True)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    _LAST_SHOWN[key] = shown
    while len(_LAST_SHOWN) > _LAST_SHOWN_SIZE:
        _LAST_SHOWN.popitem(last=False)


def _shows(message: Message, reply: Reply) -> bool:
    """Whether `message` already shows `reply`: same visible text, same buttons."""
    visible = html.unescape(re.sub(r"<[^>]+>", "", reply.text))
    markup = reply.markup()
    current = message.reply_markup
    same_buttons = (current is None and markup is None) or (
        current is not None and markup is not None and current.inline_keyboard == markup.inline_keyboard
    )
    return message.text == visible and same_buttons
