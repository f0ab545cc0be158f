"""Where the bot's CPU goes per update: yappi over every thread of the bot process, grouped by library.

    profiler = Profile(); profiler.start(); …; split = profiler.stop()  # {category: CPU seconds}

yappi (CPU clock, every thread: the event loop and the search thread) charges each function its own
time (`tsub`, callees excluded); functions are grouped by the file they live in. Builtins are not
profiled separately: `json.loads` or a socket send counts in the Python function that called it.
The profiler slows the process down (every call is timed), so latency is measured in runs without it.
"""

from __future__ import annotations

from dataclasses import dataclass

import yappi

# First match wins: a file belongs to the first category one of whose fragments its path contains.
_SEARCH = ("openvino", "tokenizers", "faiss", "numpy", "/bot/retrieval/", "/bot/embedding/")
_RENDER = ("/bot/telegram/render", "/bot/messages/", "/bot/telegram/html_split", "/html/")
_API = ("/telegram/_bot.py", "/telegram/ext/_extbot.py", "/telegram/request/", "/json/")
_HTTP = ("httpx", "httpcore", "/h11/", "anyio", "sniffio", "/ssl.py", "/socket.py")
_LOOP = ("/asyncio/", "selectors", "/concurrent/", "threading", "/queue.py", "/contextvars")
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("search (model, index)", _SEARCH),
    ("database", ("sqlalchemy", "aiosqlite", "sqlite3", "/bot/storage/", "alembic")),
    ("rendering (messages, HTML)", _RENDER),
    ("Bot API calls (request building, JSON)", _API),
    ("HTTP client (httpx, httpcore)", _HTTP),
    ("PTB dispatch (updater, handlers, filters)", ("/telegram/ext/",)),
    ("update parsing (PTB objects)", ("/telegram/",)),
    ("our handlers and services", ("/bot/",)),
    ("event loop, threads", _LOOP),
)
OTHER = "other"


def category(path: str) -> str:
    for name, fragments in CATEGORIES:
        if any(fragment in path for fragment in fragments):
            return name
    return OTHER


@dataclass(frozen=True)
class Hotspot:
    function: str  # "module:line name"
    category: str
    own_seconds: float  # CPU, callees excluded
    calls: int


@dataclass(frozen=True)
class ProfileSplit:
    total_seconds: float  # CPU of every profiled function, all threads
    by_category: dict[str, float]  # CPU seconds per category
    hotspots: list[Hotspot]  # the most expensive functions by own time


class Profile:
    """One yappi session (yappi is process-wide: one at a time)."""

    def start(self) -> None:
        yappi.stop()
        yappi.clear_stats()
        yappi.set_clock_type("cpu")
        yappi.start(builtins=False, profile_threads=True)

    def stop(self, top: int = 15) -> ProfileSplit:
        yappi.stop()
        by_category: dict[str, float] = {}
        spots: list[Hotspot] = []
        for stat in yappi.get_func_stats():
            group = category(str(stat.module))
            by_category[group] = by_category.get(group, 0.0) + float(stat.tsub)
            spots.append(
                Hotspot(f"{stat.module}:{stat.lineno} {stat.name}", group, float(stat.tsub), int(stat.ncall))
            )
        yappi.clear_stats()
        spots.sort(key=lambda s: s.own_seconds, reverse=True)
        return ProfileSplit(sum(by_category.values()), by_category, spots[:top])
