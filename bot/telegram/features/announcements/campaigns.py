"""After the launch: /campagnes, the progress job and its report, the opt-out button, and how the outbox
renders an announcement."""

from __future__ import annotations

import contextlib
from typing import Any

from telegram import Update
from telegram.error import BadRequest, TelegramError

from bot.announcements.records import ANNOUNCEMENT
from bot.delivery.outbox import Delivery
from bot.messages import text
from bot.telegram.context import (
    Context,
    private_only,
    privileged,
)
from bot.telegram.features.announcements.texts import (
    announce_data,
    campaign_title,
    campaign_when,
    outgoing,
    progress_text,
    report_text,
)
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import send
from bot.telegram.transport import Outgoing, TelegramTransport
from bot.users import Role

_PROGRESS_SHOWN = "announcement_progress_shown"


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
                "campaigns_item", language, id=campaign.id, title=campaign_title(campaign), status=status,
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
        progress = progress_text(campaign, report.sent, report.total, language)
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


def register_renderer(transport: TelegramTransport, context_services: Any) -> None:
    """How an announcement looks when the sender delivers it; cancelled or opted out: not sent."""

    async def render(delivery: Delivery) -> Outgoing:
        campaign = await context_services.announcements.deliverable(delivery)
        return outgoing(campaign, await context_services.users.language(delivery.chat_id))

    transport.register(ANNOUNCEMENT, render)
