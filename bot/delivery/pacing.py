"""The sender's settings and its pacing within Telegram's flood limits: a global token bucket, a minimum
interval per private chat, at most `group_per_minute` messages per group in any sliding 60 s window."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

GROUP_WINDOW = 60.0  # seconds of the per-group sliding window


@dataclass
class SenderSettings:
    rate: float = 25.0  # messages per second, all chats together (Telegram allows about 30)
    per_chat_interval: float = 1.0  # seconds between two messages to one private chat
    group_per_minute: int = 20  # messages to one group (chat_id < 0) in any 60 s window
    max_attempts: int = 5  # tries before a transient failure becomes FAILED
    backoff_base: float = 2.0  # first transient retry after this many seconds, doubling each time
    backoff_max: float = 300.0
    batch: int = 100  # deliveries claimed (and held in memory) at most at a time
    idle_poll: float = 1.0  # seconds between two looks at the outbox when nothing is due
    stale_after: float = 120.0  # SENDING for longer than this at start: the sender died, send again
    burst: float = 1.0  # token bucket size, 1 ≤ burst ≤ max(rate, 1); 1 spaces messages evenly
    flood_margin: float = 0.5  # seconds added to Telegram's retry_after
    max_hold: float = 90.0  # longest a claimed delivery waits in memory for its chat; < stale_after

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.per_chat_interval < 0 or self.group_per_minute < 1:
            raise ValueError("rate and group_per_minute must be positive, per_chat_interval not negative")
        if not 1 <= self.burst <= max(self.rate, 1.0):
            raise ValueError("burst must be between 1 and rate")
        if self.max_attempts < 1 or self.batch < 1:
            raise ValueError("max_attempts and batch must be at least 1")
        if self.backoff_base < 0 or self.backoff_max < 0 or self.idle_poll <= 0 or self.flood_margin < 0:
            raise ValueError("backoff, idle_poll and flood_margin must be positive")
        if not 0 < self.max_hold < self.stale_after:
            raise ValueError("max_hold must be positive and below stale_after")

    def backoff(self, attempts: int) -> float:
        """Seconds before the retry of a delivery that failed `attempts` times before this failure."""
        return float(min(self.backoff_max, self.backoff_base * 2 ** min(attempts, 62)))


class Pacer:
    """The global token bucket and the per-chat histories. Times are seconds (POSIX timestamps)."""

    def __init__(self, settings: SenderSettings) -> None:
        self._s = settings
        self._tokens = settings.burst
        self._stamp: float | None = None
        self._private: dict[int, float] = {}  # chat → last send
        self._groups: dict[int, deque[float]] = {}  # chat → its last `group_per_minute` sends

    def _refill(self, now: float) -> None:
        if self._stamp is None or now > self._stamp:
            if self._stamp is not None:
                self._tokens = min(self._s.burst, self._tokens + (now - self._stamp) * self._s.rate)
            self._stamp = now  # a clock going back refills nothing until it passes the last stamp

    def token_wait(self, now: float) -> float:
        self._refill(now)
        return max(0.0, (1.0 - self._tokens) / self._s.rate)

    def empty(self, now: float) -> None:
        """After a flood pause, start again from an empty bucket."""
        self._refill(now)
        self._tokens = min(self._tokens, 0.0)

    def slot(self, chat_id: int, index: int, now: float) -> float:
        """When the `index`-th message queued for this chat (0 = next) may go, the global rate aside."""
        if chat_id < 0:
            k = self._s.group_per_minute
            past = self._groups.get(chat_id, ())
            m, j = len(past), index % k
            base = now if m + j < k else max(now, past[m + j - k] + GROUP_WINDOW)
            return base + GROUP_WINDOW * (index // k)
        last = self._private.get(chat_id)
        first = now if last is None else max(now, last + self._s.per_chat_interval)
        return first + index * self._s.per_chat_interval

    def record(self, chat_id: int, now: float) -> None:
        self._refill(now)
        self._tokens -= 1.0
        if chat_id < 0:
            history = self._groups.get(chat_id)
            if history is None:
                history = self._groups[chat_id] = deque(maxlen=self._s.group_per_minute)
            history.append(now)
        else:
            self._private[chat_id] = now

    def size(self) -> int:
        return len(self._private) + len(self._groups)

    def prune(self, now: float) -> None:
        """Forget chats whose limits no longer constrain anything."""
        interval = self._s.per_chat_interval
        self._private = {c: t for c, t in self._private.items() if t + interval > now}
        self._groups = {c: h for c, h in self._groups.items() if h[-1] + GROUP_WINDOW > now}
