"""Questions to the knowledge base: in private, `/question` and mentions in groups, the leads and feedback
buttons under an answer, and the coordinators' /questions and /stats."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import re

from telegram import CallbackQuery, Chat, Update
from telegram.constants import ChatAction
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.conversations import Flow
from bot.messages import text
from bot.qa.records import DISLIKE_REASONS
from bot.qa.service import Asked
from bot.qa.smalltalk import SmallTalk, small_talk
from bot.retrieval.citation import is_link
from bot.retrieval.search import Answer, QuestionError
from bot.telegram import callbacks
from bot.telegram.callbacks import ANSWER_LINK
from bot.telegram.context import App, Context, add_flow_handler, on_button, private_only, privileged, shared
from bot.telegram.render import Reply, for_coordinators, hit_message, html_text, menu_reply, short_title
from bot.telegram.replies import query_message, send
from bot.telegram.updates import give_way
from bot.users import Role

FEEDBACK = ("1", "-1")
QUESTION_LANE = 4  # questions doing their own round trips at once (the search waits outside: see _lane)
_LANE = "question_lane"
log = logging.getLogger(__name__)
DISLIKE_FLOW = "dislike"  # state: question_id; the next message says what was wrong


def _lane(context: Context) -> asyncio.Semaphore:
    """The questions' lane: at most QUESTION_LANE questions doing their own round trips (the typing
    action, the reply, the visit), the others wait their turn in order, so the database, the HTTP pool and
    the event loop stay free for button presses and commands, which never enter it. A question leaves it
    while its search waits in the batcher, so one batch can gather every question queued."""
    lane = context.bot_data.get(_LANE)
    if not isinstance(lane, asyncio.Semaphore):
        lane = context.bot_data[_LANE] = asyncio.Semaphore(QUESTION_LANE)
    return lane


def lead_data(question_id: int, resource_id: str) -> str:
    """`l:<question>:<resource>`: show another lead's passage (check `callbacks.fits` before use)."""
    return f"l:{question_id}:{resource_id}"


def reason_data(question_id: int, reason: str) -> str:
    return f"fr:{question_id}:{reason}"


def feedback_data(question_id: int, value: int) -> str:
    return f"f:{question_id}:{value}"


def answer_reply(answer: Answer, question_id: int | None, language: str) -> Reply:
    """The reply to a question, in the user's `language` (the one every other reply speaks, whatever
    language the question was written in).

    `question_id` is None for an off-topic question, which is not kept, or for one the database could not
    record: no feedback or lead buttons then (they point to the kept question).
    """
    if not answer.answered and not answer.in_field:
        links = "".join(
            f'\n• <a href="{html.escape(h.url)}">{html.escape(h.chunk.title)}</a>'
            for h in answer.hits
            if is_link(h.url)
        )
        body = html_text("off_topic", language)
        if links:
            body += "\n" + html_text("off_topic_leads", language) + links
        return Reply(body + "\n" + html_text("no_answer_site", language))
    leads = answer.hits[1:] if answer.answered else answer.hits
    lead_rows = [
        [(f"📄 {short_title(h.chunk.title)}", lead_data(question_id, h.chunk.resource_id))]
        for h in leads
        if question_id is not None and callbacks.fits(lead_data(question_id, h.chunk.resource_id))
    ]
    if answer.answered and answer.best is not None:
        body = hit_message(answer.best, language)
        if language != "fr":
            body += "\n" + html_text("answer_source_in_french", language)
        if lead_rows:
            body += "\n\n" + html_text("answer_leads", language)
        if question_id is None:
            return Reply(body, lead_rows)
        feedback = [("👍", feedback_data(question_id, 1)), ("👎", feedback_data(question_id, -1))]
        return Reply(body, [*lead_rows, feedback])
    body = html_text("no_answer", language)
    if lead_rows:
        body += "\n" + html_text("no_answer_leads", language)
    body += "\n" + html_text("no_answer_site", language)
    return Reply(body, lead_rows)


async def answer_question(update: Update, context: Context, question: str) -> None:
    user, message, chat = update.effective_user, update.effective_message, update.effective_chat
    if user is None or message is None or chat is None:
        return
    svc, lane = context.services, _lane(context)
    processor = context.application.update_processor
    async with lane:  # buttons and commands never wait behind the questions (see QUESTION_LANE)
        with svc.questions.coming():  # the batch being formed waits for this question (briefly)
            await give_way(processor)  # before each step: button presses and commands first
            language = await context.language()
            await chat.send_action(ChatAction.TYPING)
    try:  # the search waits outside the lane: a batch can hold every question queued
        asked = await svc.questions.ask(user.id, question, chat_type=chat.type, language=language)
    except QuestionError as exc:
        async with lane:
            await send(message, Reply(html_text(exc.reason, language, limit=exc.limit)))
        return
    async with lane:
        await give_way(processor)
        reply = answer_reply(asked.answer, asked.question_id, language)
        await send(message, _reply_in(chat, context, reply, kept=_kept(asked), language=language))
        if asked.question_id is None:  # a recorded question was a visit already
            context.note_visit()


def _kept(asked: Asked) -> bool:
    """Whether the question went to the coordinators (its answer will come later)."""
    return asked.question_id is not None and not asked.answer.answered and asked.answer.in_field


def _reply_in(chat: Chat, context: Context, reply: Reply, *, kept: bool, language: str) -> Reply:
    """In a group, a kept question's answer can only come in private: say so, with the way there."""
    if not (kept and shared(chat) and context.bot.username):
        return reply
    link = f"https://t.me/{context.bot.username}?start={ANSWER_LINK}"
    body = reply.text + "\n\n" + html_text("group_kept_private", language)
    return Reply(body, [*reply.buttons, [(text("private_open", language), link)]])


async def private_text(update: Update, context: Context) -> None:
    """A text in private that no flow was waiting for: a greeting, thanks, or a question."""
    message = update.effective_message
    if message is None or message.text is None:
        return
    talk = small_talk(message.text)
    if talk is SmallTalk.GREETING:
        await send(message, menu_reply(await context.language()))
        context.note_visit()
    elif talk is SmallTalk.THANKS:
        await send(message, Reply(html_text("you_are_welcome", await context.language())))
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
        await send(message, Reply(html_text("group_question_usage", await context.language())))
        return
    await answer_question(update, context, question)


async def group_mention(update: Update, context: Context) -> None:
    message = update.effective_message
    if message is not None and message.text and f"@{context.bot.username}".lower() in message.text.lower():
        await group_question(update, context)


async def lead_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """`l:<question>:<resource>`: the passage of another lead, as a new message."""
    language = await context.language()
    if len(args) != 2 or (question_id := callbacks.row_id(args[0])) is None:
        return text("button_stale", language)
    hit = await context.services.questions.lead(question_id, args[1])
    await query.answer()
    await send(
        query_message(query),
        Reply(hit_message(hit, language) if hit else html_text("lead_missing", language)),
    )
    return None


async def feedback_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """`f:<question>:<1|-1>`: 👍 or 👎 under an answer, once per person and question."""
    language = await context.language()
    if len(args) != 2 or args[1] not in FEEDBACK or (question_id := callbacks.row_id(args[0])) is None:
        return text("button_stale", language)
    if not await context.services.questions.feedback(question_id, query.from_user.id, int(args[1])):
        return text("button_stale", language)
    if args[1] == "-1":  # ask what was wrong: one tap, or a sentence (the next message)
        await context.start_flow(DISLIKE_FLOW, {"question_id": question_id})
        reasons = [[(text(f"dislike_{r}", language), reason_data(question_id, r))] for r in DISLIKE_REASONS]
        await send(query_message(query), Reply(html_text("dislike_ask", language), reasons))
    return text("feedback_thanks", language)


async def reason_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """`fr:<question>:<reason>`: what was wrong with an answer this user voted down."""
    language = await context.language()
    if len(args) != 2 or args[1] not in DISLIKE_REASONS or (question_id := callbacks.row_id(args[0])) is None:
        return text("button_stale", language)
    if not await context.services.coordination.dislike_reason(question_id, query.from_user.id, args[1]):
        return text("button_stale", language)
    await context.end_flow(DISLIKE_FLOW)
    return text("dislike_thanks", language)


async def reason_text(update: Update, context: Context, flow: Flow) -> bool:
    """The sentence saying what was wrong; a new question (ending with "?") is answered as one instead."""
    message = update.effective_message
    await context.end_flow(DISLIKE_FLOW)
    if message is None or message.text is None or message.text.rstrip().endswith("?"):
        return False
    question_id = int(flow.state["question_id"])
    assert update.effective_user is not None
    if not await context.services.coordination.dislike_reason(
        question_id, update.effective_user.id, message.text
    ):
        return False
    await send(message, Reply(html_text("dislike_thanks", await context.language())))
    return True


@private_only("questions")
@privileged(Role.COORDINATOR)
async def coordinator_questions(update: Update, context: Context) -> None:
    language = await context.language()
    questions = context.services.questions
    lines = [html_text("questions_header", language)]
    unanswered = await questions.unanswered(limit=10)
    lines += [
        html_text(
            "questions_item",
            language,
            text=for_coordinators(q.text, language),
            count=q.count,
            date=f"{q.last_asked:%d/%m/%Y}",
        )
        for q in unanswered
    ] or [html_text("questions_none", language)]
    lines += ["", html_text("dislikes_header", language)]
    disliked = await questions.disliked(limit=10)
    lines += [
        html_text(
            "dislikes_item", language, text=for_coordinators(f.question, language),
            resource=f.resource_id or "—", count=f.count,
            date=f"{f.last:%d/%m/%Y}",
        )
        for f in disliked
    ] or [html_text("dislikes_none", language)]  # fmt: skip
    await send(update.effective_message, Reply("\n".join(lines)))


def _duration(value: dt.timedelta | None, language: str) -> str:
    """A median wait, in hours under two days, in days beyond."""
    if value is None:
        return text("stats_median_none", language)
    hours = value.total_seconds() / 3600
    if hours < 48:
        return text(
            "stats_median_hours",
            language,
            hours=f"{hours:.1f}".replace(".", "," if language == "fr" else "."),
        )
    return text("stats_median_days", language, days=round(hours / 24))


@private_only("stats")
@privileged(Role.COORDINATOR)
async def statistics(update: Update, context: Context) -> None:
    """/stats (/stats diagnostic belongs to the diagnosis, registered before this)."""
    language = await context.language()
    s = await context.services.users.stats()  # admins count as coordinators
    rate = round(100 * s.answer_rate) if s.questions else 0
    reply = html_text(
        "stats", language, users=s.users, active=s.active_users, members=s.members,
        coordinators=s.coordinators, questions=s.questions, rate=rate,
    )  # fmt: skip
    kept = await context.services.coordination.stats()
    reply += html_text(
        "stats_coordination", language, pending=kept.pending, answered=kept.answered,
        dismissed=kept.dismissed, median=_duration(kept.median_to_answer, language),
    )  # fmt: skip
    await send(update.effective_message, Reply(reply))


def register(application: App) -> None:
    """/question, texts in private, mentions in groups, the leads and feedback buttons, /questions, /stats."""
    private, groups, fresh = filters.ChatType.PRIVATE, filters.ChatType.GROUPS, filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("question", group_question, filters=fresh, block=False))
    application.add_handler(CommandHandler("questions", coordinator_questions, filters=fresh))
    application.add_handler(CommandHandler("stats", statistics, filters=fresh))
    text_in_private = private & fresh & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text_in_private, private_text, block=False))
    mention = groups & fresh & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(mention, group_mention, block=False))
    application.add_handler(CallbackQueryHandler(on_button(lead_button), pattern=r"^l:"))
    application.add_handler(CallbackQueryHandler(on_button(feedback_button), pattern=r"^f:"))
    application.add_handler(CallbackQueryHandler(on_button(reason_button), pattern=r"^fr:"))
    add_flow_handler(application, (DISLIKE_FLOW,), reason_text, text_in_private, Role.NEWCOMER)
