"""An in-process fake of the Telegram Bot API, as strict as Telegram where it matters.

`FakeTelegram` serves the Bot API over real HTTP on 127.0.0.1 (a free port), so the real
python-telegram-bot client, its request layer and its error mapping are exercised unchanged:

    async with FakeTelegram() as tg:
        app = ApplicationBuilder().token(tg.token).base_url(tg.base_url).base_file_url(tg.base_file_url)...
        ...
        await tg.user_sends(42, "/start")
        await tg.wait_for(lambda: tg.sent_to(42))

It records every call (`calls`, `invalid_requests`), keeps what the bot sent per chat (`sent_to`) and
plays the user side (`user_sends`, `user_clicks`, `user_blocks`...). Updates go to `getUpdates` long
polls, or are POSTed to the URL given to `setWebhook`. Errors use Telegram's status codes and wording.
Message lengths are counted in characters (code points) after entity parsing. HTML is a little stricter
than Telegram: a raw "&" that does not start a supported entity is refused, as the Bot API docs require.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import ClientError, ClientSession, ClientTimeout, web

JsonDict = dict[str, Any]

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
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
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
_BUTTON_ACTIONS = [
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
_TOKEN_RE = re.compile(r"\d+:[\w-]+")
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM")


# --------------------------------------------------------------------------- entity parsing


class EntityParseError(ValueError):
    """Text that Telegram would refuse with "can't parse entities: <message>"."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _at(src: str, i: int) -> str:
    return f"byte offset {len(src[:i].encode())}"


class _Out:
    """Plain text under construction plus the entities found so far (UTF-16 offsets)."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[JsonDict] = []

    def emit(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def add(self, kind: str, start: int, **extra: Any) -> None:
        if self.pos > start:  # Telegram drops empty entities
            self.entities.append({"type": kind, "offset": start, "length": self.pos - start, **extra})

    def result(self) -> tuple[str, list[JsonDict]]:
        return "".join(self.parts), sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))


_HTML_KINDS = {  # supported tag -> entity type
    tag: kind
    for kind, tags in [
        ("bold", "b strong"),
        ("italic", "i em"),
        ("underline", "u ins"),
        ("strikethrough", "s strike del"),
        ("spoiler", "span tg-spoiler"),
        ("text_link", "a"),
        ("code", "code"),
        ("pre", "pre"),
        ("blockquote", "blockquote"),
        ("custom_emoji", "tg-emoji"),
    ]
    for tag in tags.split()
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_CHAR_REF_RE = re.compile(r"&(?:#([0-9]{1,8})|#[xX]([0-9a-fA-F]{1,8})|([A-Za-z][A-Za-z0-9]{0,31}));")
_TAG_NAME_RE = re.compile(r"</?([^\s<>/]*)")
_ATTR = r"""([A-Za-z_:][-\w:.]*)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s"'=<>`]+))?"""
_START_TAG_RE = re.compile(rf"<([A-Za-z][A-Za-z0-9-]*)((?:\s+{_ATTR})*)\s*>")
_ATTR_RE = re.compile(_ATTR)
_END_TAG_RE = re.compile(r"</([A-Za-z][A-Za-z0-9-]*)\s*>")


def _char_ref(src: str, i: int) -> tuple[str, int]:
    match = _CHAR_REF_RE.match(src, i)
    if match is None:
        raise EntityParseError(f'Character "&" must be escaped as "&amp;" at {_at(src, i)}')
    decimal, hexadecimal, name = match.groups()
    if name is not None:
        if name not in _NAMED_ENTITIES:
            raise EntityParseError(f'Unsupported HTML entity "&{name};" at {_at(src, i)}')
        return _NAMED_ENTITIES[name], match.end()
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if not 0 < code <= 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise EntityParseError(f"Invalid numeric character reference at {_at(src, i)}")
    return chr(code), match.end()


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            char, i = _char_ref(value, i)
        else:
            char, i = value[i], i + 1
        out.append(char)
    return "".join(out)


def parse_html(src: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram's HTML style into (plain text, entities); raise EntityParseError like Telegram."""
    out = _Out()
    stack: list[tuple[str, int, dict[str, str]]] = []  # open tags: name, start offset, attributes
    i = 0
    while i < len(src):
        if src[i] == "&":
            char, i = _char_ref(src, i)
            out.emit(char)
            continue
        if src[i] != "<":
            out.emit(src[i])
            i += 1
            continue
        name_match = _TAG_NAME_RE.match(src, i)
        name = name_match.group(1).lower() if name_match else ""
        if src.startswith("</", i):
            end = _END_TAG_RE.match(src, i)
            if end is None:
                raise EntityParseError(f"Unclosed end tag at {_at(src, i)}")
            if not stack:
                raise EntityParseError(f"Unexpected end tag at {_at(src, i)}")
            open_name, start, open_attrs = stack.pop()
            if end.group(1).lower() != open_name:
                found = end.group(1)
                raise EntityParseError(
                    f'Unmatched end tag at {_at(src, i)}, expected "</{open_name}>", found "</{found}>"'
                )
            _close_tag(out, open_name, start, open_attrs, stack)
            i = end.end()
            continue
        if name not in _HTML_KINDS:
            raise EntityParseError(f'Unsupported start tag "{name}" at {_at(src, i)}')
        tag = _START_TAG_RE.match(src, i)
        if tag is None:
            raise EntityParseError(f"Unclosed start tag at {_at(src, i)}")
        attrs: dict[str, str] = {}
        for key, raw in _ATTR_RE.findall(tag.group(2)):
            attrs[key.lower()] = _unescape(raw[1:-1] if raw[:1] in ('"', "'") else raw)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')
        stack.append((name, out.pos, attrs))
        i = tag.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    return out.result()


def _close_tag(
    out: _Out, name: str, start: int, attrs: dict[str, str], stack: list[tuple[str, int, dict[str, str]]]
) -> None:
    kind, extra = _HTML_KINDS[name], dict[str, str]()
    if name == "a":
        if not attrs.get("href"):
            return
        extra["url"] = attrs["href"]
    elif name == "code" and stack and stack[-1][0] == "pre" and attrs.get("class", "")[:9] == "language-":
        stack[-1][2]["\0language"] = attrs["class"][9:]
        return
    elif name == "pre" and attrs.get("\0language"):
        extra["language"] = attrs["\0language"]
    elif name == "blockquote" and "expandable" in attrs:
        kind = "expandable_blockquote"
    elif name == "tg-emoji":
        extra["custom_emoji_id"] = attrs["emoji-id"]
    out.add(kind, start, **extra)


_MD2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD2_KINDS = {
    "*": "bold",
    "_": "italic",
    "__": "underline",
    "~": "strikethrough",
    "||": "spoiler",
    "[": "text_link",
    "![": "custom_emoji",
}
_MD2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def _reserved(char: str) -> str:
    return f"Character '{char}' is reserved and must be escaped with the preceding '\\'"


def _md2_until(src: str, i: int, stop: str) -> tuple[str, int] | None:
    """Read escaped text from i up to `stop`; return (text, index after stop) or None if never closed."""
    chars = []
    while i < len(src) and not src.startswith(stop, i):
        if src[i] == "\\" and i + 1 < len(src):
            i += 1
        chars.append(src[i])
        i += 1
    return ("".join(chars), i + len(stop)) if i < len(src) else None


def parse_markdown_v2(src: str) -> tuple[str, list[JsonDict]]:
    """Parse MarkdownV2; unescaped reserved characters and unclosed entities raise EntityParseError."""
    out = _Out()
    stack: list[tuple[str, int, int]] = []  # open markers: marker, start offset, source index
    i = 0
    while i < len(src):
        char = src[i]
        if char == "\\" and i + 1 < len(src) and 0 < ord(src[i + 1]) < 127:
            out.emit(src[i + 1])
            i += 2
            continue
        if char not in _MD2_RESERVED:
            out.emit(char)
            i += 1
            continue
        line_start = i == 0 or src[i - 1] == "\n"
        if line_start and (char == ">" or src.startswith("**>", i)):  # block quotation marker
            i += 1 if char == ">" else 3
        elif char == "`":
            fence = "```" if src.startswith("```", i) else "`"
            read = _md2_until(src, i + len(fence), fence)
            if read is None:
                kind = "Pre" if fence == "```" else "Code"
                raise EntityParseError(f"Can't find end of {kind} entity at {_at(src, i)}")
            text, i_next = read
            start, extra = out.pos, dict[str, str]()
            if fence == "```":
                first, newline, rest = text.partition("\n")
                if newline and first and not any(c.isspace() for c in first):
                    text, extra = rest, {"language": first}
            out.emit(text)
            out.add("pre" if fence == "```" else "code", start, **extra)
            i = i_next
        elif char == "[" or src.startswith("![", i):
            marker = "[" if char == "[" else "!["
            stack.append((marker, out.pos, i))
            i += len(marker)
        elif char == "]" and stack and stack[-1][0] in ("[", "!["):
            marker, start, _ = stack.pop()
            url, i = "", i + 1
            if src.startswith("(", i):
                read = _md2_until(src, i + 1, ")")
                if read is None:
                    raise EntityParseError(f"Can't find end of a URL at {_at(src, i)}")
                url, i = read
            if marker == "![":
                if not url.startswith("tg://emoji?id="):
                    raise EntityParseError("Custom emoji URL must have an emoji identifier")
                out.add("custom_emoji", start, custom_emoji_id=url.removeprefix("tg://emoji?id="))
            elif url:
                out.add("text_link", start, url=url)
        elif char in "*_~|":
            marker = "__" if src.startswith("__", i) else "||" if src.startswith("||", i) else char
            if marker == "__" and stack and stack[-1][0] == "_":
                marker = "_"
            if marker == "|":
                raise EntityParseError(_reserved("|"))
            if stack and stack[-1][0] == marker:
                out.add(_MD2_KINDS[marker], stack.pop()[1])
            else:
                stack.append((marker, out.pos, i))
            i += len(marker)
        else:
            raise EntityParseError(_reserved(char))
    if stack:
        marker, _, index = stack[-1]
        name = _MD2_NAMES[_MD2_KINDS[marker]]
        raise EntityParseError(f"Can't find end of {name} entity at {_at(src, index)}")
    return out.result()


def parse_markdown(src: str) -> tuple[str, list[JsonDict]]:
    """Parse the legacy Markdown style (bold, italic, code, pre, links)."""
    out, i = _Out(), 0
    while i < len(src):
        char = src[i]
        if char == "\\" and src[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.emit(src[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.emit(char)
            i += 1
            continue
        unclosed = EntityParseError(f"Can't find end of the entity starting at {_at(src, i)}")
        start = out.pos
        if char == "[":
            close = src.find("]", i + 1)
            if close < 0:
                raise unclosed
            out.emit(src[i + 1 : close])
            i = close + 1
            if src.startswith("(", i):
                end = src.find(")", i)
                if end < 0:
                    raise unclosed
                out.add("text_link", start, url=src[i + 1 : end])
                i = end + 1
            continue
        fence = "```" if src.startswith("```", i) else char
        end = src.find(fence, i + len(fence))
        if end < 0:
            raise unclosed
        out.emit(src[i + len(fence) : end])
        out.add({"*": "bold", "_": "italic", "`": "code", "```": "pre"}[fence], start)
        i = end + len(fence)
    return out.result()


PARSERS: dict[str, Callable[[str], tuple[str, list[JsonDict]]]] = {
    "html": parse_html,
    "markdownv2": parse_markdown_v2,
    "markdown": parse_markdown,
}


# --------------------------------------------------------------------------- recorded objects


@dataclass
class Call:
    """One request to the fake. `time` is time.monotonic() at arrival; calls are listed as they finish."""

    method: str
    params: JsonDict
    status: int = 200
    error: str | None = None
    time: float = 0.0


@dataclass
class Upload:
    """A file part of a multipart request, as found in Call.params."""

    filename: str | None
    data: bytes
    content_type: str | None


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    kind: str  # "photo" | "document" | "sticker"
    data: bytes
    filename: str | None
    mime_type: str | None
    file_path: str
    width: int = 0
    height: int = 0


@dataclass
class Edit:
    """One successful edit: the visible state before and after (text, caption, entities, reply_markup)."""

    method: str
    before: JsonDict
    after: JsonDict
    time: float


@dataclass
class SentMessage:
    """A message the bot sent, with later edits applied. `document` holds the bytes of photos too."""

    chat_id: int
    message_id: int
    kind: Literal["text", "photo", "document"]
    date: int
    text: str | None = None
    caption: str | None = None
    entities: list[JsonDict] = field(default_factory=list)
    reply_markup: JsonDict | None = None
    source: str | None = None  # text or caption as sent, before entity parsing
    parse_mode: str | None = None
    document: bytes | None = None
    filename: str | None = None
    file_id: str | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    edits: list[Edit] = field(default_factory=list)

    @property
    def buttons(self) -> list[JsonDict]:
        """The inline keyboard buttons, row after row."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        return [button for row in rows for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]

    def state(self) -> JsonDict:
        return {
            "text": self.text,
            "caption": self.caption,
            "entities": self.entities,
            "reply_markup": _inline(self.reply_markup),
        }


@dataclass
class WebhookDelivery:
    update_id: int
    status: int  # 0 when the connection failed
    error: str | None


class ApiError(Exception):
    """An error answer. `scripted` ones (flood, blocked) are expected and not listed in invalid_requests."""

    def __init__(
        self, status: int, description: str, parameters: JsonDict | None = None, *, scripted: bool = False
    ) -> None:
        super().__init__(description)
        self.status, self.description = status, description
        self.parameters, self.scripted = parameters, scripted


def _bad(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


class _Params:
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
            raise _bad(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        return self.data.get(name) in (True, 1, "true", "True", "1")


def _valid_url(url: Any) -> bool:
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme in ("tg", "ton"):
        return True
    host = parts.hostname or ""
    return parts.scheme in ("http", "https") and ("." in host or host == "localhost")


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    if not isinstance(button.get("text"), str) or not button["text"].strip():
        raise _bad("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in _BUTTON_ACTIONS if button.get(key) is not None]
    if not actions:
        raise _bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _bad(f"can't parse inline keyboard button: only one of {', '.join(actions)} can be used")
    data = button.get("callback_data")
    if data is not None and (not isinstance(data, str) or not 1 <= len(data.encode()) <= 64):
        raise _bad("BUTTON_DATA_INVALID")
    if "url" in actions and not _valid_url(button["url"]):
        raise _bad("BUTTON_URL_INVALID")


def validate_markup(markup: Any, *, inline_only: bool = False) -> JsonDict | None:
    """Check a reply_markup object like Telegram; return it (None when absent)."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse inline keyboard markup: inline_keyboard must be an Array of Arrays")
        if any(len(row) > 8 for row in rows) or sum(map(len, rows)) > 100:
            raise _bad("BUTTONS_TOO_MUCH")
        for row in rows:
            for button in row:
                _validate_button(button)
        return markup
    if inline_only:
        raise _bad("inline keyboard expected")
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _bad("can't parse keyboard markup: keyboard must be an Array of Arrays")
        for button in (b for row in rows for b in row):
            text = button.get("text") if isinstance(button, dict) else button
            if not isinstance(text, str) or not text:
                raise _bad("can't parse keyboard button: Text must be non-empty")
    elif markup.get("remove_keyboard") is not True and markup.get("force_reply") is not True:
        raise _bad("can't parse reply keyboard markup JSON object")
    return markup


def _inline(markup: JsonDict | None) -> JsonDict | None:
    """The markup as Telegram keeps it on a message: an inline keyboard with buttons, else nothing."""
    rows = (markup or {}).get("inline_keyboard") or []
    return markup if any(rows) else None


def _check_entities(value: Any) -> list[JsonDict]:
    if not isinstance(value, list) or not all(
        isinstance(e, dict)
        and isinstance(e.get("type"), str)
        and isinstance(e.get("offset"), int)
        and isinstance(e.get("length"), int)
        and e["offset"] >= 0
        and e["length"] > 0
        for e in value
    ):
        raise _bad("can't parse entities: each entity needs a type, an offset and a positive length")
    return value


# --------------------------------------------------------------------------- the server


Handler = Callable[[_Params], Awaitable[Any]]


class FakeTelegram:
    """A fake Bot API server plus a user-side driver. Use as `async with FakeTelegram() as tg:`."""

    def __init__(
        self, token: str = "123456:TEST", bot_username: str = "catabot_test_bot", *, bot_name: str = "Catabot"
    ) -> None:
        self.token = token
        self.bot_user: JsonDict = {
            "id": int(token.split(":")[0]) if token[:1].isdigit() else 1,
            "is_bot": True,
            "first_name": bot_name,
            "username": bot_username,
        }
        self.calls: list[Call] = []
        self.invalid_requests: list[Call] = []
        self.commands: list[JsonDict] = []
        self.webhook_deliveries: list[WebhookDelivery] = []
        self._port: int | None = None
        self._runner: web.AppRunner | None = None
        self._session: ClientSession | None = None
        self._deliverer: asyncio.Task[None] | None = None
        self._closing = False
        self._wakeup = asyncio.Event()
        self._updates: list[JsonDict] = []
        self._last_update_id = 0
        self._poll_generation = 0
        self._allowed_updates: frozenset[str] | None = None
        self._webhook: JsonDict = {}
        self._webhook_error: tuple[int, str] | None = None
        self._chats: dict[int, JsonDict] = {}
        self._blocked: set[int] = set()
        self._last_message_id: dict[int, int] = {}
        self._user_messages: dict[tuple[int, int], JsonDict] = {}
        self._deleted: set[tuple[int, int]] = set()
        self._sent: dict[tuple[int, int], SentMessage] = {}
        self._files: dict[str, StoredFile] = {}
        self._callbacks: dict[str, Call | None] = {}
        self._flood: dict[str, list[int]] = {}
        self._commands_by_scope: dict[tuple[str, str], list[JsonDict]] = {}
        self._menu_buttons: dict[int | None, JsonDict] = {}
        self._serial = 0
        handlers: dict[str, Handler] = {
            "getMe": self._get_me,
            "getUpdates": self._get_updates,
            "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "sendPhoto": self._send_photo,
            "sendDocument": self._send_document,
            "editMessageText": self._edit_text,
            "editMessageCaption": self._edit_caption,
            "editMessageReplyMarkup": self._edit_markup,
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": self._answer_callback,
            "sendChatAction": self._send_chat_action,
            "getFile": self._get_file,
            "setChatMenuButton": self._set_menu_button,
            "getChatMenuButton": self._get_menu_button,
            "setMyDescription": self._set_profile,
            "setMyShortDescription": self._set_profile,
            "setMyName": self._set_profile,
            "close": self._true,
            "logOut": self._true,
        }
        self._methods = {name.lower(): (name, handler) for name, handler in handlers.items()}

    # ------------------------------------------------------------ lifecycle and addresses

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = int(self._runner.addresses[0][1])
        self._closing = False
        self._session = ClientSession()
        self._deliverer = asyncio.create_task(self._deliver_loop())

    async def stop(self) -> None:
        """Stop serving; pending long polls are released at once."""
        self._closing = True
        self._notify()
        if self._deliverer is not None:
            self._deliverer.cancel()
            with suppress(asyncio.CancelledError):
                await self._deliverer
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self._deliverer, self._session, self._runner = None, None, None

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def api_root(self) -> str:
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.api_root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.api_root}/file/bot"

    # ------------------------------------------------------------ inspection helpers

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method.lower() == method.lower()]

    def sent_to(self, chat_id: int) -> list[SentMessage]:
        """What the bot sent to a chat, in order (deleted messages included, flagged `deleted`)."""
        return [message for message in self._sent.values() if message.chat_id == chat_id]

    def answered_callback(self, callback_id: str) -> Call | None:
        return self._callbacks.get(callback_id)

    @property
    def pending_updates(self) -> list[JsonDict]:
        return list(self._updates)

    @property
    def webhook_url(self) -> str:
        return str(self._webhook.get("url", ""))

    def flood(self, method: str, *retry_after: int) -> None:
        """Make the next calls of `method` fail with 429, one call per retry_after value."""
        self._flood.setdefault(method.lower(), []).extend(retry_after)

    async def wait_for(self, predicate: Callable[[], object], timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                recent = [f"{c.method}->{c.status} {c.error or ''}".strip() for c in self.calls[-8:]]
                raise TimeoutError(
                    f"condition not met within {timeout}s; last calls: {recent}; "
                    f"invalid requests: {[(c.method, c.error) for c in self.invalid_requests]}; "
                    f"pending updates: {len(self._updates)}"
                )
            await asyncio.sleep(0.01)

    # ------------------------------------------------------------ user-side driver

    async def push_update(self, update: JsonDict) -> int:
        """Queue a raw update (an update_id is assigned when missing); return its update_id."""
        update = dict(update)
        if "update_id" not in update:
            update = {"update_id": self._last_update_id + 1, **update}
        self._last_update_id = max(self._last_update_id, int(update["update_id"]))
        self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    async def user_sends(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        language_code: str = "fr",
        reply_to: int | None = None,
        edited: bool = False,
        message_id: int | None = None,
        entities: list[JsonDict] | None = None,
    ) -> int:
        """Push a text message; edited=True edits `message_id` (default: the user's last text there);
        `entities` formats it (links, bold…) as a Telegram client would."""
        content: JsonDict = {"text": text}
        command = re.match(r"/[^\s@]+(@\w+)?", text)
        if command:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}]
        if entities:
            content["entities"] = [*content.get("entities", []), *entities]
        if not edited:
            return await self._user_message(
                user_id, content, chat_id, chat_type, first_name, language_code, reply_to
            )
        chat = self._user_chat(self._user(user_id, first_name, language_code), chat_id, chat_type)
        if message_id is None:
            mine = [
                key
                for key, m in self._user_messages.items()
                if key[0] == chat["id"] and m["from"]["id"] == user_id and "text" in m
            ]
            if not mine:
                raise AssertionError(f"user {user_id} has no message to edit in chat {chat['id']}")
            message_id = mine[-1][1]
        old = self._user_messages[(chat["id"], message_id)]
        message = {k: v for k, v in old.items() if k not in ("text", "entities")} | content
        message["edit_date"] = int(time.time())
        self._user_messages[(chat["id"], message_id)] = message
        return await self.push_update({"edited_message": message})

    async def user_sends_sticker(
        self,
        user_id: int,
        emoji: str = "👍",
        *,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        language_code: str = "fr",
    ) -> int:
        file = self._store_file("sticker", b"RIFF\0\0\0\0WEBPVP8 ", "sticker.webp", "image/webp", 512, 512)
        sticker = {
            **self._file_json(file),
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": emoji,
        }
        return await self._user_message(
            user_id, {"sticker": sticker}, chat_id, chat_type, first_name, language_code, None
        )

    async def user_sends_photo(
        self,
        user_id: int,
        data: bytes = TINY_PNG,
        *,
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        language_code: str = "fr",
    ) -> int:
        file = self._store_file("photo", data, None, "image/jpeg")
        content: JsonDict = {"photo": [self._photo_size(file)]}
        if caption:
            content["caption"] = caption
        return await self._user_message(user_id, content, chat_id, chat_type, first_name, language_code, None)

    async def user_sends_document(
        self,
        user_id: int,
        data: bytes,
        filename: str = "file.txt",
        *,
        mime_type: str = "application/octet-stream",
        caption: str | None = None,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Test",
        language_code: str = "fr",
    ) -> int:
        file = self._store_file("document", data, filename, mime_type)
        content: JsonDict = {"document": self._document_json(file)}
        if caption:
            content["caption"] = caption
        return await self._user_message(user_id, content, chat_id, chat_type, first_name, language_code, None)

    async def user_clicks(
        self,
        user_id: int,
        message: SentMessage,
        callback_data: str,
        *,
        first_name: str = "Test",
        language_code: str = "fr",
    ) -> str:
        """Click a button of the message's current keyboard; return the callback query id."""
        current = self._sent.get((message.chat_id, message.message_id))
        if current is None or current.deleted:
            raise AssertionError(f"message {message.message_id} in chat {message.chat_id} is gone")
        chat = self._chats[current.chat_id]
        if chat["type"] == "private" and chat["id"] != user_id:
            raise AssertionError(f"user {user_id} cannot see private chat {chat['id']}")
        if callback_data not in current.callback_data:
            labels = [(b["text"], b.get("callback_data") or b.get("url")) for b in current.buttons]
            raise AssertionError(f"no button {callback_data!r} on message {current.message_id}: {labels}")
        user = self._user(user_id, first_name, language_code)
        return await self._push_callback(user, current.chat_id, self._sent_json(current), callback_data)

    async def user_sends_raw_callback(self, user_id: int, message_id: int, chat_id: int, data: str) -> str:
        """Push a callback_query with arbitrary data, as a forged or stale client would."""
        message = self._message_json(chat_id, message_id) or {
            "chat": self._chats.get(chat_id, {"id": chat_id, "type": "private", "first_name": "Test"}),
            "message_id": message_id,
            "date": 0,  # an InaccessibleMessage
        }
        return await self._push_callback(self._user(user_id, "Test", "fr"), chat_id, message, data)

    async def user_blocks(self, user_id: int, *, notify: bool = True) -> int:
        """Block the bot; with notify=False no my_chat_member update is sent (as when it was lost, or the
        user's message was already queued), so the bot only learns it from a 403. Returns the update id or 0.
        """
        self._blocked.add(user_id)
        return await self._member_update(user_id, "member", "kicked") if notify else 0

    async def user_unblocks(self, user_id: int) -> int:
        self._blocked.discard(user_id)
        return await self._member_update(user_id, "kicked", "member")

    def _user(self, user_id: int, first_name: str, language_code: str) -> JsonDict:
        return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}

    def add_private_chats(self, user_ids: Iterable[int]) -> None:
        """Users who started the bot at some point (Telegram delivers only to them), without new updates."""
        for user_id in user_ids:
            self._user_chat(self._user(user_id, "Test", "fr"), None, "private")

    def _user_chat(self, user: JsonDict, chat_id: int | None, chat_type: str) -> JsonDict:
        if chat_type == "private":
            chat = {
                "id": user["id"] if chat_id is None else chat_id,
                "type": "private",
                "first_name": user["first_name"],
            }
        elif chat_type in ("group", "supergroup", "channel") and chat_id is not None and chat_id < 0:
            chat = self._chats.get(chat_id) or {"id": chat_id, "type": chat_type, "title": f"Group {chat_id}"}
        else:
            raise ValueError(f"a {chat_type} chat needs a negative chat_id")
        self._chats[chat["id"]] = chat
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        self._last_message_id[chat_id] = self._last_message_id.get(chat_id, 0) + 1
        return self._last_message_id[chat_id]

    async def _user_message(
        self,
        user_id: int,
        content: JsonDict,
        chat_id: int | None,
        chat_type: str,
        first_name: str,
        language_code: str,
        reply_to: int | None,
    ) -> int:
        user = self._user(user_id, first_name, language_code)
        chat = self._user_chat(user, chat_id, chat_type)
        message: JsonDict = {
            "message_id": self._next_message_id(chat["id"]),
            "date": int(time.time()),
            "chat": chat,
            "from": user,
            **content,
        }
        if reply_to is not None:
            replied = self._message_json(chat["id"], reply_to, nested=False)
            if replied is None:
                raise AssertionError(f"no message {reply_to} to reply to in chat {chat['id']}")
            message["reply_to_message"] = replied
        self._user_messages[(chat["id"], message["message_id"])] = message
        return await self.push_update({"message": message})

    async def _push_callback(self, user: JsonDict, chat_id: int, message: JsonDict, data: str) -> str:
        self._serial += 1
        query_id = str(4_000_000_000_000_000_000 + self._serial)
        self._callbacks[query_id] = None
        query = {
            "id": query_id,
            "from": user,
            "message": message,
            "chat_instance": str(abs(chat_id) * 7919),
            "data": data,
        }
        await self.push_update({"callback_query": query})
        return query_id

    async def _member_update(self, user_id: int, old: str, new: str) -> int:
        user = self._user(user_id, "Test", "fr")
        chat = self._chats.get(user_id) or self._user_chat(user, None, "private")
        old_member, new_member = (
            {"user": self.bot_user, "status": status} | ({"until_date": 0} if status == "kicked" else {})
            for status in (old, new)
        )
        return await self.push_update(
            {
                "my_chat_member": {
                    "chat": chat,
                    "from": user,
                    "date": int(time.time()),
                    "old_chat_member": old_member,
                    "new_chat_member": new_member,
                }
            }
        )

    # ------------------------------------------------------------ HTTP plumbing

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    async def _not_found(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    async def _read_params(self, request: web.Request) -> JsonDict:
        data: JsonDict = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError:
                    raise _bad("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad("can't parse JSON object")
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
                    raise _bad(f"can't parse {key.replace('_', ' ')} JSON object") from None
        return data

    def _check_token(self, token: str) -> None:
        if not _TOKEN_RE.fullmatch(token):
            raise ApiError(404, "Not Found")
        if token != self.token:
            raise ApiError(401, "Unauthorized")

    def _record(self, call: Call, error: ApiError | None = None) -> None:
        self.calls.append(call)
        if error is not None:
            call.status, call.error = error.status, error.description
            if 400 <= error.status < 500 and not error.scripted:
                self.invalid_requests.append(call)

    async def _handle_method(self, request: web.Request) -> web.Response:
        entry = self._methods.get(request.match_info["method"].lower())
        call = Call(entry[0] if entry else request.match_info["method"], {}, time=time.monotonic())
        try:
            call.params = await self._read_params(request)
            self._check_token(request.match_info["token"])
            if entry is None:
                raise ApiError(404, "Not Found")
            queue = self._flood.get(call.method.lower())
            if queue:
                delay = queue.pop(0)
                raise ApiError(
                    429, f"Too Many Requests: retry after {delay}", {"retry_after": delay}, scripted=True
                )
            result = await entry[1](_Params(call.params, request, call))
        except ApiError as error:
            self._record(call, error)
            body: JsonDict = {"ok": False, "error_code": error.status, "description": error.description}
            if error.parameters:
                body["parameters"] = error.parameters
            return web.json_response(body, status=error.status)
        self._record(call)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        call = Call("downloadFile", {"file_path": path}, time=time.monotonic())
        try:
            self._check_token(request.match_info["token"])
            file = next((f for f in self._files.values() if f.file_path == path), None)
            if file is None:
                raise ApiError(404, "Not Found")
        except ApiError as error:
            self._record(call, error)
            body = {"ok": False, "error_code": error.status, "description": error.description}
            return web.json_response(body, status=error.status)
        self._record(call)
        return web.Response(body=file.data, content_type=file.mime_type or "application/octet-stream")

    # ------------------------------------------------------------ updates and webhooks

    def _allowed(self, update: JsonDict, allowed: frozenset[str] | None) -> bool:
        kind = next((key for key in update if key != "update_id"), "")
        return kind not in _OPT_IN_UPDATES if allowed is None else kind in allowed

    def _take_updates(self) -> list[JsonDict]:
        self._updates = [u for u in self._updates if self._allowed(u, self._allowed_updates)]
        return self._updates

    def _set_allowed(self, p: _Params) -> None:
        allowed = p.get("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad("can't parse allowed updates JSON object")
            self._allowed_updates = frozenset(allowed) or None

    async def _get_updates(self, p: _Params) -> list[JsonDict]:
        if self._webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset, limit, timeout = p.number("offset"), p.number("limit"), p.number("timeout") or 0
        limit = 100 if limit is None else min(max(limit, 1), 100)
        self._set_allowed(p)
        if offset is not None:
            self._updates = (
                self._updates[offset:]
                if offset < 0
                else [u for u in self._updates if u["update_id"] >= offset]
            )
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify()  # an older poll still waiting is superseded
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            if generation != self._poll_generation:
                transport = p.request.transport
                if transport is not None and not transport.is_closing():
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                return []
            batch = self._take_updates()[:limit]
            remaining = deadline - time.monotonic()
            if batch or self._closing or self._webhook or remaining <= 0:
                return [dict(update) for update in batch]
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), remaining)

    async def _set_webhook(self, p: _Params) -> bool:
        url, secret = p.text("url") or "", p.text("secret_token") or None
        if secret is not None and not _SECRET_RE.fullmatch(secret):
            raise _bad("secret token contains unallowed characters")
        if url:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise _bad("bad webhook: invalid webhook URL specified")
            if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self._set_allowed(p)
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        connections = min(max(p.number("max_connections") or 40, 1), 100)
        self._webhook = {"url": url, "secret_token": secret, "max_connections": connections} if url else {}
        self._webhook_error = None
        self._notify()
        return True

    async def _delete_webhook(self, p: _Params) -> bool:
        if p.flag("drop_pending_updates"):
            self._updates.clear()
        self._webhook = {}
        self._notify()
        return True

    async def _get_webhook_info(self, p: _Params) -> JsonDict:
        info: JsonDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }
        if self._webhook:
            info["max_connections"] = self._webhook["max_connections"]
            if self._allowed_updates:
                info["allowed_updates"] = sorted(self._allowed_updates)
            if self._webhook_error:
                info["last_error_date"], info["last_error_message"] = self._webhook_error
        return info

    async def _deliver_loop(self) -> None:
        while not self._closing:
            wakeup, url = self._wakeup, self.webhook_url
            if not url or not self._take_updates():
                await wakeup.wait()
                continue
            update = self._updates[0]
            status, error = await self._post_update(url, update)
            self.webhook_deliveries.append(WebhookDelivery(update["update_id"], status, error))
            if 200 <= status < 300:
                self._updates = [u for u in self._updates if u is not update]
            else:
                self._webhook_error = (int(time.time()), error or str(status))
                await asyncio.sleep(0.05)

    async def _post_update(self, url: str, update: JsonDict) -> tuple[int, str | None]:
        assert self._session is not None
        headers = {"Content-Type": "application/json"}
        if self._webhook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = self._webhook["secret_token"]
        try:
            async with self._session.post(
                url, data=json.dumps(update), headers=headers, timeout=ClientTimeout(total=10)
            ) as response:
                await response.read()
                error = None if response.ok else f"Wrong response from the webhook: {response.status}"
                return response.status, error
        except (ClientError, TimeoutError) as exc:
            return 0, f"Connection failed: {exc!r}"

    # ------------------------------------------------------------ chats, messages, files

    def _target_chat(self, p: _Params, name: str = "chat_id") -> JsonDict:
        raw = p.get(name)
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        chat: JsonDict | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.get("username") == raw[1:]), None)
        elif isinstance(raw, int) or (isinstance(raw, str) and raw.lstrip("-").isdigit()):
            chat = self._chats.get(int(raw))
        if chat is None:
            raise _bad("chat not found")
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user", scripted=True)
        return chat

    def _formatted(
        self, p: _Params, key: str, entities_key: str, limit: int
    ) -> tuple[str | None, list[JsonDict]]:
        raw = p.text(key)
        is_text = key == "text"
        if not raw:
            if is_text:
                raise _bad("message text is empty")
            return None, []
        mode = (p.text("parse_mode") or "").lower()
        if p.get(entities_key) is not None:
            text, entities = raw, _check_entities(p.get(entities_key))
        elif mode:
            if mode not in PARSERS:
                raise _bad("unsupported parse_mode")
            try:
                text, entities = PARSERS[mode](raw)
            except EntityParseError as error:
                raise _bad(f"can't parse entities: {error}") from None
        else:
            text, entities = raw, []
        if not text.strip():
            if is_text:
                raise _bad("message text is empty")
            return None, []
        if len(text) > limit:
            raise _bad("message is too long" if is_text else "message caption is too long")
        return text, entities

    def _reply_target(self, chat_id: int, p: _Params) -> int | None:
        params, allow = p.get("reply_parameters"), p.flag("allow_sending_without_reply")
        if params is not None and not isinstance(params, dict):
            raise _bad("can't parse reply parameters JSON object")
        message_id = params.get("message_id") if params else p.number("reply_to_message_id")
        allow = allow or bool(params and params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        if self._message_json(chat_id, int(message_id)) is None:
            if allow:
                return None
            raise _bad("message to be replied not found")
        return int(message_id)

    def _message_json(self, chat_id: int, message_id: int, *, nested: bool = True) -> JsonDict | None:
        sent = self._sent.get((chat_id, message_id))
        if sent is not None:
            return None if sent.deleted else self._sent_json(sent, nested=nested)
        message = self._user_messages.get((chat_id, message_id))
        if message is None or (chat_id, message_id) in self._deleted:
            return None
        return message if nested else {k: v for k, v in message.items() if k != "reply_to_message"}

    def _sent_json(self, sent: SentMessage, *, nested: bool = True) -> JsonDict:
        message: JsonDict = {
            "message_id": sent.message_id,
            "from": self.bot_user,
            "date": sent.date,
            "chat": self._chats[sent.chat_id],
        }
        if sent.kind == "text":
            message["text"] = sent.text
            if sent.entities:
                message["entities"] = sent.entities
        else:
            file = self._files[str(sent.file_id)]
            is_photo = sent.kind == "photo"
            message[sent.kind] = [self._photo_size(file)] if is_photo else self._document_json(file)
            if sent.caption:
                message["caption"] = sent.caption
                if sent.entities:
                    message["caption_entities"] = sent.entities
        if sent.buttons:  # Telegram echoes inline keyboards only
            message["reply_markup"] = sent.reply_markup
        if sent.edit_date:
            message["edit_date"] = sent.edit_date
        if nested and sent.reply_to is not None:
            replied = self._message_json(sent.chat_id, sent.reply_to, nested=False)
            if replied is not None:
                message["reply_to_message"] = replied
        return message

    def _store_file(
        self,
        kind: str,
        data: bytes,
        filename: str | None,
        mime_type: str | None,
        width: int = 0,
        height: int = 0,
    ) -> StoredFile:
        self._serial += 1
        suffix = PurePosixPath(filename).suffix if filename else ".jpg" if kind == "photo" else ""
        if kind == "photo" and data.startswith(_IMAGE_MAGIC[0]) and len(data) >= 24:
            width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        file = StoredFile(
            file_id=f"{kind[:2].upper()}ACAgIAAxkBAAI{self._serial:08d}",
            file_unique_id=f"AQAD{self._serial:08d}",
            kind=kind,
            data=data,
            filename=filename,
            mime_type=mime_type,
            file_path=f"{kind}s/file_{self._serial}{suffix}",
            width=width or 320,
            height=height or 320,
        )
        self._files[file.file_id] = file
        return file

    def _file_json(self, file: StoredFile) -> JsonDict:
        return {"file_id": file.file_id, "file_unique_id": file.file_unique_id, "file_size": len(file.data)}

    def _photo_size(self, file: StoredFile) -> JsonDict:
        return {**self._file_json(file), "width": file.width, "height": file.height}

    def _document_json(self, file: StoredFile) -> JsonDict:
        extra = {k: v for k, v in (("file_name", file.filename), ("mime_type", file.mime_type)) if v}
        return {**self._file_json(file), **extra}

    def _input_file(self, p: _Params, kind: str) -> StoredFile:
        value = p.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            if not value.data:
                raise _bad("file must be non-empty")
            if kind == "photo" and not (value.data.startswith(_IMAGE_MAGIC) or value.data[8:12] == b"WEBP"):
                raise _bad("IMAGE_PROCESS_FAILED")
            name = None if kind == "photo" else value.filename  # Telegram keeps no name for photos
            return self._store_file(kind, value.data, name, value.content_type)
        if not isinstance(value, str) or not value:
            raise _bad(f"there is no {kind} in the request")
        file = self._files.get(value)
        if file is None:
            raise _bad("wrong file identifier/HTTP URL specified")
        if file.kind != kind:
            raise _bad(f"can't use file of type {file.kind.capitalize()} as {kind.capitalize()}")
        return file

    # ------------------------------------------------------------ Bot API methods

    async def _true(self, p: _Params) -> bool:
        return True

    async def _get_me(self, p: _Params) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _scope_key(self, p: _Params) -> tuple[str, str]:
        scope = p.get("scope")
        if scope is not None and not (isinstance(scope, dict) and isinstance(scope.get("type"), str)):
            raise _bad("can't parse scope JSON object")
        key = "default" if not scope or scope == {"type": "default"} else json.dumps(scope, sort_keys=True)
        return key, p.text("language_code") or ""

    async def _set_my_commands(self, p: _Params) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise _bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise _bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if (
                not isinstance(command, dict)
                or not isinstance(command.get("command"), str)
                or not _COMMAND_RE.fullmatch(command["command"])
            ):
                raise _bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands_by_scope[self._scope_key(p)] = commands
        self.commands = commands
        return True

    async def _get_my_commands(self, p: _Params) -> list[JsonDict]:
        return self._commands_by_scope.get(self._scope_key(p), [])

    async def _delete_my_commands(self, p: _Params) -> bool:
        self._commands_by_scope.pop(self._scope_key(p), None)
        return True

    async def _set_profile(self, p: _Params) -> bool:
        for key, limit in (("description", 512), ("short_description", 120), ("name", 64)):
            if len(p.text(key) or "") > limit:
                raise _bad(f"{key.upper()}_INVALID")
        return True

    async def _set_menu_button(self, p: _Params) -> bool:
        chat_id = self._target_chat(p)["id"] if p.get("chat_id") not in (None, "") else None
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise _bad("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = button
        return True

    async def _get_menu_button(self, p: _Params) -> JsonDict:
        chat_id = self._target_chat(p)["id"] if p.get("chat_id") not in (None, "") else None
        return self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "default"}

    async def _send_message(self, p: _Params) -> JsonDict:
        chat = self._target_chat(p)
        text, entities = self._formatted(p, "text", "entities", 4096)
        markup = validate_markup(p.get("reply_markup"))
        reply_to = self._reply_target(chat["id"], p)
        return self._keep(
            SentMessage(
                chat["id"],
                self._next_message_id(chat["id"]),
                "text",
                int(time.time()),
                text=text,
                entities=entities,
                reply_markup=markup,
                source=p.text("text"),
                parse_mode=p.text("parse_mode"),
                reply_to=reply_to,
            )
        )

    async def _send_photo(self, p: _Params) -> JsonDict:
        return await self._send_file(p, "photo")

    async def _send_document(self, p: _Params) -> JsonDict:
        return await self._send_file(p, "document")

    async def _send_file(self, p: _Params, kind: Literal["photo", "document"]) -> JsonDict:
        chat = self._target_chat(p)
        caption, entities = self._formatted(p, "caption", "caption_entities", 1024)
        markup = validate_markup(p.get("reply_markup"))
        reply_to = self._reply_target(chat["id"], p)
        file = self._input_file(p, kind)
        return self._keep(
            SentMessage(
                chat["id"],
                self._next_message_id(chat["id"]),
                kind,
                int(time.time()),
                caption=caption,
                entities=entities,
                reply_markup=markup,
                source=p.text("caption"),
                parse_mode=p.text("parse_mode"),
                document=file.data,
                filename=file.filename,
                file_id=file.file_id,
                reply_to=reply_to,
            )
        )

    def _keep(self, sent: SentMessage) -> JsonDict:
        self._sent[(sent.chat_id, sent.message_id)] = sent
        return self._sent_json(sent)

    def _editable(self, p: _Params) -> SentMessage:
        if p.get("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        chat = self._target_chat(p)
        message_id = p.number("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        sent = self._sent.get((chat["id"], message_id))
        if sent is None or sent.deleted:
            if self._message_json(chat["id"], message_id) is not None:
                raise _bad("message can't be edited")
            raise _bad("message to edit not found")
        return sent

    def _apply_edit(self, sent: SentMessage, method: str, changes: JsonDict) -> JsonDict:
        before = sent.state()
        if {**before, **changes} == before:
            raise _bad(NOT_MODIFIED)
        for key, value in changes.items():
            setattr(sent, key, value)
        sent.edit_date = int(time.time())
        sent.edits.append(Edit(method, before, sent.state(), time.monotonic()))
        return self._sent_json(sent)

    async def _edit_text(self, p: _Params) -> JsonDict:
        sent = self._editable(p)
        if sent.kind != "text":
            raise _bad("there is no text in the message to edit")
        text, entities = self._formatted(p, "text", "entities", 4096)
        markup = validate_markup(p.get("reply_markup"), inline_only=True)
        changes = {"text": text, "entities": entities, "reply_markup": _inline(markup)}
        result = self._apply_edit(sent, "editMessageText", changes)
        sent.source, sent.parse_mode = p.text("text"), p.text("parse_mode")
        return result

    async def _edit_caption(self, p: _Params) -> JsonDict:
        sent = self._editable(p)
        if sent.kind == "text":
            raise _bad("there is no caption in the message to edit")
        caption, entities = self._formatted(p, "caption", "caption_entities", 1024)
        markup = validate_markup(p.get("reply_markup"), inline_only=True)
        changes = {"caption": caption, "entities": entities, "reply_markup": _inline(markup)}
        return self._apply_edit(sent, "editMessageCaption", changes)

    async def _edit_markup(self, p: _Params) -> JsonDict:
        sent = self._editable(p)
        markup = validate_markup(p.get("reply_markup"), inline_only=True)
        changes = {"reply_markup": _inline(markup)}
        return self._apply_edit(sent, "editMessageReplyMarkup", changes)

    async def _delete_message(self, p: _Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.number("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        key = (chat["id"], message_id)
        if self._message_json(*key) is None:
            raise _bad("message to delete not found")
        if key in self._sent:
            self._sent[key].deleted = True
        else:
            self._deleted.add(key)
        return True

    async def _answer_callback(self, p: _Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        if query_id not in self._callbacks or self._callbacks[query_id] is not None:
            raise _bad(QUERY_INVALID)
        if len(p.text("text") or "") > 200:
            raise _bad("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = p.call
        return True

    async def _send_chat_action(self, p: _Params) -> bool:
        self._target_chat(p)
        if p.text("action") not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        return True

    async def _get_file(self, p: _Params) -> JsonDict:
        file = self._files.get(p.text("file_id") or "")
        if file is None:
            raise _bad("invalid file_id")
        return {**self._file_json(file), "file_path": file.file_path}
