"""The coordinators' event flows: creation (/nouvel_evenement), move, edit of one field, and the message to
those coming; each step's state lives in the conversation table (`Context.flow`)."""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

from telegram import CallbackQuery, Message, Update

from bot.conversations import Flow
from bot.events.clock import format_when, utc_to_paris
from bot.events.entries import all_day_span
from bot.events.records import FIELD_LIMITS, EventFields
from bot.events.when import understand
from bot.messages import text
from bot.telegram.context import (
    Context,
    private_only,
    privileged,
)
from bot.telegram.features.events.buttons import EDIT, MOVE, NEW_EVENT, WRITE, new_event_data
from bot.telegram.features.events.cards import event_text, when_text
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, send
from bot.text import stored_text, visible
from bot.users import Role

_LIMITS = FIELD_LIMITS
_STEPS = ("title", "start", "end", "place", "link", "description")


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
    value = message.text.strip()
    skip = value in ("-", "—")
    if current.name == EDIT:
        return await _edit_text(message, context, flow, None if skip else value, language)
    if current.name == WRITE:
        return await _write_text(message, context, flow, value, language)
    if current.name == MOVE or (
        flow.get("step") in ("start", "end") and not (flow["step"] == "end" and skip)
    ):
        return await _date_text(message, context, current, value, language)
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


async def _date_text(message: Message, context: Context, current: Flow, value: str, language: str) -> bool:
    """A date typed in the creation (start, end) or the move flow: asks to confirm what was understood.

    At the start, a day without a time is an all-day event; at the end, a time alone is on the start's
    day and « toute la journée » makes the event all-day."""
    flow, data = current.state, current.state.get("data", {})
    creating = current.name == NEW_EVENT
    start = dt.datetime.fromisoformat(data["start"]) if creating and data.get("start") else None
    understood = understand(value, context.services.events.clock(), day_of=start, all_day=creating)
    if understood.at is None:
        error = text(understood.problem or "date_not_understood", language)
        await send(message, Reply(html_text("new_event_invalid", language, error=error)))
        return True
    if start is not None and flow.get("step") == "end" and _before(understood.at, start, understood.all_day):
        when = format_when(start, None, language, all_day=bool(data.get("all_day")))
        await send(message, Reply(html_text("event_end_before_start", language, start=when)))
        return True
    flow["pending"] = understood.at.isoformat()
    flow["pending_all_day"] = understood.all_day
    await context.save_flow(current.name, flow)
    buttons = [
        [(text("new_event_date_yes", language), "ne:dy"), (text("new_event_date_no", language), "ne:dn")]
    ]
    when = format_when(understood.at, None, language, all_day=understood.all_day)
    await send(message, Reply(html_text("new_event_date_check", language, when=when), buttons))
    return True


def _before(end: dt.datetime, start: dt.datetime, all_day: bool) -> bool:
    if all_day:  # a last day: the start's day itself is fine
        return utc_to_paris(end).date() < utc_to_paris(start).date()
    return end <= start


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
    all_day = bool(flow.pop("pending_all_day", False))
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
    if all_day:  # an all-day start, or an all-day end that makes the whole event all-day
        flow["data"]["all_day"] = True
    await _next_step(message, context, flow, language)
    return None


def _draft_fields(data: dict[str, Any]) -> EventFields:
    starts_at = dt.datetime.fromisoformat(data["start"])
    ends_at = dt.datetime.fromisoformat(data["end"]) if data.get("end") else None
    if data.get("all_day"):  # stored as the all-day convention: 09:00 on the first day, 18:00 on the last
        first = utc_to_paris(starts_at).date()
        starts_at, ends_at = all_day_span(first, utc_to_paris(ends_at).date() if ends_at else first)
    return EventFields(
        title=data["title"],
        starts_at=starts_at,
        ends_at=ends_at,
        place=data.get("place"),
        link=data.get("link"),
        description=data.get("description"),
        audience=data.get("audience", "all"),
        all_day=bool(data.get("all_day")),
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
        self.all_day = fields.all_day
        self.place, self.link, self.description, self.audience = (
            fields.place,
            fields.link,
            fields.description,
            fields.audience,
        )


def draft_dropped(flow: dict[str, Any], language: str) -> str | None:
    """The notice of an event draft that another command ended; None before its title was typed."""
    title = flow.get("data", {}).get("title")
    return html_text("new_event_dropped", language, title=title) if title else None
