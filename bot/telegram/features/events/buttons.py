"""The events feature's callback data and conversation-flow names."""

from __future__ import annotations

RSVP = ("yes", "maybe", "no")
NEW_EVENT = "new_event"  # conversation flows (bot.conversations)
MOVE = "move_event"
EDIT = "edit_event"
WRITE = "write_to_participants"


def event_data(action: str, event_id: int, *rest: str) -> str:
    """`e:…` buttons of an event card: r (reminder), i (agenda file), p (RSVP), d (detail), m/x/xc (move,
    cancel), e/ef (edit, edit one field)."""
    return ":".join(("e", action, str(event_id), *rest))


def page_data(number: int) -> str:
    return f"e:g:{number}"


def subscription_data(*args: str) -> str:
    return ":".join(("s", *args))


def new_event_data(*args: str) -> str:
    return ":".join(("ne", *args))
