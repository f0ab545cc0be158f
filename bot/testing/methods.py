"""The Bot API methods the fake serves for the bot: profile and commands, messages, edits, callbacks, files.

Each method takes the request's `Params` and returns the JSON result, or raises ApiError with Telegram's
status code and wording. Updates and webhooks are in `updates.py`.
"""

from __future__ import annotations

import json
import time
from typing import Literal

from bot.testing.entities import JsonDict
from bot.testing.records import Edit, SentMessage, StoredFile, Upload, bad, inline
from bot.testing.state import TelegramState
from bot.testing.validation import (
    CHAT_ACTIONS,
    COMMAND_RE,
    IMAGE_MAGIC,
    NOT_MODIFIED,
    QUERY_INVALID,
    Params,
    formatted_text,
    validate_markup,
)


class BotMethods(TelegramState):
    """The bot's side of the Bot API, except updates and webhooks."""

    async def _true(self, p: Params) -> bool:
        return True

    async def _get_me(self, p: Params) -> JsonDict:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _scope_key(self, p: Params) -> tuple[str, str]:
        scope = p.get("scope")
        if scope is not None and not (isinstance(scope, dict) and isinstance(scope.get("type"), str)):
            raise bad("can't parse scope JSON object")
        key = "default" if not scope or scope == {"type": "default"} else json.dumps(scope, sort_keys=True)
        return key, p.text("language_code") or ""

    async def _set_my_commands(self, p: Params) -> bool:
        commands = p.get("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if (
                not isinstance(command, dict)
                or not isinstance(command.get("command"), str)
                or not COMMAND_RE.fullmatch(command["command"])
            ):
                raise bad("BOT_COMMAND_INVALID")
            description = command.get("description")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands_by_scope[self._scope_key(p)] = commands
        self.commands = commands
        return True

    async def _get_my_commands(self, p: Params) -> list[JsonDict]:
        return self._commands_by_scope.get(self._scope_key(p), [])

    async def _delete_my_commands(self, p: Params) -> bool:
        self._commands_by_scope.pop(self._scope_key(p), None)
        return True

    async def _set_profile(self, p: Params) -> bool:
        for key, limit in (("description", 512), ("short_description", 120), ("name", 64)):
            if len(p.text(key) or "") > limit:
                raise bad(f"{key.upper()}_INVALID")
        return True

    async def _set_menu_button(self, p: Params) -> bool:
        chat_id = self._target_chat(p)["id"] if p.get("chat_id") not in (None, "") else None
        button = p.get("menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in ("default", "commands", "web_app"):
            raise bad("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = button
        return True

    async def _get_menu_button(self, p: Params) -> JsonDict:
        chat_id = self._target_chat(p)["id"] if p.get("chat_id") not in (None, "") else None
        return self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "default"}

    async def _send_message(self, p: Params) -> JsonDict:
        chat = self._target_chat(p)
        text, entities = formatted_text(p, "text", "entities", 4096)
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

    async def _send_photo(self, p: Params) -> JsonDict:
        return await self._send_file(p, "photo")

    async def _send_document(self, p: Params) -> JsonDict:
        return await self._send_file(p, "document")

    async def _send_file(self, p: Params, kind: Literal["photo", "document"]) -> JsonDict:
        chat = self._target_chat(p)
        caption, entities = formatted_text(p, "caption", "caption_entities", 1024)
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

    def _editable(self, p: Params) -> SentMessage:
        if p.get("inline_message_id"):
            raise bad("MESSAGE_ID_INVALID")
        chat = self._target_chat(p)
        message_id = p.number("message_id")
        if message_id is None:
            raise bad("message identifier is not specified")
        sent = self._sent.get((chat["id"], message_id))
        if sent is None or sent.deleted:
            if self._message_json(chat["id"], message_id) is not None:
                raise bad("message can't be edited")
            raise bad("message to edit not found")
        return sent

    def _apply_edit(self, sent: SentMessage, method: str, changes: JsonDict) -> JsonDict:
        before = sent.state()
        if {**before, **changes} == before:
            raise bad(NOT_MODIFIED)
        for key, value in changes.items():
            setattr(sent, key, value)
        sent.edit_date = int(time.time())
        sent.edits.append(Edit(method, before, sent.state(), time.monotonic()))
        return self._sent_json(sent)

    async def _edit_text(self, p: Params) -> JsonDict:
        sent = self._editable(p)
        if sent.kind != "text":
            raise bad("there is no text in the message to edit")
        text, entities = formatted_text(p, "text", "entities", 4096)
        markup = validate_markup(p.get("reply_markup"), inline_only=True)
        changes = {"text": text, "entities": entities, "reply_markup": inline(markup)}
        result = self._apply_edit(sent, "editMessageText", changes)
        sent.source, sent.parse_mode = p.text("text"), p.text("parse_mode")
        return result

    async def _edit_caption(self, p: Params) -> JsonDict:
        sent = self._editable(p)
        if sent.kind == "text":
            raise bad("there is no caption in the message to edit")
        caption, entities = formatted_text(p, "caption", "caption_entities", 1024)
        markup = validate_markup(p.get("reply_markup"), inline_only=True)
        changes = {"caption": caption, "entities": entities, "reply_markup": inline(markup)}
        return self._apply_edit(sent, "editMessageCaption", changes)

    async def _edit_markup(self, p: Params) -> JsonDict:
        sent = self._editable(p)
        markup = validate_markup(p.get("reply_markup"), inline_only=True)
        changes = {"reply_markup": inline(markup)}
        return self._apply_edit(sent, "editMessageReplyMarkup", changes)

    async def _delete_message(self, p: Params) -> bool:
        chat = self._target_chat(p)
        message_id = p.number("message_id")
        if message_id is None:
            raise bad("message identifier is not specified")
        key = (chat["id"], message_id)
        if self._message_json(*key) is None:
            raise bad("message to delete not found")
        if key in self._sent:
            self._sent[key].deleted = True
        else:
            self._deleted.add(key)
        return True

    async def _answer_callback(self, p: Params) -> bool:
        query_id = p.text("callback_query_id") or ""
        if query_id not in self._callbacks or self._callbacks[query_id] is not None:
            raise bad(QUERY_INVALID)
        if len(p.text("text") or "") > 200:
            raise bad("MESSAGE_TOO_LONG")
        self._callbacks[query_id] = p.call
        return True

    async def _send_chat_action(self, p: Params) -> bool:
        self._target_chat(p)
        if p.text("action") not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        return True

    async def _get_file(self, p: Params) -> JsonDict:
        file = self._files.get(p.text("file_id") or "")
        if file is None:
            raise bad("invalid file_id")
        return {**self._file_json(file), "file_path": file.file_path}

    # ------------------------------------------------------------ replies and files

    def _reply_target(self, chat_id: int, p: Params) -> int | None:
        params, allow = p.get("reply_parameters"), p.flag("allow_sending_without_reply")
        if params is not None and not isinstance(params, dict):
            raise bad("can't parse reply parameters JSON object")
        message_id = params.get("message_id") if params else p.number("reply_to_message_id")
        allow = allow or bool(params and params.get("allow_sending_without_reply"))
        if message_id is None:
            return None
        if self._message_json(chat_id, int(message_id)) is None:
            if allow:
                return None
            raise bad("message to be replied not found")
        return int(message_id)

    def _input_file(self, p: Params, kind: str) -> StoredFile:
        value = p.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.get(value.removeprefix("attach://"))
        if isinstance(value, Upload):
            if not value.data:
                raise bad("file must be non-empty")
            if kind == "photo" and not (value.data.startswith(IMAGE_MAGIC) or value.data[8:12] == b"WEBP"):
                raise bad("IMAGE_PROCESS_FAILED")
            name = None if kind == "photo" else value.filename  # Telegram keeps no name for photos
            return self._store_file(kind, value.data, name, value.content_type)
        if not isinstance(value, str) or not value:
            raise bad(f"there is no {kind} in the request")
        file = self._files.get(value)
        if file is None:
            raise bad("wrong file identifier/HTTP URL specified")
        if file.kind != kind:
            raise bad(f"can't use file of type {file.kind.capitalize()} as {kind.capitalize()}")
        return file
