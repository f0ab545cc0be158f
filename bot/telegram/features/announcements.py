"""Coordinator announcements in Telegram: compose, choose the audience, preview, send or schedule,
approval, progress and report. Delivery itself goes through the outbox, like reminders."""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Sequence
from typing import Any

from telegram import CallbackQuery, Message, MessageEntity, Update
from telegram.constants import MessageLimit
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.announcements.entities import Span, entities_html
from bot.announcements.records import Campaign
from bot.announcements.service import Outcome, OutcomeKind, Report
from bot.conversations import Flow
from bot.delivery.outbox import Delivery
from bot.events.clock import format_when, paris_to_utc, parse_local
from bot.messages import text
from bot.telegram import callbacks
from bot.telegram.context import (
    App,
    Context,
    add_flow_handler,
    add_job,
    add_renderers,
    on_button,
    private_only,
    privileged,
)
from bot.telegram.render import Reply, html_text, topic_label
from bot.telegram.replies import query_message, send
from bot.telegram.transport import Outgoing, TelegramTransport
from bot.users import Role

ANNOUNCEMENT = "announcement"
ANNOUNCE = "announce"  # the conversation flow (bot.conversations)
AUDIENCES = ("all", "members", "coordinators", "topic", "me")
UNSUBSCRIBE = "a:unsub"
_PROGRESS_SHOWN = "announcement_progress_shown"


def announce_data(action: str, campaign_id: int, *rest: str) -> str:
    """`an:…` buttons: aud/top (audience, topic), go/at/no (send now, schedule, discard), ok (approve),
    x (cancel)."""
    return ":".join(("an", action, str(campaign_id), *rest))


def _title(campaign: Campaign) -> str:
    plain = html.unescape(re.sub(r"<[^>]+>", "", campaign.text or campaign.media_name or "")).strip()
    first = plain.splitlines()[0] if plain else f"#{campaign.id}"
    return first if len(first) <= 40 else first[:39].rstrip() + "…"


def _number(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def outgoing(campaign: Campaign, language: str) -> Outgoing:
    """The announcement exactly as recipients see it, with its opt-out button."""
    buttons = [[(text("announce_unsubscribe", language), UNSUBSCRIBE)]]
    if campaign.media_kind == "photo":
        return Outgoing(campaign.text, buttons, photo=campaign.media_file_id)
    if campaign.media_kind == "document":
        return Outgoing(campaign.text, buttons, document=campaign.media_file_id)
    return Outgoing(campaign.text, buttons)


@private_only("annonce")
@privileged(Role.COORDINATOR)
async def announce(update: Update, context: Context) -> None:
    await context.start_flow(ANNOUNCE, {"step": "content"})
    await send(update.effective_message, Reply(html_text("announce_ask", await context.language())))


async def flow_message(update: Update, context: Context, current: Flow) -> bool:
    """A message that answers the announcement flow (its content, or the time to send it)."""
    message, user, flow = update.effective_message, update.effective_user, current.state
    if message is None or user is None:
        return False
    svc = context.services
    language = await context.language()
    if flow["step"] == "content":
        return await _content(message, context, flow, user.id, language)
    if flow["step"] == "schedule" and message.text:
        try:
            send_at = paris_to_utc(parse_local(message.text.strip()))
        except ValueError as exc:
            await send(message, Reply(html_text("new_event_invalid", language, error=str(exc))))
            return True
        if send_at <= svc.users.clock():
            await send(message, Reply(html_text("announce_schedule_past", language)))
            return True
        if not await context.end_flow(ANNOUNCE):  # a double send, handled already
            return True
        outcome = await svc.announcements.schedule(flow["campaign"], send_at, by=user.id)
        await _after_launch(message, context, outcome, language, when=format_when(send_at, None, language))
        return True
    return False


def _html(text: str | None, entities: Sequence[MessageEntity]) -> str:
    """The announcement as Telegram HTML, rebuilt from its entities with escaped attributes."""
    spans = [
        Span(
            str(e.type),
            e.offset,
            e.length,
            e.url,
            e.language,
            e.user.id if e.user else None,
            e.custom_emoji_id,
        )
        for e in entities
    ]
    return entities_html(text or "", spans)


async def _content(
    message: Message, context: Context, flow: dict[str, Any], user_id: int, language: str
) -> bool:
    if message.photo:
        body, kind, file_id, name = (
            _html(message.caption, message.caption_entities),
            "photo",
            message.photo[-1].file_id,
            None,
        )
        limit = MessageLimit.CAPTION_LENGTH
    elif message.document:
        body, kind, file_id = (
            _html(message.caption, message.caption_entities),
            "document",
            message.document.file_id,
        )
        name, limit = message.document.file_name, MessageLimit.CAPTION_LENGTH
    elif message.text:
        body, kind, file_id, name = _html(message.text, message.entities), None, None, None
        limit = MessageLimit.MAX_TEXT_LENGTH
    else:
        await send(message, Reply(html_text("announce_ask", language)))
        return True
    length = len(message.caption or message.text or "")
    if length > limit:
        await send(message, Reply(html_text("announce_too_long", language, length=length, limit=limit)))
        return True
    campaign = await context.services.announcements.draft(
        user_id, body, media_kind=kind, media_file_id=file_id, media_name=name
    )
    flow.update(step="audience", campaign=campaign.id)
    await context.save_flow(ANNOUNCE, flow)
    choices = [
        (text(f"announce_audience_{a}", language), announce_data("aud", campaign.id, a)) for a in AUDIENCES
    ]
    await send(
        message, Reply(html_text("announce_audience", language), [choices[:2], choices[2:4], choices[4:]])
    )
    return True


async def _preview(
    message: Message,
    context: Context,
    campaign_id: int,
    audience: str,
    language: str,
    topic: str | None = None,
) -> bool:
    preview = await context.services.announcements.choose_audience(campaign_id, audience, topic)
    if preview is None:
        return False
    await send(message, Reply(html_text("announce_preview_intro", language)))
    await _send_outgoing(message, outgoing(preview.campaign, language))
    count = text(
        "announce_preview_count",
        language,
        recipients=text("announce_recipients", language, count=preview.recipients),
        opted_out=text("announce_opted_out", language, count=preview.opted_out),
    )
    buttons = [
        [
            (text("announce_send_now", language), announce_data("go", campaign_id)),
            (text("announce_schedule", language), announce_data("at", campaign_id)),
        ],
        [(text("announce_discard", language), announce_data("no", campaign_id))],
    ]
    await send(message, Reply(count, buttons))
    return True


async def _send_outgoing(message: Message, out: Outgoing) -> None:
    markup = out.markup()
    if out.photo is not None:
        await message.reply_photo(out.photo, caption=out.text or None, reply_markup=markup)
    elif isinstance(out.document, str):
        await message.reply_document(out.document, caption=out.text or None, reply_markup=markup)
    else:
        await message.reply_html(out.text, reply_markup=markup, disable_web_page_preview=True)


async def _after_launch(
    message: Message | None, context: Context, outcome: Outcome, language: str, when: str = ""
) -> None:
    svc = context.services
    campaign = outcome.campaign
    if campaign is None or message is None:
        return
    if outcome.kind == OutcomeKind.PAST:
        await send(message, Reply(html_text("announce_schedule_past", language)))
        return
    if outcome.kind == OutcomeKind.AWAITING_APPROVAL:
        await send(message, Reply(html_text("announce_awaiting", language)))
        approvers = set(await svc.announcements.approvers(campaign)) | (
            svc.users.admins - {campaign.author_id}
        )
        for approver in sorted(approvers):
            await _ask_approval(context, approver, campaign, outcome.recipients)
        return
    if not outcome.launched:
        await send(message, Reply(html_text("button_stale", language)))
        return
    if when:
        await send(message, Reply(html_text("announce_scheduled", language, when=when)))
    progress = await message.reply_html(
        _progress_text(campaign, 0, outcome.recipients + outcome.opted_out, language)
    )
    await svc.announcements.set_progress_message(campaign.id, progress.chat_id, progress.message_id)


async def _ask_approval(context: Context, approver: int, campaign: Campaign, recipients: int) -> None:
    """Show another coordinator the announcement as recipients will see it, with an approval button."""
    language = await context.services.users.language(approver)
    out = outgoing(campaign, language)
    request = Reply(
        html_text("announce_approval_request", language, count=recipients),
        [[(text("announce_approve", language), announce_data("ok", campaign.id))]],
    )
    bot = context.bot
    with contextlib.suppress(TelegramError):  # a coordinator who never talked to the bot, or blocked it
        if out.photo is not None:
            await bot.send_photo(approver, out.photo, caption=out.text or None)
        elif isinstance(out.document, str):
            await bot.send_document(approver, out.document, caption=out.text or None)
        else:
            await bot.send_message(approver, out.text, disable_web_page_preview=True)
        await bot.send_message(approver, request.text, reply_markup=request.markup())


def _progress_text(campaign: Campaign, sent: int, total: int, language: str) -> str:
    return html_text(
        "announce_progress", language, title=_title(campaign), sent=_number(sent), total=_number(total)
    )


async def announce_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """`an:…` buttons; returns the stale-button text when the button is forged, stale or not allowed."""
    svc = context.services
    user_id = query.from_user.id
    language = await svc.users.language(user_id)
    stale = text("button_stale", language)
    campaign_id = callbacks.row_id(args[1]) if len(args) >= 2 else None
    if await svc.users.role(user_id) < Role.COORDINATOR or campaign_id is None:
        return stale
    action = args[0]
    campaign = await svc.announcements.get(campaign_id)
    if campaign is None:
        return stale
    message = query_message(query)
    mine = campaign.author_id == user_id
    draft = campaign.status == "draft"
    if action == "aud" and len(args) == 3 and args[2] == "topic" and mine and draft:
        rows = [
            [(topic_label(t, language), announce_data("top", campaign_id, t))]
            for t in svc.config.announcements.topics
        ]
        await query.answer()
        await send(message, Reply(html_text("announce_topic", language), rows))
        return None
    topic = (
        args[2] if action == "top" and len(args) == 3 and args[2] in svc.config.announcements.topics else None
    )
    audience = "topic" if topic else (args[2] if action == "aud" and len(args) == 3 else "")
    if audience in AUDIENCES and mine and draft and message is not None:
        if not await _preview(message, context, campaign_id, audience, language, topic):
            return stale
        await query.answer()
        return None
    if action in ("go", "at") and mine and draft and campaign.audience:
        if action == "at":
            await context.start_flow(ANNOUNCE, {"step": "schedule", "campaign": campaign_id})
            await query.answer()
            await send(message, Reply(html_text("announce_schedule_ask", language)))
        else:
            await query.answer()
            await context.end_flow(ANNOUNCE)
            await _after_launch(
                message, context, await svc.announcements.send_now(campaign_id, by=user_id), language
            )
        return None
    if action == "no" and mine and draft and await svc.announcements.cancel(campaign_id, by=user_id):
        await context.end_flow(ANNOUNCE)
        await query.answer()
        await send(message, Reply(html_text("announce_discarded", language)))
        return None
    if action == "ok":
        outcome = await svc.announcements.approve(campaign_id, user_id)
        if not outcome.launched:
            return text("announce_not_approvable", language)
        await query.answer(text("announce_approved", language))
        if campaign.author_id is not None:
            await _notify_author(context, outcome, campaign.author_id)
        return None
    if action == "x" and await svc.announcements.cancel(campaign_id, by=user_id):
        await query.answer()
        await send(message, Reply(html_text("announce_cancelled", language)))
        return None
    return stale


async def _notify_author(context: Context, outcome: Outcome, author: int) -> None:
    language = await context.services.users.language(author)
    try:
        message = await context.bot.send_message(author, html_text("announce_approved", language))
    except TelegramError:
        return
    await _after_launch(message, context, outcome, language)


async def unsubscribe(update: Update, context: Context) -> None:
    query = update.callback_query
    if query is None:
        return
    svc = context.services
    await svc.users.opt_out_announcements(query.from_user.id)
    language = await svc.users.language(query.from_user.id)
    await query.answer(text("announce_unsubscribed", language), show_alert=True)


@private_only("campagnes")
@privileged(Role.COORDINATOR)
async def campaigns_command(update: Update, context: Context) -> None:
    svc = context.services
    user = update.effective_user
    assert user is not None
    language = await context.language()
    lines: list[str] = []
    buttons: list[list[tuple[str, str]]] = []
    for campaign in await svc.announcements.recent(limit=10):
        report = await svc.announcements.report(campaign.id)
        if report is None:
            continue
        status = text(f"campaign_status_{report.status}", language)
        lines.append(
            html_text(
                "campaigns_item", language, id=campaign.id, title=_title(campaign), status=status,
                sent=report.sent, total=report.total, when=campaign_when(campaign, language),
            )
        )  # fmt: skip
        if svc.announcements.cancellable_by(campaign, user.id):
            buttons.append(
                [(text("campaign_cancel", language, id=campaign.id), announce_data("x", campaign.id))]
            )
    body = "\n".join(lines) if lines else html_text("campaigns_none", language)
    await send(update.effective_message, Reply(body, buttons))


async def update_progress(context: Context) -> None:
    """Job: edit each sending campaign's progress message; post the report once it is finished."""
    svc = context.services
    for campaign in await svc.announcements.in_progress(limit=20):
        report = await svc.announcements.report(campaign.id)
        if report is None or report.status != "sending":
            continue
        language = await svc.users.language(campaign.author_id or 0)
        chat, message_id = campaign.progress_chat_id, campaign.progress_message_id
        assert chat is not None  # in_progress keeps only campaigns with a progress message
        progress = _progress_text(campaign, report.sent, report.total, language)
        # Telegram refuses an edit that changes nothing: the message says "0 / …" from the start, and this
        # instance remembers what it showed last (the job's lease keeps it on one instance while it runs).
        shown: dict[int, str] = context.bot_data.setdefault(_PROGRESS_SHOWN, {})
        if report.sent > 0 and shown.get(campaign.id) != progress:
            try:
                await context.bot.edit_message_text(progress, chat, message_id)
            except BadRequest:  # deleted, or unchanged (after a restart): no use trying this text again
                shown[campaign.id] = progress
            except TelegramError:  # flood control, network: the next tick tries again
                pass
            else:
                shown[campaign.id] = progress
        if report.pending == 0 and await svc.announcements.finish_if_done(campaign.id):
            with contextlib.suppress(TelegramError):
                await context.bot.send_message(chat, report_text(campaign, report, language))


def campaign_when(campaign: Campaign, language: str) -> str:
    """When the campaign goes out (Paris time): sent, due, or only created for a draft."""
    if campaign.status in ("sending", "done"):
        moment, key = campaign.send_at or campaign.finished_at or campaign.updated_at, "campaign_when_sent"
    elif campaign.send_at is not None:
        moment, key = campaign.send_at, "campaign_when_scheduled"
    else:
        moment, key = campaign.created_at, "campaign_when_created"
    return text(key, language, date=format_when(moment, None, language))


def report_text(campaign: Campaign, report: Report, language: str) -> str:
    lines = [
        html_text(
            "announce_report", language, title=_title(campaign), sent=report.sent, blocked=report.blocked,
            failed=report.failed_count, skipped=report.skipped,
        )
    ]  # fmt: skip
    lines += [
        html_text("announce_report_reason", language, reason=reason or "?", count=count)
        for reason, count in report.failed.items()
    ]
    return "\n".join(lines)


def register_renderer(transport: TelegramTransport, context_services: Any) -> None:
    """How an announcement looks when the sender delivers it; cancelled or opted out: not sent."""

    async def render(delivery: Delivery) -> Outgoing:
        campaign = await context_services.announcements.deliverable(delivery)
        return outgoing(campaign, await context_services.users.language(delivery.chat_id))

    transport.register(ANNOUNCEMENT, render)


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
