"""Coordinator announcements in Telegram: compose, choose the audience, preview, send or schedule,
approval, progress and report. Delivery itself goes through the outbox, like reminders.

`texts` (callback data, what recipients see, progress and report), `compose` (/annonce and its flow and
buttons), `campaigns` (/campagnes, the progress job, the opt-out, the outbox renderer).
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.telegram.context import App, add_flow_handler, add_job, add_renderers, on_button
from bot.telegram.features.announcements.campaigns import (
    campaigns_command,
    register_renderer,
    unsubscribe,
    update_progress,
)
from bot.telegram.features.announcements.compose import announce, announce_button, flow_message
from bot.telegram.features.announcements.texts import ANNOUNCE, UNSUBSCRIBE, announce_data
from bot.users import Role

__all__ = ["announce_data", "register", "register_renderer", "update_progress"]


def register(application: App) -> None:
    """/annonce, /campagnes, the announcement buttons and flow, the opt-out button, the progress job and how
    an announcement looks when the outbox sends it."""
    fresh = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("annonce", announce, filters=fresh))
    application.add_handler(CommandHandler("campagnes", campaigns_command, filters=fresh))
    application.add_handler(CallbackQueryHandler(on_button(announce_button), pattern=r"^an:"))
    application.add_handler(CallbackQueryHandler(unsubscribe, pattern=f"^{UNSUBSCRIBE}$"))
    content = filters.ChatType.PRIVATE & fresh & ~filters.COMMAND  # a text, a photo or a document
    add_flow_handler(application, (ANNOUNCE,), flow_message, content, Role.COORDINATOR)
    add_job(application, "progress", update_progress, lambda s: s.config.announcements.progress_seconds)
    add_renderers(application, register_renderer)
