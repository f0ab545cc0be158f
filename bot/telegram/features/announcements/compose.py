"""/annonce: compose (text, photo or document), choose the audience, preview, send now or schedule, and
the approval a coordinator's campaign may need."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from telegram import CallbackQuery, Message, MessageEntity, Update
from telegram.constants import MessageLimit
from telegram.error import TelegramError

from bot.announcements.entities import Span, entities_html
from bot.announcements.records import Campaign
from bot.announcements.service import Outcome, OutcomeKind
from bot.conversations import Flow
from bot.events.clock import format_when, paris_to_utc, parse_local
from bot.messages import text
from bot.telegram import callbacks
from bot.telegram.context import (
    Context,
    private_only,
    privileged,
)
from bot.telegram.features.announcements.texts import (
    ANNOUNCE,
    AUDIENCE_BUTTONS,
    announce_data,
    outgoing,
    progress_text,
)
from bot.telegram.render import Reply, html_text, topic_label
from bot.telegram.replies import query_message, send
from bot.telegram.transport import Outgoing
from bot.users import Role


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
        (text(f"announce_audience_{a}", language), announce_data("aud", campaign.id, a))
        for a in AUDIENCE_BUTTONS
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
        progress_text(campaign, 0, outcome.recipients + outcome.opted_out, language)
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
    if audience in AUDIENCE_BUTTONS and mine and draft and message is not None:
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
