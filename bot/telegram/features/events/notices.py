"""How reminders and event notices look when the outbox sends them, and the reminders' planning job."""

from __future__ import annotations

from typing import Any

from bot.delivery.outbox import Delivery
from bot.events.records import Event
from bot.events.service import CANCELLED_KEY, EVENT_CHANGE, EVENT_NOTICE, PLACE_PREFIX, REMINDER
from bot.events.when import relative
from bot.messages import text
from bot.telegram.context import (
    Context,
)
from bot.telegram.features.events.buttons import event_data
from bot.telegram.features.events.cards import when_text
from bot.telegram.render import html_text
from bot.telegram.transport import Outgoing, TelegramTransport


def register_renderers(transport: TelegramTransport, context_services: Any) -> None:
    """How reminders and event notices look when the sender delivers them (checked again at send time)."""

    async def load(delivery: Delivery) -> tuple[Event, str]:
        event = await context_services.events.deliverable(delivery)
        return event, await context_services.users.language(delivery.chat_id)

    def agenda(event: Event, language: str) -> list[list[tuple[str, str]]]:
        return [[(text("event_calendar", language), event_data("i", event.id))]]

    async def reminder(delivery: Delivery) -> Outgoing:
        event, language = await load(delivery)
        now = context_services.events.clock()
        soon = relative(event.starts_at, now, language, all_day=event.all_day)
        when = text("reminder_when", language, relative=soon, when=when_text(event, language))
        body = html_text("reminder_message", language, title=event.title, when=when)
        extra = [html_text("event_place", language, place=event.place)] if event.place else []
        extra += [html_text("event_link", language, link=event.link)] if event.link else []
        return Outgoing("\n".join([body, *extra]), agenda(event, language))

    async def notice(delivery: Delivery) -> Outgoing:
        event, language = await load(delivery)
        body = html_text("event_notice_message", language, title=event.title, when=when_text(event, language))
        buttons = [
            [
                (text("event_remind", language), event_data("r", event.id)),
                (text("event_calendar", language), event_data("i", event.id)),
            ]
        ]
        return Outgoing(body, buttons)

    async def change(delivery: Delivery) -> Outgoing:
        event, language = await load(delivery)
        when = when_text(event, language)
        if delivery.key == CANCELLED_KEY:
            return Outgoing(html_text("event_cancelled_message", language, title=event.title, when=when))
        if delivery.key.startswith(PLACE_PREFIX):
            place = event.place or text("event_place_removed", language)
            body = html_text(
                "event_place_changed_message", language, title=event.title, when=when, place=place
            )
            return Outgoing(body, agenda(event, language))
        return Outgoing(
            html_text("event_moved_message", language, title=event.title, when=when), agenda(event, language)
        )

    transport.register(REMINDER, reminder)
    transport.register(EVENT_NOTICE, notice)
    transport.register(EVENT_CHANGE, change)


async def plan_reminders(context: Context) -> None:
    await context.services.events.plan_reminders()
