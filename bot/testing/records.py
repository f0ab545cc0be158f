"""What the fake Bot API records and answers: requests, uploads, files, the bot's messages, errors."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Literal

from bot.testing.entities import JsonDict

# A valid 1×1 PNG, for tests that send or receive a photo.
TINY_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


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
            "reply_markup": inline(self.reply_markup),
        }


@dataclass
class WebhookDelivery:
    """One POST of an update to a webhook URL; `status` is 0 when the connection failed."""

    update_id: int
    status: int
    error: str | None
    url: str = ""


class ApiError(Exception):
    """An error answer. `scripted` ones (flood, blocked) are expected and not listed in invalid_requests."""

    def __init__(
        self, status: int, description: str, parameters: JsonDict | None = None, *, scripted: bool = False
    ) -> None:
        super().__init__(description)
        self.status, self.description = status, description
        self.parameters, self.scripted = parameters, scripted


def bad(message: str) -> ApiError:
    return ApiError(400, f"Bad Request: {message}")


def inline(markup: JsonDict | None) -> JsonDict | None:
    """The markup as Telegram keeps it on a message: an inline keyboard with buttons, else nothing."""
    rows = (markup or {}).get("inline_keyboard") or []
    return markup if any(rows) else None
