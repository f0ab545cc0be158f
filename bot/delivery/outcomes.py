"""What a transport (or a renderer) reports by raising, and the transport the sender drives; how the sender
records each outcome is in `bot.delivery.sender`."""

from __future__ import annotations

from typing import Protocol

from bot.delivery.outbox import Delivery
from bot.errors import CatabotError


class DeliveryError(CatabotError):
    """Base class of the outcomes a transport (or a renderer) reports by raising."""


class RetryLater(DeliveryError):
    """Telegram's 429 flood control: nothing may be sent for `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry after {seconds:g} s")
        self.seconds = float(seconds)


class Blocked(DeliveryError):
    """403: the user blocked the bot, deleted their account, or the bot was removed from the group."""

    def __init__(self, reason: str = "blocked") -> None:
        super().__init__(reason)
        self.reason = reason


class Rejected(DeliveryError):
    """400: a permanent refusal (chat not found, bad markup…)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ChatMoved(DeliveryError):
    """The group became a supergroup with a new id."""

    def __init__(self, new_chat_id: int) -> None:
        super().__init__(f"chat moved to {new_chat_id}")
        self.new_chat_id = new_chat_id


class Transient(DeliveryError):
    """Network error or timeout: worth retrying later."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Skip(DeliveryError):
    """Not sent on purpose: opted out, event already started, campaign cancelled…"""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Transport(Protocol):
    async def send(self, delivery: Delivery) -> None:
        """Render and send one delivery; report anything but success by raising a `DeliveryError`."""
        ...
