"""Testing tools that ship with the bot: a strict fake Telegram Bot API and the harness that runs the
application against it (the sandbox, the tests and the benchmarks use them). Production never imports
this package (`catabot run` with a token), only the sandbox does, lazily.

Modules: `entities` (HTML/MarkdownV2/Markdown parsing), `validation` (request parameters, keyboards,
formatted text), `records` (what the fake records), `state`, `users` (the user side), `methods` (the Bot
API methods), `updates` (polling, webhooks, round robin over instances), `server` (`FakeTelegram`) and
`harness` (`running_application`); `databases` (throw-away PostgreSQL schemas).
"""

from bot.testing.entities import EntityParseError, parse_html, parse_markdown, parse_markdown_v2, utf16_len
from bot.testing.records import (
    TINY_PNG,
    ApiError,
    Call,
    Edit,
    SentMessage,
    StoredFile,
    Upload,
    WebhookDelivery,
)
from bot.testing.server import FakeTelegram
from bot.testing.validation import validate_markup

__all__ = [
    "TINY_PNG",
    "ApiError",
    "Call",
    "Edit",
    "EntityParseError",
    "FakeTelegram",
    "SentMessage",
    "StoredFile",
    "Upload",
    "WebhookDelivery",
    "parse_html",
    "parse_markdown",
    "parse_markdown_v2",
    "utf16_len",
    "validate_markup",
]
