"""Turn domain results into Telegram HTML messages and inline keyboards. No I/O here."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import text, text_or
from bot.retrieval.citation import by_coordinators, citation, is_link
from bot.retrieval.search import Hit
from bot.telegram import callbacks
from bot.telegram.html_split import split_html

MAX_MESSAGE = 4096
_BUTTON_TITLE = 48


def html_text(key: str, language: str, /, **values: Any) -> str:
    """A catalogue message, every inserted text escaped for Telegram HTML (numbers kept, for plurals)."""
    return text(
        key, language, **{n: v if isinstance(v, int) else html.escape(str(v)) for n, v in values.items()}
    )


@dataclass(frozen=True)
class Reply:
    """A message and its buttons, rows of (label, callback data); data starting with https:// is a link."""

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)

    def markup(self) -> InlineKeyboardMarkup | None:
        if not self.buttons:
            return None
        return InlineKeyboardMarkup([[_button(label, data) for label, data in row] for row in self.buttons])


def _button(label: str, data: str) -> InlineKeyboardButton:
    if data.startswith("https://"):
        return InlineKeyboardButton(label, url=data)
    return InlineKeyboardButton(label, callback_data=data)


def split_message(message: str, limit: int = MAX_MESSAGE) -> list[str]:
    """Telegram HTML in parts that each parse and fit `limit` (see `bot.telegram.html_split`)."""
    return split_html(message, limit)


def topic_label(topic: str, language: str) -> str:
    """A subscription topic as users read it: the catalogue's `topic_<id>` (« Appels à projets »), else the
    id made readable ("nouveau-sujet" → « Nouveau sujet »)."""
    return text_or(f"topic_{topic}", language, topic.replace("-", " ").capitalize())


def short_title(title: str) -> str:
    return title if len(title) <= _BUTTON_TITLE else title[: _BUTTON_TITLE - 1].rstrip() + "…"


def hit_message(hit: Hit, language: str) -> str:
    title = citation(hit.chunk, language) or hit.chunk.title
    if not is_link(hit.chunk.url):  # a document imported without a URL is cited by its file name
        if not by_coordinators(hit.chunk.url):  # a coordinators' answer by their citation line alone
            title = f"{title} ({hit.chunk.url})"
        return html_text("answer_unlinked", language, passage=hit.passage, title=title)
    urls = hit.urls
    if len(urls) == 1:
        return html_text("answer", language, passage=hit.passage, url=urls[0], title=title)
    links = ", ".join(f'<a href="{html.escape(u)}">{html.escape(_site(u))}</a>' for u in urls)
    passage, title = html.escape(hit.passage), html.escape(title)
    return text("answer_sources", language, passage=passage, title=title, links=links)


def _site(url: str) -> str:
    """A link's label when several are shown: its site (« lerameau.fr »)."""
    return (urlsplit(url).hostname or url).removeprefix("www.")


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
