"""What every update needs of its user, read once and in one statement: their language and role, the flow
they are in (in this chat) and whether coordinators' answers wait for them.

The Telegram adapter reads it on the first of these questions an update asks (`Context`); under load it
saves two read transactions per private message. Nothing here knows about Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.conversations import ConversationService, Flow
from bot.users.records import Role
from bot.users.service import UserService

if TYPE_CHECKING:
    from bot.storage.repository import Storage


@dataclass(frozen=True)
class Visit:
    """One user, as an update finds them."""

    language: str | None  # the stored one; None for a user never seen (`UserService.first_language`)
    role: Role  # as `UserService.role` says (admins from the config)
    flow: Flow | None  # the flow in progress in the chat, as `ConversationService.current` says
    answers_waiting: bool  # coordinators' answers that could not reach them yet (`undelivered`)


class VisitService:
    def __init__(self, storage: Storage, users: UserService, conversations: ConversationService) -> None:
        self.storage = storage
        self.users = users
        self.conversations = conversations

    async def visit(self, user_id: int, chat_id: int | None) -> Visit:
        """`user_id` in `chat_id` (no flow without a chat): one read transaction, nothing written."""
        found = await self.storage.visits.snapshot(user_id, chat_id, now=self.conversations.clock())
        flow = Flow(found.flow, found.state) if found.flow is not None and found.state is not None else None
        return Visit(found.language, self.users.role_of(user_id, found.role), flow, found.answers_waiting)
