"""Events in Telegram: the calendar, reminders, RSVP, agenda files, and the coordinators' event tools."""

from __future__ import annotations

import datetime as dt
import html
import io
from typing import Any

from telegram import CallbackQuery, Chat, Message, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.conversations import Flow
from bot.delivery.outbox import Delivery
from bot.events.clock import format_when
from bot.events.ics import event_to_ics
from bot.events.intent import asks_for_calendar
from bot.events.records import EDITABLE_FIELDS, FIELD_LIMITS, Event, EventFields
from bot.events.service import CANCELLED_KEY, EVENT_CHANGE, EVENT_NOTICE, PLACE_PREFIX, REMINDER
from bot.events.when import relative, understand
from bot.messages import text
from bot.telegram import callbacks
from bot.telegram.context import (
    App,
    Context,
    add_drop_notice,
    add_flow_handler,
    add_job,
    add_renderers,
    on_button,
    private_only,
    privileged,
    shared_query,
)
from bot.telegram.render import Reply, html_text, topic_label
from bot.telegram.replies import query_message, replace, send
from bot.telegram.transport import Outgoing, TelegramTransport
from bot.text import stored_text, visible
from bot.users import Role
from bot.users.records import Preferences

RSVP = ("yes", "maybe", "no")
NEW_EVENT = "new_event"  # conversation flows (bot.conversations)
MOVE = "move_event"
EDIT = "edit_event"
WRITE = "write_to_participants"
CARD_DESCRIPTION = 600  # characters of a description on a card; the rest behind « Voir le détail »


def event_data(action: str, event_id: int, *rest: str) -> str:
    """`e:…` buttons of an event card: r (reminder), i (agenda file), p (RSVP), d (detail), m/x/xc (move,
    cancel), e/ef (edit, edit one field)."""
    return ":".join(("e", action, str(event_id), *rest))


def page_data(number: int) -> str:
    return f"e:g:{number}"


def subscription_data(*args: str) -> str:
    return ":".join(("s", *args))


def new_event_data(*args: str) -> str:
    return ":".join(("ne", *args))


_LIMITS = FIELD_LIMITS
_STEPS = ("title", "start", "end", "place", "link", "description")


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


_SUBSCRIPTIONS = {"all": "remind_all", "new": "new_event_notices", "ann": "announcements"}
_SUBSCRIPTION_LABELS = {
    "all": "subscription_all",
    "new": "subscription_new",
    "ann": "subscription_announcements",
}


def _subscriptions_reply(prefs: Preferences, topics: tuple[str, ...], language: str) -> Reply:
    def toggle(on: bool, label: str, data: str) -> list[tuple[str, str]]:
        return [(text("subscription_on" if on else "subscription_off", language, label=label), data)]

    rows = [
        toggle(
            bool(getattr(prefs, name)), text(_SUBSCRIPTION_LABELS[code], language), subscription_data(code)
        )
        for code, name in _SUBSCRIPTIONS.items()
    ]
    rows += [
        toggle(
            topic in prefs.topics,
            text("subscription_topic", language, topic=topic_label(topic, language)),
            subscription_data("t", topic),
        )
        for topic in topics
    ]
    return Reply(html_text("subscriptions_header", language), rows)


@private_only("abonnements")
async def subscriptions(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    prefs = await context.services.users.preferences(user.id)
    language = await context.language()
    await send(
        update.effective_message,
        _subscriptions_reply(prefs, context.services.config.announcements.topics, language),
    )


async def subscription_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    svc = context.services
    topics = svc.config.announcements.topics
    is_topic = len(args) == 2 and args[0] == "t" and args[1] in topics
    if shared_query(query) or (not is_topic and (len(args) != 1 or args[0] not in _SUBSCRIPTIONS)):
        return text("button_stale", await svc.users.language(query.from_user.id))
    user_id = query.from_user.id
    if is_topic:
        prefs = await svc.users.toggle_topic(user_id, args[1], topics)
    else:
        prefs = await svc.users.toggle_preference(user_id, _SUBSCRIPTIONS[args[0]])
    language = await context.services.users.language(user_id)
    await replace(query, _subscriptions_reply(prefs, context.services.config.announcements.topics, language))
    await query.answer()
    return None


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


@private_only("nouvel_evenement")
@privileged(Role.COORDINATOR)
async def new_event(update: Update, context: Context) -> None:
    await context.start_flow(NEW_EVENT, {"step": "title", "data": {}})
    await send(update.effective_message, Reply(html_text("new_event_title", await context.language())))


async def flow_text(update: Update, context: Context, current: Flow) -> bool:
    """A text that answers the event flow in progress (creation or move); False when it waits for none."""
    message, flow = update.effective_message, current.state
    if message is None or message.text is None:
        return False
    language = await context.language()
    svc = context.services
    value = message.text.strip()
    skip = value in ("-", "—")
    if current.name == EDIT:
        return await _edit_text(message, context, flow, None if skip else value, language)
    if current.name == WRITE:
        return await _write_text(message, context, flow, value, language)
    if current.name == MOVE or (
        flow.get("step") in ("start", "end") and not (flow["step"] == "end" and skip)
    ):
        understood = understand(value, svc.events.clock())
        if understood.at is None:
            error = text(understood.problem or "date_not_understood", language)
            await send(message, Reply(html_text("new_event_invalid", language, error=error)))
            return True
        data = flow.get("data", {})
        if flow.get("step") == "end" and understood.at.isoformat() <= data["start"]:
            error = text("event_end_before_start", language)
            await send(message, Reply(html_text("new_event_invalid", language, error=error)))
            return True
        flow["pending"] = understood.at.isoformat()
        await context.save_flow(current.name, flow)
        buttons = [
            [(text("new_event_date_yes", language), "ne:dy"), (text("new_event_date_no", language), "ne:dn")]
        ]
        when = format_when(understood.at, None, language)
        await send(message, Reply(html_text("new_event_date_check", language, when=when), buttons))
        return True
    if flow.get("step") not in _STEPS:
        return False
    step: str = flow["step"]
    data = flow["data"]
    if step == "title" and (skip or not visible(stored_text(value))):  # a title is required: ask again
        await send(message, Reply(html_text("new_event_title", language)))
        return True
    elif step in _LIMITS and len(value) > _LIMITS[step]:
        await send(message, Reply(html_text("new_event_too_long", language, limit=_LIMITS[step])))
        return True
    elif step == "link" and not skip and not value.startswith(("http://", "https://")):
        error = text("event_link_invalid", language)
        await send(message, Reply(html_text("new_event_invalid", language, error=error)))
        return True
    elif not skip:
        data[step] = value
    await _next_step(message, context, flow, language)
    return True


async def _next_step(message: Message | None, context: Context, flow: dict[str, Any], language: str) -> None:
    step = flow["step"]
    following = _STEPS[_STEPS.index(step) + 1] if step != _STEPS[-1] else None
    flow["step"] = following or "audience"
    await context.save_flow(NEW_EVENT, flow)
    if following:
        await send(message, Reply(html_text(f"new_event_{following}", language)))
    else:
        buttons = [
            [
                (text("new_event_audience_all", language), new_event_data("aud", "all")),
                (text("new_event_audience_members", language), new_event_data("aud", "members")),
            ]
        ]
        await send(message, Reply(html_text("new_event_audience", language), buttons))


async def _edit_text(
    message: Message, context: Context, flow: dict[str, Any], value: str | None, language: str
) -> bool:
    field = flow["field"]
    if field in _LIMITS and value is not None and len(value) > _LIMITS[field]:
        await send(message, Reply(html_text("new_event_too_long", language, limit=_LIMITS[field])))
        return True
    if field == "link" and value is not None and not value.startswith(("http://", "https://")):
        error = text("event_link_invalid", language)
        await send(message, Reply(html_text("new_event_invalid", language, error=error)))
        return True
    if field == "title" and (value is None or not visible(value)):
        await send(message, Reply(html_text("new_event_title", language)))
        return True
    edited = await context.services.events.edit(flow["event_id"], field, value)
    await context.end_flow(EDIT)
    reply = (
        html_text("event_edited_done", language, title=edited.title)
        if edited
        else html_text("event_unknown", language)
    )
    await send(message, Reply(reply))
    return True


async def _write_text(
    message: Message, context: Context, flow: dict[str, Any], value: str, language: str
) -> bool:
    """The coordinator's message to those coming: an announcement for the "event" audience, sent now, whose
    progress message the announcements' job keeps up to date and ends with its report."""
    svc, user = context.services, message.from_user
    event = await svc.events.get(flow["event_id"])
    if user is None or not value:
        return False
    await context.end_flow(WRITE)
    if event is None or event.status != "scheduled":
        await send(message, Reply(html_text("event_unknown", language)))
        return True
    body = html_text("event_write_header", language, title=event.title) + "\n\n" + html.escape(value)
    draft = await svc.announcements.draft(user.id, body)
    await svc.announcements.choose_audience(draft.id, "event", str(event.id))
    outcome = await svc.announcements.send_now(draft.id, user.id)
    if not outcome.launched:
        await send(message, Reply(html_text("button_stale", language)))
        return True
    progress = await message.reply_html(
        html_text("announce_progress", language, title=event.title, sent=0, total=outcome.recipients)
    )
    await svc.announcements.set_progress_message(draft.id, progress.chat_id, progress.message_id)
    return True


async def _date_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """« Oui » / « Non, corriger » under the date understood, in the creation or the move flow."""
    svc = context.services
    language = await svc.users.language(query.from_user.id)
    current = await context.flow()
    if current is None or current.name not in (NEW_EVENT, MOVE) or "pending" not in current.state:
        return text("button_stale", language)
    flow, message = current.state, query_message(query)
    pending = flow.pop("pending")
    await query.answer()
    if args == ["dn"]:
        await context.save_flow(current.name, flow)
        await send(message, Reply(html_text("new_event_date_again", language)))
        return None
    if current.name == MOVE:
        moved = await svc.events.move_to(flow["event_id"], dt.datetime.fromisoformat(pending))
        await context.end_flow(MOVE)
        done = (
            html_text("event_moved_done", language, title=moved.title, when=when_text(moved, language))
            if moved
            else html_text("event_unknown", language)
        )
        await send(message, Reply(done))
        return None
    flow["data"][flow["step"]] = pending
    await _next_step(message, context, flow, language)
    return None


def _draft_fields(data: dict[str, str]) -> EventFields:
    return EventFields(
        title=data["title"],
        starts_at=dt.datetime.fromisoformat(data["start"]),
        ends_at=dt.datetime.fromisoformat(data["end"]) if data.get("end") else None,
        place=data.get("place"),
        link=data.get("link"),
        description=data.get("description"),
        audience=data.get("audience", "all"),
    )


async def new_event_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    svc = context.services
    user_id = query.from_user.id
    language = await svc.users.language(user_id)
    flow = await context.get_flow(NEW_EVENT)
    if await svc.users.role(user_id) < Role.COORDINATOR:
        return text("button_stale", language)
    if args in (["dy"], ["dn"]):  # the date understood, in the creation or the move flow
        return await _date_button(query, context, args)
    if flow is None:
        return text("button_stale", language)
    message = query_message(query)
    if (
        args[:1] == ["aud"]
        and len(args) == 2
        and args[1] in ("all", "members")
        and flow["step"] == "audience"
    ):
        flow["data"]["audience"] = args[1]
        flow["step"] = "preview"
        await context.save_flow(NEW_EVENT, flow)
        await query.answer()
        preview = _PreviewEvent(_draft_fields(flow["data"]))
        intro = "new_event_preview_members" if args[1] == "members" else "new_event_preview"
        body = html_text(intro, language) + "\n\n" + event_text(preview, language)  # type: ignore[arg-type]
        buttons = [
            [
                (text("new_event_publish", language), new_event_data("ok")),
                (text("new_event_discard", language), new_event_data("no")),
            ]
        ]
        await send(message, Reply(body, buttons))
        return None
    # Ending the flow first makes a double tap (possibly on two instances) publish once.
    if args == ["ok"] and flow["step"] == "preview" and await context.end_flow(NEW_EVENT):
        await svc.events.publish(_draft_fields(flow["data"]), created_by=user_id)
        await query.answer()
        await send(message, Reply(html_text("new_event_published", language)))
        return None
    if args == ["no"] and await context.end_flow(NEW_EVENT):
        await query.answer()
        await send(message, Reply(html_text("new_event_discarded", language)))
        return None
    return text("button_stale", language)


class _PreviewEvent:
    """An unsaved event, shaped like `Event` for `event_text`."""

    def __init__(self, fields: EventFields) -> None:
        self.title, self.starts_at, self.ends_at = fields.title, fields.starts_at, fields.ends_at
        self.place, self.link, self.description, self.audience = (
            fields.place,
            fields.link,
            fields.description,
            fields.audience,
        )


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


async def _menu_events(update: Update, context: Context) -> None:
    if update.callback_query is not None:
        await update.callback_query.answer()
    await list_events(update, context)


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
    application.add_handler(CallbackQueryHandler(_menu_events, pattern=f"^{callbacks.menu('events')}$"))
    text_in_private = filters.ChatType.PRIVATE & fresh & filters.TEXT & ~filters.COMMAND
    add_flow_handler(
        application, (NEW_EVENT, MOVE, EDIT, WRITE), flow_text, text_in_private, Role.COORDINATOR
    )
    application.add_handler(MessageHandler(text_in_private & _CalendarQuestion(), _calendar_question))
    add_job(application, "reminders", _plan_reminders, lambda s: s.config.events.tick_seconds, first=1)
    add_renderers(application, register_renderers)
    add_drop_notice(application, NEW_EVENT, _draft_dropped)


def _draft_dropped(flow: dict[str, Any], language: str) -> str | None:
    """The notice of an event draft that another command ended; None before its title was typed."""
    title = flow.get("data", {}).get("title")
    return html_text("new_event_dropped", language, title=title) if title else None


class _CalendarQuestion(filters.MessageFilter):
    """A text asking what is coming (see `bot.events.intent`): answered here, before the knowledge base."""

    def filter(self, message: Message) -> bool:
        return message.text is not None and asks_for_calendar(message.text)


async def _calendar_question(update: Update, context: Context) -> None:
    """« C'est quand le prochain événement ? »: the next events from the calendar, with their buttons."""
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    language = await context.language()
    page = await context.services.events.page(
        1, members=await context.services.users.role(user.id) >= Role.MEMBER
    )
    if page.events:
        await send(message, Reply(html_text("events_chat_header", language)))
    await _list_for(message, context, user.id, 1, language)


async def _plan_reminders(context: Context) -> None:
    await context.services.events.plan_reminders()
