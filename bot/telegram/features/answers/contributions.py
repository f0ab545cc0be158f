"""The coordinators' answers added to the knowledge: /reponses lists them with « Corriger » and
« Retirer », and every instance swaps in the index of a changed `knowledge/` on a timer."""

from __future__ import annotations

from telegram import CallbackQuery, Update

from bot.knowledge.contributions import Contribution
from bot.messages import text
from bot.telegram.context import Context, private_only, privileged
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import query_message, send
from bot.users import Role

FIX_FLOW = "qa_fix"  # state: resource_id


def contribution_data(action: str, resource_id: str) -> str:
    return f"qa:{action}:{resource_id}"


def _contribution_reply(item: Contribution, language: str) -> Reply:
    body = html_text("contribution_card", language, question=item.question, answer=item.answer[:500],
                     date=f"{item.date:%d/%m/%Y}")  # fmt: skip
    return Reply(
        body,
        [
            [
                (text("contribution_fix", language), contribution_data("fx", item.id)),
                (text("contribution_withdraw", language), contribution_data("fw", item.id)),
            ]
        ],
    )


@private_only("reponses")
@privileged(Role.COORDINATOR)
async def contributions(update: Update, context: Context) -> None:
    """/reponses: the coordinators' answers in the knowledge, each with « Corriger » and « Retirer »."""
    language = await context.language()
    items = context.services.coordination.contributions_list()[:20]
    await send(
        update.effective_message,
        Reply(html_text("contributions_header" if items else "contributions_none", language)),
    )
    for item in items:
        await send(update.effective_message, _contribution_reply(item, language))


async def contribution_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    language = await context.language()
    if not await context.has_role(Role.COORDINATOR):
        return text("not_allowed", language, role=text("role_coordinator", language))
    if len(args) != 2:
        return text("button_stale", language)
    action, resource_id = args
    coordination = context.services.coordination
    if coordination.contribution(resource_id) is None:
        return text("contribution_missing", language)
    if action == "fx":
        await context.start_flow(FIX_FLOW, {"resource_id": resource_id})
        reply = Reply(html_text("contribution_write", language))
    else:
        await coordination.withdraw(resource_id)
        reply = Reply(html_text("contribution_withdrawn", language))
    await query.answer()
    await send(query_message(query), reply)
    return None


async def refresh_index(context: Context) -> None:
    """Every `retrieval.refresh_seconds`, on every instance: swap in the index of a changed `knowledge/`."""
    await context.services.coordination.live.refresh()
