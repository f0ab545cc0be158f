"""Events in Telegram: the calendar, reminders, RSVP, agenda files, and the coordinators' event tools.

One module per concern: `buttons` (callback data, flow names), `cards` (the calendar and its cards),
`subscriptions`, `flows` (the coordinators' multi-step flows) and `notices` (how the outbox's reminders
and notices look); `register` adds them all.
"""

from __future__ import annotations

from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.telegram import callbacks
from bot.telegram.context import App, add_drop_notice, add_flow_handler, add_job, add_renderers, on_button
from bot.telegram.features.events.buttons import (
    EDIT,
    MOVE,
    NEW_EVENT,
    WRITE,
    event_data,
    new_event_data,
    page_data,
    subscription_data,
)
from bot.telegram.features.events.cards import (
    CalendarQuestion,
    calendar_question,
    event_button,
    events_command,
    menu_events,
)
from bot.telegram.features.events.flows import draft_dropped, flow_text, new_event, new_event_button
from bot.telegram.features.events.notices import plan_reminders, register_renderers
from bot.telegram.features.events.subscriptions import subscription_button, subscriptions
from bot.users import Role

__all__ = ["event_data", "new_event_data", "page_data", "register", "subscription_data"]


def register(application: App) -> None:
    """/evenements, /abonnements, /nouvel_evenement, the event and subscription buttons, the event flows and
    how reminders and notices look when the outbox sends them."""
    fresh = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("evenements", events_command, filters=fresh))
    application.add_handler(CommandHandler("abonnements", subscriptions, filters=fresh))
    application.add_handler(CommandHandler("nouvel_evenement", new_event, filters=fresh))
    application.add_handler(CallbackQueryHandler(on_button(event_button), pattern=r"^e:"))
    application.add_handler(CallbackQueryHandler(on_button(subscription_button), pattern=r"^s:"))
    application.add_handler(CallbackQueryHandler(on_button(new_event_button), pattern=r"^ne:"))
    application.add_handler(CallbackQueryHandler(menu_events, pattern=f"^{callbacks.menu('events')}$"))
    text_in_private = filters.ChatType.PRIVATE & fresh & filters.TEXT & ~filters.COMMAND
    add_flow_handler(
        application, (NEW_EVENT, MOVE, EDIT, WRITE), flow_text, text_in_private, Role.COORDINATOR
    )
    application.add_handler(MessageHandler(text_in_private & CalendarQuestion(), calendar_question))
    add_job(application, "reminders", plan_reminders, lambda s: s.config.events.tick_seconds, first=1)
    add_renderers(application, register_renderers)
    add_drop_notice(application, NEW_EVENT, draft_dropped)
