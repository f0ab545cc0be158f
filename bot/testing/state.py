"""The fake Bot API's state (chats, messages, files, updates) and what every part of it shares.

`TelegramState` holds what Telegram knows; the Bot API methods (`methods.py`), the update queue and
webhooks (`updates.py`), the user-side driver (`users.py`) and the HTTP server (`server.py`) build on it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from aiohttp import ClientSession, web

from bot.testing.entities import JsonDict
from bot.testing.records import ApiError, Call, SentMessage, StoredFile, WebhookDelivery, bad
from bot.testing.validation import IMAGE_MAGIC, Params

INSTANCE_RE = re.compile(r"[A-Za-z0-9_-]+")  # the server's route accepts these


class TelegramState:
    """What the fake Telegram knows, and the inspection helpers tests use."""

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
        self._webhooks: dict[str, JsonDict] = {}  # instance -> url, secret_token, max_connections
        self._turn = 0  # how many webhook deliveries were tried: the rotation's position
        self._webhook_error: tuple[int, str] | None = None
        self._chats: dict[int, JsonDict] = {}
        self._blocked: set[int] = set()
        self._users: set[int] = set()  # every user seen in an update (in a group, perhaps never in private)
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

    # ------------------------------------------------------------ addresses

    @property
    def api_root(self) -> str:
        """The root to give the bot (PTB's base_url is `{api_root}/bot`)."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return f"http://127.0.0.1:{self._port}"

    @property
    def base_url(self) -> str:
        return f"{self.api_root}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.api_root}/file/bot"

    def instance_root(self, instance: str) -> str:
        """The API root of one bot instance among several of the same token: `{api_root}/{instance}`.

        Requests through it are that instance's (`instance`: letters, digits, "_" or "-"): its
        setWebhook registers its own URL and its deleteWebhook removes only that URL (see `updates.py`).
        """
        if not INSTANCE_RE.fullmatch(instance) or instance == "file" or instance.startswith("bot"):
            raise ValueError(f"instance name {instance!r}: ASCII letters, digits, _ or -, not file or bot…")
        return f"{self.api_root}/{instance}"

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
        """The first registered webhook URL ("" when none): the only one with a single bot instance."""
        return next((str(hook["url"]) for hook in self._webhooks.values()), "")

    @property
    def webhook_urls(self) -> list[str]:
        """Every registered webhook URL, in the order updates rotate over them."""
        return [str(hook["url"]) for hook in self._webhooks.values()]

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

    async def push_update(self, update: JsonDict) -> int:
        """Queue a raw update (an update_id is assigned when missing); return its update_id."""
        update = dict(update)
        if "update_id" not in update:
            update = {"update_id": self._last_update_id + 1, **update}
        self._last_update_id = max(self._last_update_id, int(update["update_id"]))
        self._updates.append(update)
        self._notify()
        return int(update["update_id"])

    def _notify(self) -> None:
        self._wakeup.set()
        self._wakeup = asyncio.Event()

    # ------------------------------------------------------------ chats, messages, files

    def _user(self, user_id: int, first_name: str, language_code: str) -> JsonDict:
        self._users.add(user_id)
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

    def _target_chat(self, p: Params, name: str = "chat_id") -> JsonDict:
        raw = p.get(name)
        if raw is None or raw == "":
            raise bad("chat_id is empty")
        chat: JsonDict | None = None
        if isinstance(raw, str) and raw.startswith("@"):
            chat = next((c for c in self._chats.values() if c.get("username") == raw[1:]), None)
        elif isinstance(raw, int) or (isinstance(raw, str) and raw.lstrip("-").isdigit()):
            chat = self._chats.get(int(raw))
        if chat is None and _chat_key(raw) in self._users:
            # A real user who never opened a private chat with the bot: what Telegram answers, not a bug.
            raise ApiError(400, "Bad Request: chat not found", scripted=True)
        if chat is None:
            raise bad("chat not found")
        if chat["id"] in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user", scripted=True)
        return chat

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
        if kind == "photo" and data.startswith(IMAGE_MAGIC[0]) and len(data) >= 24:
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


def _chat_key(raw: object) -> int | None:
    """A numeric chat_id parameter as an int (None for a @username or anything else)."""
    if isinstance(raw, int):
        return raw
    return int(raw) if isinstance(raw, str) and raw.lstrip("-").isdigit() else None
