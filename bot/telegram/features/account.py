"""The account and privacy: joining with an invitation code, invitations, naming coordinators, the user's
data (/mesdonnees) and erasing it (/oubli)."""

from __future__ import annotations

import io
import json

from telegram import CallbackQuery, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, filters

from bot.messages import text
from bot.telegram.context import App, Context, on_button, private_only, privileged, shared_query
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, send
from bot.text import parse_id
from bot.users import Role
from bot.users.data_report import readable_export
from bot.users.records import RedeemResult

_REDEEM_KEYS = {
    RedeemResult.OK: "join_ok",
    RedeemResult.UNKNOWN: "join_unknown",
    RedeemResult.EXPIRED: "join_expired",
    RedeemResult.USED: "join_used",
}


NOTICES_DATA = "join:notices"


def forget_data(confirm: bool, user_id: int) -> str:
    """The /oubli confirmation buttons, bound to the user who asked (`forget:yes:<id>`)."""
    return f"forget:{'yes' if confirm else 'no'}:{user_id}"


@private_only("coordinateur")
@privileged(Role.ADMIN)
async def name_coordinator(update: Update, context: Context) -> None:
    language = await context.language()
    target = parse_id(context.args[0]) if context.args and len(context.args) == 1 else None
    if target is None:
        await send(update.effective_message, Reply(html_text("coordinator_usage", language)))
        return
    assert update.effective_user is not None
    await context.services.users.name_coordinator(update.effective_user.id, target)
    await send(update.effective_message, Reply(html_text("coordinator_done", language, user_id=target)))


@private_only("invitation")
@privileged(Role.COORDINATOR)
async def create_invitation(update: Update, context: Context) -> None:
    assert update.effective_user is not None
    code = await context.services.users.invite(update.effective_user.id)
    language = await context.language()
    body = html_text("invitation_created", language, code=code)
    if context.bot.username:  # a link that opens the bot and sends /start <code> (dashes are allowed there)
        body += html_text(
            "invitation_link", language, link=f"https://t.me/{context.bot.username}?start={code}"
        )
    await send(update.effective_message, Reply(body))


@private_only("rejoindre", "join_private")  # a code posted in a group is never redeemed nor repeated there
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


async def start_with_code(update: Update, context: Context) -> None:
    """`/start <code>`, sent by Telegram when someone opens an invitation link: redeem it and welcome them."""
    user = update.effective_user
    if user is None or not context.args:
        return
    language = await context.language()
    await context.services.users.seen(user.id)
    result = await context.services.users.join(user.id, context.args[0])
    if result is not RedeemResult.OK:
        await send(update.effective_message, Reply(html_text(_REDEEM_KEYS[result], language)))
        return
    notices = [[(text("join_notices_yes", language), NOTICES_DATA)]]
    await send(update.effective_message, Reply(html_text("join_welcome", language), notices))


async def notices_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """The welcome's one tap: new-event notices on (pressing twice keeps them on)."""
    language = await context.language()
    users = context.services.users
    if not (await users.preferences(query.from_user.id)).new_event_notices:
        await users.toggle_preference(query.from_user.id, "new_event_notices")
    await query.answer()
    await send(query_message(query), Reply(html_text("join_notices_done", language)))
    return None


@private_only("mesdonnees")
async def my_data(update: Update, context: Context) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    data = await context.services.users.export(user.id)
    language = await context.language()
    readable = readable_export(data, language).encode()
    caption = html_text("my_data_caption", language)
    await message.reply_document(io.BytesIO(readable), filename="mes-donnees-catabot.txt", caption=caption)
    payload = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    caption = html_text("my_data_json_caption", language)
    await message.reply_document(io.BytesIO(payload), filename="mes-donnees-catabot.json", caption=caption)


@private_only("oubli")
async def forget_request(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    language = await context.language()
    buttons = [
        [
            (text("forget_yes", language), forget_data(True, user.id)),
            (text("forget_no", language), forget_data(False, user.id)),
        ]
    ]
    await send(update.effective_message, Reply(html_text("forget_confirm", language), buttons))


async def forget_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """The /oubli confirmation: only the user who asked may press it (buttons from before the binding,
    `forget:yes`, only in a private chat, where nobody else can press them)."""
    language = await context.language()
    if len(args) == 2 and parse_id(args[1]) != query.from_user.id:
        return text("forget_not_yours", language)
    if len(args) == 1 and shared_query(query):
        return text("button_stale", language)
    args = args[:1]
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
    # Before the start feature's /start: only a /start carrying a code (from an invitation link).
    with_code = fresh & filters.Regex(r"^/start(@\w+)?\s+\S")
    application.add_handler(CommandHandler("start", start_with_code, filters=with_code))
    application.add_handler(CallbackQueryHandler(on_button(notices_button), pattern=f"^{NOTICES_DATA}$"))
    application.add_handler(CommandHandler("invitation", create_invitation, filters=fresh))
    application.add_handler(CommandHandler("coordinateur", name_coordinator, filters=fresh))
    application.add_handler(CommandHandler("mesdonnees", my_data, filters=fresh))
    application.add_handler(CommandHandler("oubli", forget_request, filters=fresh))
    application.add_handler(CallbackQueryHandler(on_button(forget_button), pattern=r"^forget:"))
