"""How the fake Bot API reads and checks a request: parameters, keyboards, entities, formatted text.

Limits and wording follow the Bot API (https://core.telegram.org/bots/api) and the errors Telegram answers.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.testing.entities import PARSERS, EntityParseError, JsonDict
from bot.testing.records import Call, Upload, bad

# Fields PTB sends as JSON strings inside form bodies; every other field stays a plain string.
JSON_FIELDS = frozenset(
    [
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "allowed_updates",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "menu_button",
    ]
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same "
    "as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    [
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    ]
)
BUTTON_ACTIONS = [
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "web_app",
]
TOKEN_RE = re.compile(r"\d+:[\w-]+")
SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


class Params:
    """The decoded parameters of one request, with Telegram-like coercion."""

    def __init__(self, data: JsonDict, request: web.Request, call: Call) -> None:
        self.data, self.request, self.call = data, request, call

    def get(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str) -> str | None:
        value = self.data.get(name)
        return None if value is None else value if isinstance(value, str) else json.dumps(value)

    def number(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        try:
            return int(float(value)) if isinstance(value, float | str) else int(value)
        except (TypeError, ValueError):
            raise bad(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return self.data.get(name) in (True, 1, "true", "True", "1")

    @property
    def instance(self) -> str:
        """The bot instance that sent the request: the path prefix of its API root ("" for none)."""
        return str(self.request.match_info.get("instance", ""))


async def read_params(request: web.Request) -> JsonDict:
    """The parameters of a request (query string, JSON, form or multipart body), JSON fields decoded."""
    data: JsonDict = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad("can't parse JSON object")
            data.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    data[key] = Upload(value.filename, value.file.read(), value.content_type)
                else:
                    data[key] = value.decode() if isinstance(value, bytes) else value
    for key in JSON_FIELDS & data.keys():
        if isinstance(data[key], str):
            try:
                data[key] = json.loads(data[key])
            except ValueError:
                raise bad(f"can't parse {key.replace('_', ' ')} JSON object") from None
    return data


def valid_url(url: Any) -> bool:
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme in ("tg", "ton"):
        return True
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and ("." in host or host == "localhost")


def validate_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str) or not button["text"].strip():
        raise bad("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in BUTTON_ACTIONS if button.get(key) is not None]
    if not actions:
        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad(f"can't parse inline keyboard button: only one of {', '.join(actions)} can be used")
    data = button.get("callback_data")
    if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode()) <= 64):
        raise bad("BUTTON_DATA_INVALID")
    if "url" in actions and not valid_url(button["url"]):
        raise bad("BUTTON_URL_INVALID")


def validate_markup(markup: Any, *, inline_only: bool = False) -> JsonDict | None:
    """Check a reply_markup object like Telegram; return it (None when absent)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad("can't parse inline keyboard markup: inline_keyboard must be an Array of Arrays")
        if any(len(row) > 8 for row in rows) or sum(map(len, rows)) > 100:
            raise bad("BUTTONS_TOO_MUCH")
        for row in rows:
            for button in row:
                validate_button(button)
        return markup
    if inline_only:
        raise bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad("can't parse keyboard markup: keyboard must be an Array of Arrays")
        for button in (b for row in rows for b in row):
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str) or not text:
                raise bad("can't parse keyboard button: Text must be non-empty")
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise bad("can't parse reply keyboard markup JSON object")
    return markup


def check_entities(value: Any) -> list[JsonDict]:
    if not isinstance(value, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        and e["offset"] >= 0
        and e["length"] > 0
        for e in value
    ):
        raise bad("can't parse entities: each entity needs a type, an offset and a positive length")
    return value


def formatted_text(p: Params, key: str, entities_key: str, limit: int) -> tuple[str | None, list[JsonDict]]:
    """The text (key "text") or caption of a request after entity parsing, checked against `limit`
    characters; (None, []) for an absent caption. Raises ApiError as Telegram answers."""
    raw = p.text(key)
    is_text = key == "text"
    if not raw:
        if is_text:
            raise bad("message text is empty")
        return None, []
    mode = (p.text("parse_mode") or "").lower()
    if p.get(entities_key) is not None:
        text, entities = raw, check_entities(p.get(entities_key))
    elif mode:
        if mode not in PARSERS:
            raise bad("unsupported parse_mode")
        try:
            text, entities = PARSERS[mode](raw)
        except EntityParseError as error:
            raise bad(f"can't parse entities: {error}") from None
    else:
        text, entities = raw, []
    if not text.strip():
        if is_text:
            raise bad("message text is empty")
        return None, []
    if len(text) > limit:
        raise bad("message is too long" if is_text else "message caption is too long")
    return text, entities
