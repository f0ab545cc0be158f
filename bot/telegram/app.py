"""Build the python-telegram-bot Application: handlers, commands, HTML defaults, rate limiter."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Awaitable, Callable

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.ext import CallbackQueryHandler as ButtonHandler

from bot.app import Services
from bot.messages import DEFAULT_LANGUAGE, LANGUAGES, text
from bot.telegram import announcements, diagnosis, events
from bot.telegram import handlers as h
from bot.telegram.delivery import DeliveryRuntime
from bot.telegram.transport import DEFAULT_API_ROOT

COMMANDS = (
    "start", "aide", "diagnostic", "mondiagnostic", "evenements", "abonnements",
    "langue", "rejoindre", "mesdonnees", "oubli", "question",
)  # fmt: skip
PURGE_EVERY = dt.timedelta(hours=24)
ServicesFactory = Callable[[], Awaitable[Services]]


def bot_commands(language: str) -> list[BotCommand]:
    return [BotCommand(name, text(f"cmd_{name}", language)) for name in COMMANDS]


def build_application(
    token: str,
    services: Services | ServicesFactory,
    *,
    api_root: str = DEFAULT_API_ROOT,
    rate_limit: bool = True,
    deliver: bool = True,
) -> Application:  # type: ignore[type-arg]
    """The bot, with `services` given or opened by `post_init` (and closed at shutdown)."""
    root = api_root.rstrip("/")
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if rate_limit:
        # Retries a RetryAfter once the wait Telegram asked for is over, holding back every other request.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.bot_data["services"] = services
    application.bot_data["delivery_settings"] = (token, root) if deliver else None
    _add_handlers(application)
    return application


def _add_handlers(app: Application) -> None:  # type: ignore[type-arg]
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    fresh = filters.UpdateType.MESSAGE  # edited messages are not new questions
    app.add_handler(CommandHandler("start", h.start, filters=fresh))
    app.add_handler(CommandHandler(["aide", "help"], h.help_command, filters=fresh))
    app.add_handler(CommandHandler(["langue", "language"], h.choose_language, filters=fresh))
    app.add_handler(CommandHandler("question", h.group_question, filters=fresh, block=False))
    app.add_handler(CommandHandler("rejoindre", h.join, filters=fresh))
    app.add_handler(CommandHandler("diagnostic", diagnosis.diagnostic, filters=fresh))
    app.add_handler(CommandHandler("evenements", events.events_command, filters=fresh))
    app.add_handler(CommandHandler("abonnements", events.subscriptions, filters=fresh))
    app.add_handler(CommandHandler("nouvel_evenement", events.new_event, filters=fresh))
    app.add_handler(CommandHandler("annuler", events.cancel_flow, filters=fresh))
    app.add_handler(CommandHandler("annonce", announcements.announce, filters=fresh))
    app.add_handler(CommandHandler("campagnes", announcements.campaigns_command, filters=fresh))
    app.add_handler(CommandHandler("mondiagnostic", diagnosis.my_diagnostic, filters=fresh, block=False))
    app.add_handler(CommandHandler("coordinateur", h.name_coordinator, filters=fresh))
    app.add_handler(CommandHandler("invitation", h.create_invitation, filters=fresh))
    app.add_handler(CommandHandler("questions", h.coordinator_questions, filters=fresh))
    app.add_handler(CommandHandler("stats", h.statistics, filters=fresh))
    app.add_handler(CommandHandler("mesdonnees", h.my_data, filters=fresh))
    app.add_handler(CommandHandler("oubli", h.forget_request, filters=fresh))
    app.add_handler(MessageHandler(private & fresh & filters.COMMAND, h.unknown_command))
    app.add_handler(MessageHandler(private & fresh & filters.TEXT, h.private_text, block=False))
    app.add_handler(
        MessageHandler(groups & fresh & filters.TEXT & ~filters.COMMAND, h.group_mention, block=False)
    )
    app.add_handler(MessageHandler(private & fresh & ~filters.TEXT, h.non_text))
    app.add_handler(ButtonHandler(h.button))
    app.add_handler(ChatMemberHandler(h.chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_error_handler(h.on_error)


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    services = app.bot_data["services"]
    if not isinstance(services, Services):
        app.bot_data["services"] = await services()
    services = app.bot_data["services"]
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            _purge_old_questions, interval=PURGE_EVERY, first=PURGE_EVERY, name="purge"
        )
        tick = dt.timedelta(seconds=services.config.events.tick_seconds)
        app.job_queue.run_repeating(_plan_reminders, interval=tick, first=1, name="reminders")
        progress = dt.timedelta(seconds=services.config.announcements.progress_seconds)
        app.job_queue.run_repeating(
            announcements.update_progress, interval=progress, first=progress, name="progress"
        )
    if app.bot_data.get("delivery_settings"):
        token, root = app.bot_data["delivery_settings"]
        runtime = DeliveryRuntime(services, token, root, services.config.delivery)
        await runtime.start()
        app.bot_data["delivery"] = runtime
    # What start-up loaded (model, index, libraries) lives as long as the bot: keep it out of the garbage
    # collector's full passes, which otherwise stop the event loop ~270 ms under load.
    gc.freeze()
    for language in LANGUAGES:
        await app.bot.set_my_commands(
            bot_commands(language),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=None if language == DEFAULT_LANGUAGE else language,
        )


async def _purge_old_questions(context: h.Context) -> None:
    services = h.services(context)
    await services.questions.purge_old(services.config.database.question_retention_days)


async def _plan_reminders(context: h.Context) -> None:
    await h.services(context).events.plan_reminders()


async def stop_delivery(app: Application) -> None:  # type: ignore[type-arg]
    runtime = app.bot_data.pop("delivery", None)
    if isinstance(runtime, DeliveryRuntime):
        await runtime.stop()


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    await stop_delivery(app)
    services = app.bot_data.get("services")
    if isinstance(services, Services) and services.owned:
        await services.close()


ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
