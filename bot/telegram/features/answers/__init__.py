"""The coordinators answer the kept questions: « Répondre » (written, previewed, sent), « Déjà couvert par… »
(a resource's passage), « Hors sujet »; the asker's « did it help? »; « Ajouter à la base » and /reponses
(correct or withdraw what was added). Every multi-step state lives in the conversation table.

Buttons: `qa:<action>:<question id>[:…]` for a kept question, `qa:f<action>:<resource id>` for the
contributions; at most 64 bytes (resource ids are checked with `callbacks.fits`).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

from telegram import CallbackQuery, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.conversations import Flow
from bot.knowledge.contributions import ContributionError
from bot.messages import DEFAULT_LANGUAGE, text
from bot.qa.coordination import Handled
from bot.qa.records import ANSWER_FLOW, KeptQuestion
from bot.retrieval.search import Hit
from bot.telegram import callbacks
from bot.telegram.callbacks import ANSWER_LINK
from bot.telegram.context import (
    App,
    Context,
    add_drop_notice,
    add_flow_handler,
    add_job,
    on_button,
    private_only,
)
from bot.telegram.features.answers.contributions import (
    FIX_FLOW,
    contribution_button,
    contributions,
    refresh_index,
)
from bot.telegram.render import Reply, for_coordinators, hit_message, html_text, short_title
from bot.telegram.replies import query_message, send
from bot.users import Role

FAQ_FLOW = "qa_faq"  # state: question_id, question, answer, editing ("question" | "answer" | None)
MAX_ANSWER = 2500  # with the quoted question (1,000 at most) the message stays under Telegram's 4,096
WAITING_GROUP = 5  # the handler group delivering waiting answers, after every reply to the message
log = logging.getLogger(__name__)


class Reach(Enum):
    """What became of an answer sent to its asker."""

    SENT = "sent"
    WAITING = "waiting"  # no private chat with the bot yet (or Telegram refused): sent when they write
    BLOCKED = "blocked"  # they blocked the bot: sent if they write again
    GONE = "gone"  # the asker was forgotten


def kept_data(action: str, question_id: int, *rest: str) -> str:
    """r (answer), c (covered: choose), cv (covered by a resource), x (dismiss), s (send), w (rewrite),
    k (add to the base), ka/kq/kr (add, edit question, edit answer), h (helped: 1 or -1)."""
    return ":".join(("qa", action, str(question_id), *rest))


def kept_reply(question: KeptQuestion, language: str) -> Reply:
    """A kept question as a coordinator sees it (the asker only by handle), with its three buttons."""
    values: dict[str, Any] = {
        "text": for_coordinators(question.text, language),
        "asker": question.asker or "—",
        "date": f"{question.asked_at:%d/%m/%Y}",
    }
    if question.answered:
        reasons = ", ".join(_reason_label(r, language) for r in question.reasons)
        body = html_text(
            "kept_card_disliked",
            language,
            resource=question.resource_id or "—",
            **values,
        ) + (html_text("kept_reasons", language, reasons=reasons) if reasons else "")
    else:
        body = html_text("kept_card", language, **values)
    return Reply(body, [
        [(text("kept_answer", language), kept_data("r", question.id))],
        [(text("kept_covered", language), kept_data("c", question.id)),
         (text("kept_dismiss", language), kept_data("x", question.id))],
    ])  # fmt: skip


def _reason_label(reason: str, language: str) -> str:
    return html_text(f"dislike_{reason}", language) if reason in ("wrong", "incomplete", "link") else reason


@private_only("questions", tell=False)  # the summary's handler told the group already
async def show_pending(update: Update, context: Context) -> None:
    """After /questions' summary: each pending question as a card with its buttons (oldest first). The
    summary's handler already refused anyone else."""
    if not await context.has_role(Role.COORDINATOR):
        return
    language = await context.language()
    pending = await context.services.coordination.pending(limit=10)
    if not pending:
        await send(update.effective_message, Reply(html_text("kept_none_pending", language)))
    for question in pending:
        await send(update.effective_message, kept_reply(question, language))


def _already(handled: Handled, language: str) -> str:
    question = handled.question
    if question is None or question.handled_at is None:
        return text("answer_gone", language)
    return html_text(
        "answer_already",
        language,
        name=question.handled_by_name or "?",
        date=f"{question.handled_at:%d/%m/%Y %H:%M}",
    )


async def kept_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    language = await context.language()
    if not await context.has_role(Role.COORDINATOR):
        return text("not_allowed", language, role=text("role_coordinator", language))
    if len(args) < 2 or (question_id := callbacks.row_id(args[1])) is None:
        return text("button_stale", language)
    action, coordination = args[0], context.services.coordination
    question = await coordination.get(question_id)
    if question is None:
        return text("answer_gone", language)
    name = query.from_user.first_name
    message = query_message(query)
    if action == "r" or action == "w":
        await context.start_flow(ANSWER_FLOW, {"question_id": question_id})
        shown = for_coordinators(question.text, language)
        reply = Reply(html_text("answer_write", language, question=shown))
    elif action == "s":
        state = await context.get_flow(ANSWER_FLOW)
        if not state or state.get("question_id") != question_id or not state.get("answer"):
            return text("button_stale", language)
        handled = await coordination.answer(question_id, query.from_user.id, name, state["answer"])
        await context.end_flow(ANSWER_FLOW)
        reply = await _delivered(context, handled, language, state["answer"])
    elif action == "c":
        reply = _covered_choices(context, question, language)
    elif action == "cv" and len(args) == 3:
        hit = await context.services.questions.lead(question_id, args[2])
        if hit is None:
            return text("lead_missing", language)
        handled = await coordination.covered(question_id, query.from_user.id, name, args[2])
        if not handled.done:
            reply = Reply(_already(handled, language))
        else:
            asker = handled.question.language if handled.question else language
            reach = await _send_to_asker(context, handled, _covered_reply(question.text, hit, asker))
            key = "covered_sent_waiting" if reach in (Reach.WAITING, Reach.BLOCKED) else "covered_sent"
            reply = Reply(html_text(key, language, title=hit.chunk.title))
    elif action == "x":
        handled = await coordination.dismiss(question_id, query.from_user.id, name)
        reply = Reply(
            html_text("answer_dismissed", language) if handled.done else _already(handled, language)
        )
    elif action == "k":
        if question.answer is None:
            return text("button_stale", language)
        # the FAQ entry is French, like the base; a contact detail in it would be published
        draft = for_coordinators(question.text, DEFAULT_LANGUAGE)
        state = {"question_id": question_id, "question": draft, "answer": question.answer}
        await context.start_flow(FAQ_FLOW, state)
        reply = _faq_preview(context, state, language)
    elif action in ("ka", "kq", "kr"):
        return await _faq_button(query, context, action, question_id, language)
    else:
        return text("button_stale", language)
    await query.answer()
    await send(message, reply)
    return None


def _covered_choices(context: Context, question: KeptQuestion, language: str) -> Reply:
    answer = context.services.questions.searcher.search(question.text, top=5)
    rows = [
        [(f"📄 {short_title(h.chunk.title)}", kept_data("cv", question.id, h.chunk.resource_id))]
        for h in answer.hits
        if callbacks.fits(kept_data("cv", question.id, h.chunk.resource_id))
    ]
    return Reply(html_text("covered_choose" if rows else "covered_none", language), rows)


def _answer_reply(question: KeptQuestion, answer: str) -> Reply:
    """A coordinator's answer as its asker receives it, in their language, with « did it help? »."""
    asker = question.language
    body = html_text("coordinator_answer", asker, question=question.text, answer=answer)
    body += "\n\n" + html_text("helped_question", asker)
    buttons = [[(text("helped_yes", asker), kept_data("h", question.id, "1")),
                (text("helped_no", asker), kept_data("h", question.id, "-1"))]]  # fmt: skip
    return Reply(body, buttons)


def _covered_reply(question: str, hit: Hit, language: str) -> Reply:
    body = html_text("coordinator_covered", language, question=question, passage="")
    return Reply(body + hit_message(hit, language))


_REACHED = {Reach.SENT: "answer_sent", Reach.WAITING: "answer_sent_waiting",
            Reach.BLOCKED: "answer_sent_unreachable", Reach.GONE: "answer_gone"}  # fmt: skip


async def _delivered(context: Context, handled: Handled, language: str, answer: str) -> Reply:
    if not handled.done or handled.question is None:
        return Reply(_already(handled, language))
    question = handled.question
    reach = await _send_to_asker(context, handled, _answer_reply(question, answer))
    return Reply(
        html_text(_REACHED[reach], language), [[(text("answer_add", language), kept_data("k", question.id))]]
    )


async def _send_to_asker(context: Context, handled: Handled, reply: Reply) -> Reach:
    if handled.asker_id is None or handled.question is None:
        return Reach.GONE
    return await _deliver(context, handled.question.id, handled.asker_id, reply)


async def _deliver(context: Context, question_id: int, chat_id: int, reply: Reply) -> Reach:
    """Send an answer to its asker's private chat; recorded as delivered only once Telegram took it.
    Telegram refuses a private chat the person never opened (400 « chat not found », or 403 « can't
    initiate conversation »): the answer waits for their next message to the bot (`deliver_waiting`)."""
    try:
        await context.bot.send_message(chat_id, reply.text, reply_markup=reply.markup())
    except Forbidden as exc:
        if "blocked" not in exc.message.lower():
            return Reach.WAITING
        await context.services.users.blocked(chat_id, True)
        return Reach.BLOCKED
    except BadRequest:
        return Reach.WAITING
    except TelegramError as exc:  # a network error: it stays waiting, sent with their next message
        log.warning("an answer could not reach its asker: %s", type(exc).__name__)
        return Reach.WAITING
    await context.services.coordination.delivered(question_id)
    return Reach.SENT


async def _waiting_reply(context: Context, question: KeptQuestion) -> Reply | None:
    if question.answer is not None:
        return _answer_reply(question, question.answer)
    hit = await context.services.questions.lead(question.id, question.covered_by or "")
    return None if hit is None else _covered_reply(question.text, hit, question.language)


async def deliver_waiting(update: Update, context: Context) -> None:
    """After any private message: the coordinators' answers that could not reach this person before (they
    had never written to the bot in private), oldest first. Almost always there are none: the update's
    visit says so, and nothing more is read."""
    user = update.effective_user
    if user is None or not await context.answers_waiting():
        return
    for question in await context.services.coordination.undelivered(user.id):
        reply = await _waiting_reply(context, question)
        if reply is None:  # the resource pointed to was withdrawn meanwhile: nothing left to send
            await context.services.coordination.delivered(question.id)
        elif await _deliver(context, question.id, user.id, reply) is not Reach.SENT:
            return


@private_only(ANSWER_LINK)
async def waiting_here(update: Update, context: Context) -> None:
    """`/start reponse` (the button under a group question kept for the coordinators): say the answer will
    come here, unless one is waiting already (`deliver_waiting` sends it right after)."""
    if update.effective_user and await context.answers_waiting():
        return
    await send(update.effective_message, Reply(html_text("answer_waiting_here", await context.language())))


def answer_dropped(state: dict[str, Any], language: str) -> str | None:
    """The notice of an answer being written that another command abandoned; None before it was written."""
    return html_text("answer_dropped", language) if state.get("answer") else None


async def helped_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    """`qa:h:<question>:<1|-1>`, pressed by the asker under a coordinator's answer."""
    language = await context.language()
    if len(args) != 3 or args[2] not in ("1", "-1") or (question_id := callbacks.row_id(args[1])) is None:
        return text("button_stale", language)
    done = await context.services.coordination.helped(question_id, query.from_user.id, int(args[2]))
    return text("helped_thanks" if done else "button_stale", language)


def _faq_preview(context: Context, state: dict[str, Any], language: str) -> Reply:
    today = context.services.coordination.clock().date()
    body = html_text("faq_preview", language, question=state["question"], answer=state["answer"],
                     date=f"{today:%d/%m/%Y}")  # fmt: skip
    qid = int(state["question_id"])
    return Reply(body, [
        [(text("faq_add", language), kept_data("ka", qid))],
        [(text("faq_edit_question", language), kept_data("kq", qid)),
         (text("faq_edit_answer", language), kept_data("kr", qid))],
    ])  # fmt: skip


async def _faq_button(
    query: CallbackQuery, context: Context, action: str, qid: int, language: str
) -> str | None:
    state = await context.get_flow(FAQ_FLOW)
    if not state or state.get("question_id") != qid:
        return text("button_stale", language)
    if action == "ka":
        try:
            added = await context.services.coordination.add_to_base(state["question"], state["answer"])
        except ContributionError as exc:
            return text(exc.reason, language, limit=exc.limit)
        await context.end_flow(FAQ_FLOW)
        reply = Reply(html_text("faq_added", language, id=added.id))
    else:
        editing = "question" if action == "kq" else "answer"
        await context.save_flow(FAQ_FLOW, {**state, "editing": editing})
        reply = Reply(html_text(f"faq_write_{editing}", language))
    await query.answer()
    await send(query_message(query), reply)
    return None


async def flow_text(update: Update, context: Context, flow: Flow) -> bool:
    """The coordinator's next message in one of this feature's flows."""
    message = update.effective_message
    if message is None or message.text is None:
        return False
    language, value = await context.language(), message.text.strip()
    if flow.name == ANSWER_FLOW:
        if len(value) > MAX_ANSWER:
            await send(message, Reply(html_text("answer_too_long", language, limit=MAX_ANSWER)))
            return True
        question = await context.services.coordination.get(int(flow.state["question_id"]))
        if question is None:
            await context.end_flow(ANSWER_FLOW)
            await send(message, Reply(html_text("answer_gone", language)))
            return True
        await context.save_flow(ANSWER_FLOW, {**flow.state, "answer": value})
        preview = (
            html_text("answer_preview", language)
            + "\n\n"
            + html_text(
                "coordinator_answer",
                question.language,
                answer=value,
                question=for_coordinators(question.text, language),  # the asker gets their own words
            )
        )
        await send(message, Reply(preview, [[
            (text("answer_send", language), kept_data("s", question.id)),
            (text("answer_rewrite", language), kept_data("w", question.id)),
        ]]))  # fmt: skip
    elif flow.name == FAQ_FLOW and flow.state.get("editing") in ("question", "answer"):
        state = {**flow.state, flow.state["editing"]: value, "editing": None}
        await context.save_flow(FAQ_FLOW, state)
        await send(message, _faq_preview(context, state, language))
    elif flow.name == FIX_FLOW:
        await context.end_flow(FIX_FLOW)
        try:
            fixed = await context.services.coordination.correct(str(flow.state["resource_id"]), value)
        except ContributionError as exc:
            await send(message, Reply(html_text(exc.reason, language, limit=exc.limit)))
            return True
        await send(
            message, Reply(html_text("contribution_fixed" if fixed else "contribution_missing", language))
        )
    else:
        return False
    return True


def register(application: App) -> None:
    """The kept questions' and contributions' buttons, /reponses, the cards after /questions' summary
    (handler group 1: after the questions feature's reply), and the coordinators' text flows."""
    fresh = filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler("questions", show_pending, filters=fresh), group=1)
    application.add_handler(CommandHandler("reponses", contributions, filters=fresh))
    application.add_handler(CallbackQueryHandler(on_button(helped_button), pattern=r"^qa:h:"))
    application.add_handler(CallbackQueryHandler(on_button(contribution_button), pattern=r"^qa:f[xw]:"))
    application.add_handler(CallbackQueryHandler(on_button(kept_button), pattern=r"^qa:"))
    text_in_private = filters.ChatType.PRIVATE & fresh & filters.TEXT & ~filters.COMMAND
    application.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & fresh, deliver_waiting), group=WAITING_GROUP
    )
    add_drop_notice(application, ANSWER_FLOW, answer_dropped)
    add_job(
        application, "index-refresh", refresh_index, lambda s: s.config.retrieval.refresh_seconds,
        every_instance=True,
    )  # fmt: skip
    add_flow_handler(
        application, (ANSWER_FLOW, FAQ_FLOW, FIX_FLOW), flow_text, text_in_private, Role.COORDINATOR
    )
