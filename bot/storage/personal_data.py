"""A person's data: all of it exported, or erased (in one transaction)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import RowMapping, Select, delete, select, update

from bot.qa.records import ANSWER_FLOW
from bot.storage.base import (
    Repository,
    plain,
)
from bot.storage.campaigns import CAMPAIGN_PRIVATE
from bot.storage.schema import (
    campaigns,
    conversations,
    deliveries,
    diagnostic_results,
    diagnostic_sessions,
    event_subscriptions,
    events,
    feedback,
    invitations,
    preferences,
    questions,
    rsvps,
    users,
)

USER_ID_COLUMN = frozenset({"user_id"})


class PersonalDataRepository(Repository):
    """Export and erasure of one user's personal data."""

    async def export_user(self, user_id: int) -> dict[str, Any]:
        """Everything stored about the user, as JSON-serialisable data (datetimes in ISO 8601).

        Other people's ids are left out (who used the user's invitations, who invited them, who approved their
        campaigns); so are the ids of the messages showing a campaign's progress.
        """
        async with self._tx(write=False) as conn:

            async def rows(stmt: Select[Any], exclude: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
                return [plain(row, exclude=exclude) for row in (await conn.execute(stmt)).mappings()]

            async def first(stmt: Select[Any]) -> RowMapping | None:
                row: RowMapping | None = (await conn.execute(stmt)).mappings().first()
                return row

            profile = await first(select(users).where(users.c.id == user_id))
            private = frozenset({"user_id", "normalized_text", "handled_by", "handled_by_name"})
            asked_list = await rows(
                select(questions).where(questions.c.user_id == user_id).order_by(questions.c.created_at),
                private,
            )
            votes_list = await rows(
                select(feedback.c.question_id, feedback.c.value, feedback.c.reason, feedback.c.created_at)
                .where(feedback.c.user_id == user_id)
                .order_by(feedback.c.created_at)
            )
            created_list = await rows(
                select(
                    invitations.c.code,
                    invitations.c.created_at,
                    invitations.c.expires_at,
                    invitations.c.used_at,
                )
                .where(invitations.c.created_by == user_id)
                .order_by(invitations.c.created_at)
            )
            used_list = await rows(
                select(invitations.c.code, invitations.c.used_at)
                .where(invitations.c.used_by == user_id)
                .order_by(invitations.c.used_at)
            )
            session = await first(select(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id))
            results_list = await rows(
                select(diagnostic_results)
                .where(diagnostic_results.c.user_id == user_id)
                .order_by(diagnostic_results.c.created_at, diagnostic_results.c.id),
                USER_ID_COLUMN,
            )
            events_created_list = await rows(
                select(events.c.id, events.c.title, events.c.starts_at, events.c.created_at)
                .where(events.c.created_by == user_id)
                .order_by(events.c.created_at, events.c.id)
            )
            reminders_list = await rows(
                select(event_subscriptions.c.event_id, event_subscriptions.c.created_at)
                .where(event_subscriptions.c.user_id == user_id)
                .order_by(event_subscriptions.c.created_at, event_subscriptions.c.event_id)
            )
            answers_list = await rows(
                select(rsvps.c.event_id, rsvps.c.answer, rsvps.c.updated_at)
                .where(rsvps.c.user_id == user_id)
                .order_by(rsvps.c.updated_at, rsvps.c.event_id)
            )
            prefs = await first(select(preferences).where(preferences.c.user_id == user_id))
            messages_list = await rows(
                select(
                    deliveries.c.kind,
                    deliveries.c.ref_id,
                    deliveries.c.status,
                    deliveries.c.created_at,
                    deliveries.c.not_before,
                    deliveries.c.finished_at,
                )
                .where(deliveries.c.chat_id == user_id)
                .order_by(deliveries.c.created_at, deliveries.c.id)
            )
            authored_list = await rows(
                select(campaigns)
                .where(campaigns.c.author_id == user_id)
                .order_by(campaigns.c.created_at, campaigns.c.id),
                CAMPAIGN_PRIVATE,
            )
            approved = await conn.scalars(
                select(campaigns.c.id).where(campaigns.c.approved_by == user_id).order_by(campaigns.c.id)
            )
            approved_list = [{"id": campaign_id} for campaign_id in approved]
        return {
            "user": None if profile is None else plain(profile),
            "questions": asked_list,
            "feedback": votes_list,
            "invitations_created": created_list,
            "invitations_used": used_list,
            "diagnostic_session": None if session is None else plain(session, exclude=USER_ID_COLUMN),
            "diagnostic_results": results_list,
            "events_created": events_created_list,
            "event_reminders": reminders_list,
            "rsvps": answers_list,
            "preferences": None if prefs is None else plain(prefs, exclude=USER_ID_COLUMN),
            "deliveries": messages_list,
            "campaigns": authored_list,
            "campaigns_approved": approved_list,
        }

    async def forget_user(self, user_id: int) -> None:
        """Erase the user: profile, questions (with everyone's votes on them), votes, unused invitations.

        Their self-diagnosis in progress and results go too, and so do their event reminders, answers,
        preferences and the deliveries to their private chat. Invitations already used are kept, without the
        user's id, so a used code stays used; so are the events they created, without their id, and the
        campaigns they wrote: the text stays (it was sent to others), the author becomes NULL (as the foreign
        key would do). Their approvals of campaigns and the progress messages in their chat are forgotten.
        """
        own_questions = select(questions.c.id).where(questions.c.user_id == user_id)
        async with self._tx(write=True) as conn:
            # A coordinator's answer still being written to one of these questions goes with them.
            ids = set((await conn.scalars(own_questions)).all())
            drafts = select(conversations).where(conversations.c.flow == ANSWER_FLOW)
            for draft in (await conn.execute(drafts)).mappings().all():
                if draft["state"].get("question_id") in ids:
                    await conn.execute(
                        delete(conversations).where(
                            conversations.c.chat_id == draft["chat_id"],
                            conversations.c.user_id == draft["user_id"],
                            conversations.c.flow == ANSWER_FLOW,
                        )
                    )
            await conn.execute(
                update(questions)
                .where(questions.c.handled_by == user_id)
                .values(handled_by=None, handled_by_name=None)
            )
            await conn.execute(delete(feedback).where(feedback.c.user_id == user_id))
            await conn.execute(delete(feedback).where(feedback.c.question_id.in_(own_questions)))
            await conn.execute(delete(questions).where(questions.c.user_id == user_id))
            await conn.execute(delete(diagnostic_sessions).where(diagnostic_sessions.c.user_id == user_id))
            await conn.execute(delete(diagnostic_results).where(diagnostic_results.c.user_id == user_id))
            await conn.execute(
                delete(invitations).where(
                    invitations.c.created_by == user_id, invitations.c.used_at.is_(None)
                )
            )
            await conn.execute(
                update(invitations).where(invitations.c.created_by == user_id).values(created_by=None)
            )
            await conn.execute(
                update(invitations).where(invitations.c.used_by == user_id).values(used_by=None)
            )
            await conn.execute(delete(event_subscriptions).where(event_subscriptions.c.user_id == user_id))
            await conn.execute(delete(rsvps).where(rsvps.c.user_id == user_id))
            await conn.execute(delete(preferences).where(preferences.c.user_id == user_id))
            await conn.execute(delete(deliveries).where(deliveries.c.chat_id == user_id))
            await conn.execute(update(events).where(events.c.created_by == user_id).values(created_by=None))
            await conn.execute(
                update(campaigns).where(campaigns.c.author_id == user_id).values(author_id=None)
            )
            await conn.execute(
                update(campaigns).where(campaigns.c.approved_by == user_id).values(approved_by=None)
            )
            await conn.execute(
                update(campaigns)
                .where(campaigns.c.progress_chat_id == user_id)
                .values(progress_chat_id=None, progress_message_id=None)
            )
            await conn.execute(delete(users).where(users.c.id == user_id))
