"""Turn domain results into Telegram HTML messages and inline keyboards. No I/O here."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import text, text_or
from bot.retrieval.citation import citation, is_link
from bot.retrieval.search import Hit
from bot.telegram import callbacks

MAX_MESSAGE = 4096
_BUTTON_TITLE = 48


def html_text(key: str, language: str, **values: Any) -> str:
    """A catalogue message, every inserted text escaped for Telegram HTML (numbers kept, for plurals)."""
    return text(
        key, language, **{n: v if isinstance(v, int) else html.escape(str(v)) for n, v in values.items()}
    )


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)

    def markup(self) -> InlineKeyboardMarkup | None:
        if not self.buttons:
            return None
        return InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in self.buttons]
        )


def split_message(message: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Cut a long message at line breaks (our templates never open a tag across lines); a line longer than
    `limit` is cut at a safe point (see `_safe_cut`)."""
    parts: list[str] = []
    current = ""
    for line in message.split("\n"):
        while len(line) > limit:  # a single enormous line
            cut = _safe_cut(line, limit)
            head, line = line[:cut], line[cut:].lstrip(" ")
            if current:
                parts.append(current)
                current = ""
            parts.append(head)
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        parts.append(current)
    return parts or [message[:limit]]


def _safe_cut(line: str, limit: int) -> int:
    """Where to cut `line` (HTML, escaped) at most `limit` characters in: after a space when there is one in
    the second half, and never inside an entity (`&lt;`), a tag, or between a tag and its closing tag."""
    cut = line.rfind(" ", limit // 2, limit) + 1 or limit
    amp = line.rfind("&", 0, cut)
    if amp != -1 and ";" not in line[amp:cut]:
        cut = amp
    opened = [m for m in re.finditer(r"<(/?)([a-z]+)[^>]*>?", line[:cut])]
    depth = 0
    for tag in opened:  # cut before the last tag still open at `cut`
        if not tag.group(0).endswith(">"):
            return tag.start() or cut
        depth += -1 if tag.group(1) else 1
    if depth > 0:
        last_open = max(t.start() for t in opened if not t.group(1))
        cut = last_open or cut
    return max(cut, 1)


def topic_label(topic: str, language: str) -> str:
    """A subscription topic as users read it: the catalogue's `topic_<id>` (« Appels à projets »), else the
    id made readable ("nouveau-sujet" → « Nouveau sujet »)."""
    return text_or(f"topic_{topic}", language, topic.replace("-", " ").capitalize())


def short_title(title: str) -> str:
    return title if len(title) <= _BUTTON_TITLE else title[: _BUTTON_TITLE - 1].rstrip() + "…"


def hit_message(hit: Hit, language: str) -> str:
    title = citation(hit.chunk, language) or hit.chunk.title
    if not is_link(hit.chunk.url):  # a document imported without a URL is cited by its file name
        return html_text("answer_unlinked", language, passage=hit.passage, title=f"{title} ({hit.chunk.url})")
    return html_text("answer", language, passage=hit.passage, url=hit.chunk.url, title=title)


def menu_reply(language: str) -> Reply:
    return Reply(
        html_text("welcome", language),
        [
            [
                (text("menu_ask", language), callbacks.menu("ask")),
                (text("menu_diagnostic", language), callbacks.menu("diag")),
            ],
            [
                (text("menu_events", language), callbacks.menu("events")),
                (text("menu_network", language), callbacks.menu("net")),
            ],
        ],
    )
