"""/abonnements: which reminders, event notices, announcements and topics a user receives."""

from __future__ import annotations

from telegram import CallbackQuery, Update

from bot.messages import text
from bot.telegram.context import (
    Context,
    private_only,
    shared_query,
)
from bot.telegram.features.events.buttons import subscription_data
from bot.telegram.render import Reply, html_text, topic_label
from bot.telegram.replies import replace, send
from bot.users.records import Preferences

_SUBSCRIPTIONS = {"all": "remind_all", "new": "new_event_notices", "ann": "announcements"}
_SUBSCRIPTION_LABELS = {
    "all": "subscription_all",
    "new": "subscription_new",
    "ann": "subscription_announcements",
}


def _subscriptions_reply(prefs: Preferences, topics: tuple[str, ...], language: str) -> Reply:
    def toggle(on: bool, label: str, data: str) -> list[tuple[str, str]]:
        return [(text("subscription_on" if on else "subscription_off", language, label=label), data)]

    rows = [
        toggle(
            bool(getattr(prefs, name)), text(_SUBSCRIPTION_LABELS[code], language), subscription_data(code)
        )
        for code, name in _SUBSCRIPTIONS.items()
    ]
    rows += [
        toggle(
            topic in prefs.topics,
            text("subscription_topic", language, topic=topic_label(topic, language)),
            subscription_data("t", topic),
        )
        for topic in topics
    ]
    return Reply(html_text("subscriptions_header", language), rows)


@private_only("abonnements")
async def subscriptions(update: Update, context: Context) -> None:
    user = update.effective_user
    if user is None:
        return
    prefs = await context.services.users.preferences(user.id)
    language = await context.language()
    await send(
        update.effective_message,
        _subscriptions_reply(prefs, context.services.config.announcements.topics, language),
    )


async def subscription_button(query: CallbackQuery, context: Context, args: list[str]) -> str | None:
    svc = context.services
    topics = svc.config.announcements.topics
    is_topic = len(args) == 2 and args[0] == "t" and args[1] in topics
    if shared_query(query) or (not is_topic and (len(args) != 1 or args[0] not in _SUBSCRIPTIONS)):
        return text("button_stale", await svc.users.language(query.from_user.id))
    user_id = query.from_user.id
    if is_topic:
        prefs = await svc.users.toggle_topic(user_id, args[1], topics)
    else:
        prefs = await svc.users.toggle_preference(user_id, _SUBSCRIPTIONS[args[0]])
    language = await context.services.users.language(user_id)
    await replace(query, _subscriptions_reply(prefs, context.services.config.announcements.topics, language))
    await query.answer()
    return None
