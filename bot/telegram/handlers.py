"""Thin handlers: parse the update, call the domain, render the reply. No business rule lives here."""

from __future__ import annotations

import html
import io
import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, Chat, Message, Update
from telegram.constants import ChatAction, ChatMemberStatus
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ContextTypes

from bot.messages import LANGUAGES, text
from bot.qa.smalltalk import SmallTalk, small_talk
from bot.retrieval.search import QuestionError
from bot.telegram import callbacks
from bot.telegram.render import Reply, answer_reply, hit_message, html_text, menu_reply, split_message
from bot.users import NotAllowed, Role
from bot.users.records import RedeemResult

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)
Context = ContextTypes.DEFAULT_TYPE
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
NETWORK_RESOURCE = "reseau-catalyseurs-territoriaux"
_LAST_SHOWN: OrderedDict[tuple[int, int], tuple[str, str]] = OrderedDict()
_LAST_SHOWN_SIZE = 2048
_ROLE_NAMES = {Role.MEMBER: "role_member", Role.COORDINATOR: "role_coordinator", Role.ADMIN: "role_admin"}
_REDEEM_KEYS = {
    RedeemResult.OK: "join_ok",
    RedeemResult.UNKNOWN: "join_unknown",
    RedeemResult.EXPIRED: "join_expired",
    RedeemResult.USED: "join_used",
}


def services(context: Context) -> Services:
    return context.application.bot_data["services"]  # type: ignore[no-any-return]


async def _language(update: Update, context: Context) -> str:
    user = update.effective_user
    return await services(context).users.language(user.id) if user else "fr"


async def send(message: Message | None, reply: Reply) -> None:
    """Send a reply, split under Telegram's length limit; the buttons go with the last part."""
    if message is None:
        return
    parts = split_message(reply.text)
    for number, part in enumerate(parts, start=1):
        await message.reply_html(
            part, reply_markup=reply.markup() if number == len(parts) else None, disable_web_page_preview=True
        )


async def replace(query: CallbackQuery, reply: Reply) -> None:
    """Show `reply` in place of the message whose button was pressed: edited when it is one of the bot's
    text messages, sent as a new message otherwise (a photo, a document, or a message that is not ours)."""
    message = query.message if isinstance(query.message, Message) else None
    if message is None:
        return
    ours = message.from_user is not None and message.from_user.id == query.get_bot().id
    if not ours or message.text is None:
        await send(message, reply)
        return
    # Telegram refuses an edit that changes nothing. With two quick taps the second query still carries the
    # old message, so what we last showed is remembered too.
    key, shown = (message.chat_id, message.message_id), (reply.text, repr(reply.buttons))
    if _shows(message, reply) or _LAST_SHOWN.get(key) == shown:
        return
    try:
        await message.edit_text(reply.text, reply_markup=reply.markup(), disable_web_page_preview=True)
    except BadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise
    _LAST_SHOWN[key] = shown
    while len(_LAST_SHOWN) > _LAST_SHOWN_SIZE:
        _LAST_SHOWN.popitem(last=False)


def _shows(message: Message, reply: Reply) -> bool:
    """Whether `message` already shows `reply`: same visible text, same buttons."""
    visible = html.unescape(re.sub(r"<[^>]+>", "", reply.text))
    markup = reply.markup()
    current = message.reply_markup
    same_buttons = (current is None and markup is None) or (
        current is not None and markup is not None and current.inline_keyboard == markup.inline_keyboard
    )
    return message.text == visible and same_buttons


async def start(update: Update, context: Context) -> None:
    if update.effective_user:
        await services(context).users.seen(update.effective_user.id)
    await send(update.effective_message, menu_reply(await _language(update, context)))


async def help_command(update: Update, context: Context) -> None:
    language = await _language(update, context)
    role = (
        await services(context).users.role(update.effective_user.id)
        if update.effective_user
        else Role.NEWCOMER
    )
    body = html_text("help", language)
    if role >= Role.COORDINATOR:
        body += html_text("help_coordinator", language)
    if role >= Role.ADMIN:
        body += html_text("help_admin", language)
    await send(update.effective_message, Reply(body))


async def choose_language(update: Update, context: Context) -> None:
    language = await _language(update, context)
    buttons = [[("Français", callbacks.language("fr")), ("English", callbacks.language("en"))]]
    await send(update.effective_message, Reply(html_text("language_choose", language), buttons))


async def answer_question(update: Update, context: Context, question: str) -> None:
    user, message, chat = update.effective_user, update.effective_message, update.effective_chat
    if user is None or message is None or chat is None:
        return
    svc = services(context)
    await svc.users.seen(user.id)
    language = await svc.users.language(user.id)
    try:
        await chat.send_action(ChatAction.TYPING)
        asked = await svc.questions.ask(user.id, question, chat_type=chat.type, language=language)
    except QuestionError as exc:
        await send(message, Reply(html_text(exc.reason, language, limit=exc.limit)))
        return
    await send(message, answer_reply(asked.answer, asked.question_id, language))


async def private_text(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is None or message.text is None:
        return
    from bot.telegram.announcements import flow_message
    from bot.telegram.events import flow_text

    if await flow_message(update, context) or await flow_text(update, context):
        return
    talk = small_talk(message.text)
    if talk is SmallTalk.GREETING:
        await start(update, context)
    elif talk is SmallTalk.THANKS:
        await send(message, Reply(html_text("you_are_welcome", await _language(update, context))))
    else:
        await answer_question(update, context, message.text)


async def group_question(update: Update, context: Context) -> None:
    """`/question …` anywhere, or a message that mentions the bot in a group."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    question = message.text
    if question.startswith("/"):
        question = question.partition(" ")[2]
    else:
        question = re.sub(f"@{re.escape(context.bot.username)}", " ", question, flags=re.IGNORECASE)
    if not question.strip():
        await send(message, Reply(html_text("group_question_usage", await _language(update, context))))
        return
    await answer_question(update, context, question)


async def group_mention(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is not None and message.text and f"@{context.bot.username}".lower() in message.text.lower():
        await group_question(update, context)


async def non_text(update: Update, context: Context) -> None:
    from bot.telegram.announcements import flow_message

    if await flow_message(update, context):  # a photo or a document for an announcement
        return
    await send(update.effective_message, Reply(html_text("non_text", await _language(update, context))))


async def unknown_command(update: Update, context: Context) -> None:
    await send(
        update.effective_message, Reply(html_text("unknown_command", await _language(update, context)))
    )


def privileged(role: Role) -> Callable[[Handler], Handler]:
    """Re-check the caller's role on every use; refuse politely and change nothing otherwise."""

    def wrap(handler: Handler) -> Handler:
        async def checked(update: Update, context: Context) -> None:
            user = update.effective_user
            try:
                if user is None:
                    raise NotAllowed(role.name)
                await services(context).users.require(user.id, role)
            except NotAllowed:
                language = await _language(update, context)
                refusal = html_text("not_allowed", language, role=text(_ROLE_NAMES[role], language))
                await send(update.effective_message, Reply(refusal))
                return
            await handler(update, context)

        checked.__name__ = handler.__name__
        return checked

    return wrap


@privileged(Role.ADMIN)
async def name_coordinator(update: Update, context: Context) -> None:
    language = await _language(update, context)
    target = callbacks.as_int(context.args[0]) if context.args and len(context.args) == 1 else None
    if target is None or target <= 0:
        await send(update.effective_message, Reply(html_text("coordinator_usage", language)))
        return
    assert update.effective_user is not None
    await services(context).users.name_coordinator(update.effective_user.id, target)
    await send(update.effective_message, Reply(html_text("coordinator_done", language, user_id=target)))


@privileged(Role.COORDINATOR)
async def create_invitation(update: Update, context: Context) -> None:
    assert update.effective_user is not None
    code = await services(context).users.invite(update.effective_user.id)
    language = await _language(update, context)
    await send(update.effective_message, Reply(html_text("invitation_created", language, code=code)))


async def join(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    language = await _language(update, context)
    if not context.args:
        await send(update.effective_message, Reply(html_text("join_usage", language)))
        return
    result = await services(context).users.join(user.id, " ".join(context.args))
    await send(update.effective_message, Reply(html_text(_REDEEM_KEYS[result], language)))


@privileged(Role.COORDINATOR)
async def coordinator_questions(update: Update, context: Context) -> None:
    language = await _language(update, context)
    questions = services(context).questions
    lines = [html_text("questions_header", language)]
    unanswered = await questions.unanswered(limit=10)
    lines += [
        html_text("questions_item", language, text=q.text, count=q.count, date=f"{q.last_asked:%d/%m/%Y}")
        for q in unanswered
    ] or [html_text("questions_none", language)]
    lines += ["", html_text("dislikes_header", language)]
    disliked = await questions.disliked(limit=10)
    lines += [
        html_text(
            "dislikes_item",
            language,
            text=f.question,
            resource=f.resource_id or "—",
            count=f.count,
            date=f"{f.last:%d/%m/%Y}",
        )
        for f in disliked
    ] or [html_text("dislikes_none", language)]
    await send(update.effective_message, Reply("\n".join(lines)))


@privileged(Role.COORDINATOR)
async def statistics(update: Update, context: Context) -> None:
    if context.args and context.args[0].lower() in ("diagnostic", "diagnostics", "autodiagnostic"):
        from bot.telegram.diagnosis import diagnostic_statistics

        await diagnostic_statistics(update, context)
        return
    language = await _language(update, context)
    s = await services(context).questions.stats()
    rate = round(100 * s.answer_rate) if s.questions else 0
    reply = html_text(
        "stats", language, users=s.users, active=s.active_users, members=s.members,
        coordinators=s.coordinators, questions=s.questions, rate=rate,
    )  # fmt: skip
    await send(update.effective_message, Reply(reply))


async def my_data(update: Update, context: Context) -> None:
    user, message = update.effective_user, update.effective_message
    if user is None or message is None:
        return
    data = await services(context).users.export(user.id)
    payload = json.dumps(data, ensure_ascii=False, indent=2, default=str).encode()
    caption = html_text("my_data_caption", await _language(update, context))
    await message.reply_document(io.BytesIO(payload), filename="mes-donnees-catabot.json", caption=caption)


async def forget_request(update: Update, context: Context) -> None:
    language = await _language(update, context)
    buttons = [
        [
            (text("forget_yes", language), callbacks.forget(True)),
            (text("forget_no", language), callbacks.forget(False)),
        ]
    ]
    await send(update.effective_message, Reply(html_text("forget_confirm", language), buttons))


async def button(update: Update, context: Context) -> None:
    """Every button press is answered, including forged and stale ones, which change nothing."""
    query = update.callback_query
    if query is None:
        return
    user = query.from_user
    svc = services(context)
    language = await svc.users.language(user.id)
    kind, args = callbacks.parse(query.data)
    if kind in ("an", "a"):
        from bot.telegram import announcements

        if kind == "a" and args == ["unsub"]:
            await announcements.unsubscribe(query, context)
        elif (
            kind == "an" and (stale := await announcements.announce_button(query, context, args)) is not None
        ):
            await query.answer(stale)
        elif kind == "a":
            await query.answer(text("button_stale", language))
        return
    if kind in ("e", "s", "ne") or (kind == "m" and args == ["events"]):
        from bot.telegram import events

        if kind == "m":
            await query.answer()
            await events.list_events(update, context)
            return
        route = {"e": events.event_button, "s": events.subscription_button, "ne": events.new_event_button}[
            kind
        ]
        if (stale := await route(query, context, args)) is not None:
            await query.answer(stale)
        return
    if kind == "d" or (kind == "m" and args == ["diag"]):
        from bot.telegram.diagnosis import diagnostic, diagnostic_button

        if kind == "m":
            await query.answer()
            await diagnostic(update, context)
        elif (stale := await diagnostic_button(query, context, args)) is not None:
            await query.answer(stale)
        return
    notice: str | None = None
    reply: Reply | None = None
    if kind == "m" and args == ["ask"]:
        reply = Reply(html_text("menu_ask_hint", language))
    elif kind == "m" and args == ["net"]:
        hit = svc.questions.resource(NETWORK_RESOURCE)
        reply = Reply(hit_message(hit, language)) if hit else None
    elif kind == "lang" and len(args) == 1 and args[0] in LANGUAGES:
        await svc.users.set_language(user.id, args[0])
        language = args[0]
        reply = Reply(html_text("language_set", language))
    elif kind == "l" and len(args) == 2 and (qid := callbacks.as_int(args[0])) is not None:
        hit = await svc.questions.lead(qid, args[1])
        reply = Reply(hit_message(hit, language) if hit else html_text("lead_missing", language))
    elif (
        kind == "f"
        and len(args) == 2
        and args[1] in ("1", "-1")
        and (qid := callbacks.as_int(args[0])) is not None
    ):
        if await svc.questions.feedback(qid, user.id, int(args[1])):
            notice = text("feedback_thanks", language)
        else:
            notice = text("button_stale", language)
    elif kind == "forget" and args == ["yes"]:
        await svc.users.forget(user.id)
        reply = Reply(html_text("forget_done", language))
    elif kind == "forget" and args == ["no"]:
        reply = Reply(html_text("forget_cancelled", language))
    else:
        notice = text("button_stale", language)
    await query.answer(notice)
    if reply is not None:
        await send(query.message if isinstance(query.message, Message) else None, reply)


async def chat_member(update: Update, context: Context) -> None:
    """The user blocked (or unblocked) the bot in a private chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != Chat.PRIVATE:
        return
    blocked = change.new_chat_member.status in (ChatMemberStatus.BANNED, ChatMemberStatus.LEFT)
    await services(context).users.blocked(change.from_user.id, blocked)


async def on_error(update: object, context: Context) -> None:
    error = context.error
    if isinstance(update, Update) and update.effective_user and isinstance(error, Forbidden):
        await services(context).users.blocked(update.effective_user.id, True)
        return
    log.error("error while handling an update: %s", type(error).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_message and not isinstance(error, TelegramError):
        try:
            await send(update.effective_message, Reply(html_text("error", await _language(update, context))))
        except Exception:  # the chat may be unreachable; the error is logged above
            log.debug("could not tell the user about the error")
