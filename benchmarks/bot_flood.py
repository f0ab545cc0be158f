"""The flood of issue 15 for `benchmarks/bot.py --flood`: 500 updates pushed in 4.5 s, questions, button
presses and /start mixed, each from its own user; the p95 of each kind.

Runs in the users' process (`benchmarks/bot_users.py`). A question's or a /start's latency runs from its push
to the fake to the first sendMessage to that chat; a button press's, to its answerCallbackQuery. Before the
flood every button user gets the start menu (not measured); the press is the menu's « poser une question »,
which answers the query at once. The target: buttons and commands p95 ≤ 200 ms while the questions queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import Sequence
from typing import Any

from bot.testing import FakeTelegram, SentMessage

UPDATES, SECONDS = 500, 4.5
SHARE = {"question": 0.6, "button": 0.2, "command": 0.2}
TARGET_MS = 200.0
TIMEOUT = 180.0
BASE_USER = 5_000_000


def _kinds() -> list[str]:
    """The kinds in push order: interleaved evenly, so that buttons arrive while questions queue."""
    counts = {kind: round(UPDATES * share) for kind, share in SHARE.items()}
    order: list[tuple[float, str]] = []
    for kind, count in counts.items():
        order += [((i + 0.5) / count, kind) for i in range(count)]
    return [kind for _, kind in sorted(order)]


async def _menus(fake: FakeTelegram, users: Sequence[int]) -> dict[int, SentMessage]:
    """Each button user's start menu (their button to press during the flood)."""
    for user in users:
        await fake.user_sends(user, "/start")
    await fake.wait_for(lambda: all(fake.sent_to(u) for u in users), timeout=TIMEOUT)
    return {user: fake.sent_to(user)[0] for user in users}


async def flood(fake: FakeTelegram, questions: Sequence[str]) -> dict[str, Any]:
    kinds = _kinds()
    users = [BASE_USER + i for i in range(len(kinds))]
    menus = await _menus(fake, [u for u, k in zip(users, kinds, strict=True) if k == "button"])
    sent_before = {u: len(fake.sent_to(u)) for u in users}
    pushed: dict[int, float] = {}
    queries: dict[int, str] = {}
    start = time.monotonic()
    for number, (user, kind) in enumerate(zip(users, kinds, strict=True)):
        await asyncio.sleep(max(0.0, start + number * SECONDS / len(kinds) - time.monotonic()))
        pushed[user] = time.monotonic()
        if kind == "question":
            await fake.user_sends(user, questions[number % len(questions)])
        elif kind == "command":
            await fake.user_sends(user, "/start")
        else:
            queries[user] = await fake.user_clicks(user, menus[user], "m:ask")
    spread = time.monotonic() - start

    def done(user: int, kind: str) -> bool:
        if kind == "button":
            return fake.answered_callback(queries[user]) is not None
        return len(fake.sent_to(user)) > sent_before[user]

    with contextlib.suppress(TimeoutError, AssertionError):  # what is missing is reported
        await fake.wait_for(lambda: all(done(u, k) for u, k in zip(users, kinds, strict=True)), TIMEOUT)
    latencies: dict[str, list[float]] = {kind: [] for kind in SHARE}
    answered_at = {
        str(c.params.get("callback_query_id")): c.time for c in fake.calls_to("answerCallbackQuery")
    }
    first_message: dict[int, float] = {}
    for call in fake.calls_to("sendMessage"):
        chat = int(call.params.get("chat_id", 0))
        if chat in pushed and call.time >= pushed[chat] and chat not in first_message:
            first_message[chat] = call.time
    for user, kind in zip(users, kinds, strict=True):
        at = answered_at.get(queries[user]) if kind == "button" else first_message.get(user)
        if at is not None:
            latencies[kind].append(1000 * (at - pushed[user]))
    return {
        "updates": len(kinds),
        "spread_seconds": spread,
        "kinds": {kind: len([k for k in kinds if k == kind]) for kind in SHARE},
        "latencies_ms": latencies,
    }


def p95(values: Sequence[float]) -> float | None:
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) >= 2 else None


def flood_table(result: dict[str, Any]) -> str:
    """Markdown: per kind, how many were answered, median and p95 latency."""
    lines = [
        f"Flood: {result['updates']} updates pushed in {result['spread_seconds']:.1f} s "
        f"(target: buttons and commands p95 ≤ {TARGET_MS:.0f} ms while questions queue)",
        "",
        "| kind | answered | median (ms) | p95 (ms) |",
        "|---|---|---|---|",
    ]
    for kind, count in result["kinds"].items():
        values = result["latencies_ms"][kind]
        median = f"{statistics.median(values):.0f}" if values else "—"
        high = p95(values)
        shown = "—" if high is None else f"{high:.0f}"
        lines.append(f"| {kind} | {len(values)}/{count} | {median} | {shown} |")
    return "\n".join(lines)
