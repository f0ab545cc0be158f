"""Start, help, language, the menu's own buttons, /annuler, and what nobody else handles: unknown commands,
messages that are not text, stale buttons, blocks and errors. Registered last (see `bot.telegram.app`)."""

from __future__ import annotations

import logging

from telegram import Chat, Update
from telegram.constants import ChatMemberStatus
from telegram.error import Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, ChatMemberHandler, CommandHandler, MessageHandler, filters

from bot.messages import LANGUAGES
from bot.telegram import callbacks
from bot.telegram.context import App, Context, private_only, shared_query, stale_button
from bot.telegram.render import Reply, hit_message, html_text, menu_reply
from bot.telegram.replies import query_message, send
from bot.users import Role

log = logging.getLogger(__name__)
NETWORK_RESOURCE = "reseau-catalyseurs-territoriaux"
LANGUAGE_NAMES = {"fr": "Français", "en": "English"}


def language_data(code: str) -> str:
    return f"lang:{code}"


async def start(update: Update, context: Context) -> None:
    await send(update.effective_message, menu_reply(await context.language()))
    context.note_visit()  # after the reply, and at most once in a while (see `note_seen`)


async def help_command(update: Update, context: Context) -> None:
    language = await context.language()
    role = await context.role()
    body = html_text("help", language)
    if role >= Role.COORDINATOR:
        body += html_text("help_coordinator", language)
    if role >= Role.ADMIN:
        body += html_text("help_admin", language)
    await send(update.effective_message, Reply(body))


@private_only("langue", "language_private")  # one user's setting: the group would see someone else's choice
async def choose_language(update: Update, context: Context) -> None:
    language = await context.language()
    buttons = [[(LANGUAGE_NAMES[code], language_data(code)) for code in LANGUAGES]]
    await send(update.effective_message, Reply(html_text("language_choose", language), buttons))


async def language_button(update: Update, context: Context) -> None:
    query = update.callback_query
    assert query is not None
    _, args = callbacks.parse(query.data)
    if len(args) != 1 or args[0] not in LANGUAGES or shared_query(query):
        await stale_button(update, context)
        return
    await context.services.users.set_language(query.from_user.id, args[0])
    context.set_language(args[0])
    await query.answer()
    await send(query_message(query), Reply(html_text("language_set", args[0])))


async def menu_button(update: Update, context: Context) -> None:
    """The menu's "ask a question" and "the network" buttons (the others belong to their features)."""
    query = update.callback_query
    assert query is not None
    language = await context.language()
    reply: Reply | None = Reply(html_text("menu_ask_hint", language))
    if query.data == callbacks.menu("net"):
        hit = context.services.questions.resource(NETWORK_RESOURCE)
        reply = Reply(hit_message(hit, language)) if hit else None
    await query.answer()
    if reply is not None:
        await send(query_message(query), reply)


async def cancel_flow(update: Update, context: Context) -> None:
    """/annuler: end whatever flow (event, announcement, …) waits for this user's next message."""
    had = await context.end_flow()
    reply = html_text("flow_cancelled" if had else "flow_nothing", await context.language())
    await send(update.effective_message, Reply(reply))


async def non_text(update: Update, context: Context) -> None:
    await send(update.effective_message, Reply(html_text("non_text", await context.language())))


async def unknown_command(update: Update, context: Context) -> None:
    await send(update.effective_message, Reply(html_text("unknown_command", await context.language())))


async def chat_member(update: Update, context: Context) -> None:
    """The user blocked (or unblocked) the bot in a private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != Chat.PRIVATE:
        return
    blocked = change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
    await context.services.users.blocked(change.from_user.id, blocked)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(update, Update) and update.effective_user and isinstance(error, Forbidden):
        await context.services.users.blocked(update.effective_user.id, True)
        return
    log.error("error while handling an update: %s", type(error).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_message and not isinstance(error, TelegramError):
        try:
            await send(update.effective_message, Reply(html_text("error", await context.language())))
        except Exception:  # the chat may be unreachable; the error is logged above
            log.debug("could not tell the user about the error")


def register(application: App) -> None:
    """/start, /aide, /langue, /annuler, the menu's ask and network buttons; then the fallbacks, which is
    why this feature is registered last."""
    private, fresh = filters.ChatType.PRIVATE, filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("start", start, filters=fresh))
    application.add_handler(CommandHandler(["aide", "help"], help_command, filters=fresh))
    application.add_handler(CommandHandler(["langue", "language"], choose_language, filters=fresh))
    application.add_handler(CommandHandler("annuler", cancel_flow, filters=fresh))
    application.add_handler(CallbackQueryHandler(language_button, pattern=r"^lang:"))
    menu = f"^({callbacks.menu('ask')}|{callbacks.menu('net')})$"
    application.add_handler(CallbackQueryHandler(menu_button, pattern=menu))
    application.add_handler(MessageHandler(private & fresh & filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(private & fresh & ~filters.TEXT, non_text))
    application.add_handler(CallbackQueryHandler(stale_button))
    application.add_handler(ChatMemberHandler(chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    application.add_error_handler(on_error)
