"""What each campaign's progress message shows, so that an unchanged text is never edited again.

Telegram refuses an edit that changes nothing (« message is not modified ») and counts it against the
flood limits; during a 429 pause the counts do not move, so every tick would repeat the same edit.
"""

from __future__ import annotations

from collections import OrderedDict


class ShownProgress:
    """campaign id → the text its progress message shows (the `limit` most recent campaigns)."""

    def __init__(self, limit: int = 1000) -> None:
        self._texts: OrderedDict[int, str] = OrderedDict()
        self._limit = limit

    def changed(self, campaign_id: int, text: str) -> bool:
        """True when `text` differs from what the message is known to show (unknown: True)."""
        return self._texts.get(campaign_id) != text

    def shown(self, campaign_id: int, text: str) -> None:
        """Record that the message now shows `text`."""
        self._texts[campaign_id] = text
        self._texts.move_to_end(campaign_id)
        while len(self._texts) > self._limit:
            self._texts.popitem(last=False)
