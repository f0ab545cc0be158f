"""Turn domain results into Telegram HTML messages and inline keyboards. No I/O here."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.messages import LANGUAGES, text
from bot.retrieval.citation import citation, is_link
from bot.retrieval.search import Answer, Hit
from bot.telegram import callbacks

MAX_MESSAGE = 4096
_BUTTON_TITLE = 48


def html_text(key: str, language: str, **values: Any) -> str:
    """A catalogue message with every inserted value escaped for Telegram HTML."""
    return text(key, language, **{name: html.escape(str(value)) for name, value in values.items()})


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
    """Cut a long message at line breaks (our templates never open a tag across lines)."""
    parts: list[str] = []
    current = ""
    for line in message.split("\n"):
        while len(line) > limit:  # a single enormous line: cut it, escaping is already done per value
            head, line = line[:limit], line[limit:]
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


def _short(title: str) -> str:
    return title if len(title) <= _BUTTON_TITLE else title[: _BUTTON_TITLE - 1].rstrip() + "…"


def hit_message(hit: Hit, language: str) -> str:
    title = citation(hit.chunk, language) or hit.chunk.title
    if not is_link(hit.chunk.url):  # a document imported without a URL is cited by its file name
        return html_text("answer_unlinked", language, passage=hit.passage, title=f"{title} ({hit.chunk.url})")
    return html_text("answer", language, passage=hit.passage, url=hit.chunk.url, title=title)


def answer_reply(answer: Answer, question_id: int | None, language: str) -> Reply:
    """The reply to a question, in the question's language when the catalogue has it (else `language`).

    `question_id` is None for an off-topic question, which is not kept: no feedback or lead buttons then.
    """
    if answer.language in LANGUAGES:
        language = answer.language
    if question_id is None:
        links = "".join(
            f'\n• <a href="{html.escape(h.url)}">{html.escape(h.chunk.title)}</a>'
            for h in answer.hits
            if is_link(h.url)
        )
        body = html_text("off_topic", language)
        if links:
            body += "\n" + html_text("off_topic_leads", language) + links
        return Reply(body + "\n" + html_text("no_answer_site", language))
    leads = answer.hits[1:] if answer.answered else answer.hits
    lead_rows = [
        [(f"📄 {_short(h.chunk.title)}", callbacks.lead(question_id, h.chunk.resource_id))]
        for h in leads
        if callbacks.fits(callbacks.lead(question_id, h.chunk.resource_id))
    ]
    if answer.answered and answer.best is not None:
        body = hit_message(answer.best, language)
        if language != "fr":
            body += "\n" + html_text("answer_source_in_french", language)
        if lead_rows:
            body += "\n\n" + html_text("answer_leads", language)
        feedback = [("👍", callbacks.feedback(question_id, 1)), ("👎", callbacks.feedback(question_id, -1))]
        return Reply(body, [*lead_rows, feedback])
    body = html_text("no_answer", language)
    if lead_rows:
        body += "\n" + html_text("no_answer_leads", language)
    body += "\n" + html_text("no_answer_site", language)
    return Reply(body, lead_rows)


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
