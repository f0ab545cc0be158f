"""The one clock of the bot: aware UTC now, and the Paris time zone events are written in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

Clock = Callable[[], dt.datetime]  # returns an aware datetime (UTC)
PARIS = ZoneInfo("Europe/Paris")  # the network's wall clock: events are typed and shown in it


def utc_now() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)
