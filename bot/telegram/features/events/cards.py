"""Event cards: the calendar pages, the card buttons (reminder, RSVP, agenda file, detail) and the
coordinators' tools on a card (move, edit, cancel, write to those coming)."""

from __future__ import annotations

import io
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update
from telegram.ext import filters

from bot.events.clock import format_when, utc_to_paris
from bot.events.ics import event_to_ics
from bot.events.intent import asked_period, asks_for_calendar
from bot.events.records import EDITABLE_FIELDS, Event
from bot.messages import text
from bot.telegram import callbacks
from bot.telegram.context import (
    Context,
    shared_query,
)
from bot.telegram.features.events.buttons import EDIT, MOVE, RSVP, WRITE, event_data, page_data
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, replace, send
from bot.users import Role

CARD_DESCRIPTION = 600  # characters of a description on a card; the rest behind « Voir le détail »


def when_text(event: Event | Any, language: str) -> str:
    return format_when(
        event.starts_at, event.ends_at, language, all_day=bool(getattr(event, "all_day", False))
    )


def event_text(event: Event, language: str, counts: dict[str, int] | None = None) -> str:
    """The card: a description longer than CARD_DESCRIPTION is cut at a space, the rest behind the
    « Voir le détail » button, so that a card and its edits stay far under Telegram's 4,096 characters."""
    lines = [html_text("event_card", language, title=event.title, when=when_text(event, language))]
    if event.place:
        lines.append(html_text("event_place", language, place=event.place))
    if event.link:
        lines.append(html_text("event_link", language, link=event.link))
    if event.description:
        description = event.description
        if len(description) > CARD_DESCRIPTION:
            cut = description.rfind(" ", 0, CARD_DESCRIPTION)
            description = description[: cut if cut > CARD_DESCRIPTION // 2 else CARD_DESCRIPTION].rstrip()
            description += " " + text("event_more", language)
        lines.append(html_text("event_description", language, description=description))
    if event.audience == "members":
        lines.append(html_text("event_members_only", language))
    if counts is not None:
        parts = {a: text(f"event_rsvp_count_{a}", language, count=counts.get(a, 0)) for a in RSVP}
        lines.append(html_text("event_rsvp_counts", language, **parts))
    return "\n".join(lines)


async def event_reply(
    context: Context, event: Event, user_id: int, language: str, *, shared: bool = False
) -> Reply:
    """The card as `user_id` sees it (their RSVP and reminder, a coordinator's counts and tools); in a
    `shared` chat, the public card everyone may see, whoever asked."""
    svc = context.services
    if shared:
        chosen, reminded, counts, coordinator = None, False, None, False
    else:
        role = await svc.users.role(user_id)
        card = await svc.events.card(event, user_id, role)
        chosen, reminded, counts = card.chosen, card.reminded, card.counts
        coordinator = role >= Role.COORDINATOR

    def rsvp_label(answer: str) -> str:
        label = text(f"event_{answer}", language)
        return text("event_chosen", language, label=label) if answer == chosen else label

    rows = [
        [(text("event_remind_on" if reminded else "event_remind", language), event_data("r", event.id)),
         (text("event_calendar", language), event_data("i", event.id))],
        [(rsvp_label(a), event_data("p", event.id, a)) for a in RSVP],
    ]  # fmt: skip
    if event.description and len(event.description) > CARD_DESCRIPTION:
        rows.append([(text("event_detail", language), event_data("d", event.id))])
    if coordinator:
        rows.append(
            [
                (text("event_move", language), event_data("m", event.id)),
                (text("event_edit", language), event_data("e", event.id)),
                (text("event_cancel", language), event_data("x", event.id)),
            ]
        )
        rows.append([(text("event_write", language), event_data("w", event.id))])
    return Reply(event_text(event, language, counts), rows)


async def list_events(update: Update, context: Context, page: int = 1) -> None:
    user, message = update.effective_user, update.effective_message
    if user is not None and message is not None:
        await _list_for(message, context, user.id, page, await context.language())


async def events_command(update: Update, context: Context) -> None:
    await list_events(update, context)


async def event_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """`e:…` buttons; returns the stale-button text when the button is forged, stale or not allowed."""
    svc = context.services
    user_id = query.from_user.id
    language = await svc.users.language(user_id)
    stale = text("button_stale", language)
    shared = shared_query(query)  # the presser's choice is confirmed by the toast, the card stays public
    number = callbacks.row_id(args[1]) if len(args) >= 2 else None  # a page or an event id
    if args[:1] == ["g"] and len(args) == 2 and number is not None:
        await query.answer()
        if isinstance(query.message, Message):
            await _list_for(query.message, context, user_id, number, language)
        return None
    if number is None:
        return stale
    event = await svc.events.visible(number, Role.NEWCOMER if shared else await svc.users.role(user_id))
    if event is None:
        return text("event_unknown", language)
    action, rest = args[0], args[2:]
    notice: str | None = None
    if action == "r" and not rest:
        on = await svc.events.toggle_reminder(user_id, event.id)
        notice = text("event_reminder_on" if on else "event_reminder_off", language)
    elif action == "p" and len(rest) == 1 and rest[0] in RSVP:
        await svc.events.rsvp(user_id, event.id, rest[0])
        notice = text("event_rsvp_saved", language, answer=text(f"event_{rest[0]}", language))
    elif action == "i" and not rest:
        await query.answer()
        await send_ics(query, event, language)
        return None
    elif action == "d" and not rest:
        await query.answer()
        head = html_text("event_card", language, title=event.title, when=when_text(event, language))
        body = html_text("event_description", language, description=event.description or "")
        await send(query_message(query), Reply(f"{head}\n{body}"))
        return None
    elif not shared and (
        (action in ("m", "x", "xc", "e", "w") and not rest)
        or (action == "ef" and rest[:1] in [[f] for f in EDITABLE_FIELDS])
    ):  # a coordinator's tools, never from a group
        return await _coordinator_action(query, context, event, action, language, rest)
    else:
        return stale
    await query.answer(notice)  # first: the press is answered even if Telegram refuses the edit
    await replace(query, await event_reply(context, event, user_id, language, shared=shared))
    return None


async def _list_for(message: Message, context: Context, user_id: int, page: int, language: str) -> None:
    """A page of the calendar; in a group, the public one (no members-only event, public cards)."""
    svc = context.services
    shared = message.chat.type != Chat.PRIVATE
    members = not shared and await svc.users.role(user_id) >= Role.MEMBER
    found = await svc.events.page(page, members=members)
    if not found.events:
        await send(message, Reply(html_text("events_none", language)))
        return
    for event in found.events:
        await send(message, await event_reply(context, event, user_id, language, shared=shared))
    nav = []
    if found.number > 1:
        nav.append((text("events_previous", language), page_data(found.number - 1)))
    if found.number < found.pages:
        nav.append((text("events_next", language), page_data(found.number + 1)))
    if nav:
        await send(
            message, Reply(html_text("events_page", language, number=found.number, pages=found.pages), [nav])
        )


async def send_ics(query: CallbackQuery, event: Event, language: str) -> None:
    if isinstance(query.message, Message):
        document = io.BytesIO(event_to_ics(event))
        caption = html_text("event_ics_caption", language, title=event.title)
        await query.message.reply_document(document, filename=f"evenement-{event.id}.ics", caption=caption)


async def _coordinator_action(
    query: CallbackQuery, context: Context, event: Event, action: str, language: str, rest: list[str]
) -> str | None:
    svc = context.services
    user_id = query.from_user.id
    if await svc.users.role(user_id) < Role.COORDINATOR:
        return text("button_stale", language)
    await query.answer()
    message = query_message(query)
    if message is None:
        return None
    if action == "x":
        buttons = [
            [
                (text("event_cancel_yes", language), event_data("xc", event.id)),
                (text("event_cancel_no", language), callbacks.menu("ask")),
            ]
        ]
        await send(message, Reply(html_text("event_cancel_confirm", language, title=event.title), buttons))
    elif action == "xc":
        await svc.events.cancel(event.id)
        await send(message, Reply(html_text("event_cancelled_done", language, title=event.title)))
    elif action == "e":
        fields = [
            (text(f"event_field_{f}", language), event_data("ef", event.id, f)) for f in EDITABLE_FIELDS
        ]
        await send(
            message,
            Reply(html_text("event_edit_choose", language, title=event.title), [fields[:2], fields[2:]]),
        )
    elif action == "w":
        coming = len(await svc.events.participants(event.id))
        if not coming:
            await send(message, Reply(html_text("event_write_nobody", language, title=event.title)))
            return None
        await context.start_flow(WRITE, {"event_id": event.id})
        await send(message, Reply(html_text("event_write_ask", language, count=coming, title=event.title)))
    elif action == "ef":
        await context.start_flow(EDIT, {"event_id": event.id, "field": rest[0]})
        field = text(f"event_field_{rest[0]}", language)
        await send(message, Reply(html_text("event_edit_ask", language, field=field)))
    else:
        await context.start_flow(MOVE, {"event_id": event.id})
        await send(message, Reply(html_text("event_move_ask", language, title=event.title)))
    return None


async def menu_events(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await list_events(update, context)


class CalendarQuestion(filters.MessageFilter):
    """A text asking what is coming (see `bot.events.intent`): answered here, before the knowledge base."""

    def filter(self, message: Message) -> bool:
        return message.text is not None and asks_for_calendar(message.text)


async def calendar_question(update: Update, context: Context) -> None:
    """« C'est quand le prochain événement ? »: the next events from the calendar, with their buttons."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    language = await context.language()
    svc = context.services
    shared = message.chat.type != Chat.PRIVATE
    members = not shared and await svc.users.role(user.id) >= Role.MEMBER
    period = asked_period(message.text or "", utc_to_paris(svc.events.clock()).date())
    if period is not None:
        found = await svc.events.in_period(period.first, period.last, members=members)
        label = period.label(language)
        if found:
            await send(message, Reply(html_text("events_period_header", language, period=label)))
            for event in found:
                await send(message, await event_reply(context, event, user.id, language, shared=shared))
            return
        await send(message, Reply(html_text("events_period_none", language, period=label)))
    elif (await svc.events.page(1, members=members)).events:
        await send(message, Reply(html_text("events_chat_header", language)))
    await _list_for(message, context, user.id, 1, language)
