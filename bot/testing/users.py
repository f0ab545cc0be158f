"""The user side of the fake Telegram: messages, stickers, photos, documents, clicks, blocking.

Each action stores what Telegram would (the chat, the user's message) and queues the update the bot gets.
"""

from __future__ import annotations

import re
import time

from bot.testing.entities import JsonDict, utf16_len
from bot.testing.records import TINY_PNG, SentMessage
from bot.testing.state import TelegramState


class UserSide(TelegramState):
    """What users do, as updates for the bot."""

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
