"""The account and privacy: joining with an invitation code, invitations, naming coordinators, the user's
data (/mesdonnees) and erasing it (/oubli)."""

from __future__ import annotations

import io
import json

from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.messages import text
from bot.telegram import callbacks
from bot.telegram.context import App, Context, on_button, privileged
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, send
from bot.users import Role
from bot.users.records import RedeemResult

_REDEEM_KEYS = {
    RedeemResult.OK: "join_ok",
    RedeemResult.UNKNOWN: "join_unknown",
    RedeemResult.EXPIRED: "join_expired",
    RedeemResult.USED: "join_used",
}


def forget_data(confirm: bool) -> str:
    return f"forget:{'yes' if confirm else 'no'}"


@privileged(Role.ADMIN)
async def name_coordinator(update: Update, context: Context) -> None:
    language = await context.language()
    target = callbacks.as_int(context.args[0]) if context.args and len(context.args) == 1 else None
    if target is None or target <= 0:
        await send(update.effective_message, Reply(html_text("coordinator_usage", language)))
        return
    assert update.effective_user is not None
    await context.services.users.name_coordinator(update.effective_user.id, target)
    await send(update.effective_message, Reply(html_text("coordinator_done", language, user_id=target)))


@privileged(Role.COORDINATOR)
async def create_invitation(update: Update, context: Context) -> None:
    assert update.effective_user is not None
    code = await context.services.users.invite(update.effective_user.id)
    language = await context.language()
    await send(update.effective_message, Reply(html_text("invitation_created", language, code=code)))


async def join(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    language = await context.language()
    if not context.args:
        await send(update.effective_message, Reply(html_text("join_usage", language)))
        return
    result = await context.services.users.join(user.id, " ".join(context.args))
    await send(update.effective_message, Reply(html_text(_REDEEM_KEYS[result], language)))


async def my_data(update: Update, context: Context) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    data = await context.services.users.export(user.id)
    payload = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    caption = html_text("my_data_caption", await context.language())
    await message.reply_document(io.BytesIO(payload), filename="mes-donnees-catabot.json", caption=caption)


async def forget_request(update: Update, context: Context) -> None:
    language = await context.language()
    buttons = [
        [
            (text("forget_yes", language), forget_data(True)),
            (text("forget_no", language), forget_data(False)),
        ]
    ]
    await send(update.effective_message, Reply(html_text("forget_confirm", language), buttons))


async def forget_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    language = await context.language()
    if args == ["yes"]:
        await context.services.users.forget(query.from_user.id)
        reply = Reply(html_text("forget_done", language))
    elif args == ["no"]:
        reply = Reply(html_text("forget_cancelled", language))
    else:
        return text("button_stale", language)
    await query.answer()
    await send(query_message(query), reply)
    return None


def register(application: App) -> None:
    """/rejoindre, /invitation, /coordinateur, /mesdonnees, /oubli and its confirmation buttons."""
    fresh = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("rejoindre", join, filters=fresh))
    application.add_handler(CommandHandler("invitation", create_invitation, filters=fresh))
    application.add_handler(CommandHandler("coordinateur", name_coordinator, filters=fresh))
    application.add_handler(CommandHandler("mesdonnees", my_data, filters=fresh))
    application.add_handler(CommandHandler("oubli", forget_request, filters=fresh))
    application.add_handler(CallbackQueryHandler(on_button(forget_button), pattern=r"^forget:"))
