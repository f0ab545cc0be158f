"""Build the python-telegram-bot Application: handlers, commands, HTML defaults, rate limiter."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from collections.abc import Awaitable, Callable

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, Defaults

from bot.app import Services
from bot.messages import DEFAULT_LANGUAGE, LANGUAGES, text
from bot.telegram.context import CONTEXT_TYPES, JOBS, RENDERERS, App, Context, JobCallback, add_deep_links
from bot.telegram.delivery import DeliveryRuntime
from bot.telegram.features import (
    account,
    announcements,
    answers,
    diagnosis,
    events,
    importer,
    questions,
    start,
)
from bot.telegram.http import AiohttpRequest
from bot.telegram.transport import DEFAULT_API_ROOT
from bot.telegram.updates import ChatOrdered

COMMANDS = (
    "start", "aide", "diagnostic", "mondiagnostic", "evenements", "abonnements",
    "langue", "rejoindre", "mesdonnees", "oubli", "question",
)  # fmt: skip
PURGE_EVERY = dt.timedelta(hours=24)
ServicesFactory = Callable[[], Awaitable[Services]]
_REQUESTS = "http_requests"  # the bot's HTTP sessions (bot.telegram.http), closed at the very end


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
    requests = (AiohttpRequest(), AiohttpRequest(1))
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML))
        .context_types(CONTEXT_TYPES)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .concurrent_updates(ChatOrdered())  # chats overlap, each chat's updates stay in order
        .request(requests[0])
        .get_updates_request(requests[1])
    )
    if rate_limit:
        # Retries a RetryAfter once the wait Telegram asked for is over, holding back every other request.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))  # type: ignore[arg-type]
    application = builder.build()
    application.bot_data["services"] = services
    application.bot_data["delivery_settings"] = (token, root) if deliver else None
    application.bot_data[_REQUESTS] = requests
    _add_handlers(application)
    return application


# Registration order matters within python-telegram-bot's handler group 0: the diagnosis' "/stats
# diagnostic" comes before the questions' "/stats", and `start` comes last with the fallbacks (unknown
# command, stale button). Flows get handler groups of their own, before group 0. `events` comes before
# `questions`: a question about what is coming is answered from the calendar, not the knowledge base.
FEATURES = (diagnosis, events, questions, answers, importer, account, announcements, start)


def _add_handlers(app: App) -> None:
    add_deep_links(app)  # before the account's /start <invitation code>
    for feature in FEATURES:
        feature.register(app)


async def _post_init(app: Application) -> None:  # type: ignore[type-arg]
    services = app.bot_data["services"]
    if not isinstance(services, Services):
        app.bot_data["services"] = await services()
    services = app.bot_data["services"]
    if app.job_queue is not None:
        purge = ("purge", _purge, lambda _: PURGE_EVERY.total_seconds(), None, False)
        jobs = [purge, *app.bot_data.get(JOBS, [])]
        for name, callback, seconds, first, every_instance in jobs:
            interval = dt.timedelta(seconds=seconds(services))
            start_after = interval if first is None else first
            job = callback if every_instance else _leased(name, callback, interval)
            app.job_queue.run_repeating(job, interval=interval, first=start_after, name=name)
    if app.bot_data.get("delivery_settings"):
        token, root = app.bot_data["delivery_settings"]
        runtime = DeliveryRuntime(
            services, token, root, services.config.delivery, app.bot_data.get(RENDERERS, [])
        )
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


def _leased(name: str, callback: JobCallback, interval: dt.timedelta) -> JobCallback:
    """The job's tick, run only by the instance that holds its lease for this tick (see `bot.jobs`)."""

    async def tick(context: Context) -> None:
        if await context.services.leases.acquire(name, interval):
            await callback(context)

    return tick


async def _purge(context: Context) -> None:
    """Questions past their retention, chat flows past their expiry and the documents they were waiting to
    import are deleted."""
    services = context.services
    await services.questions.purge_old(services.config.database.question_retention_days)
    await services.conversations.purge()
    await asyncio.to_thread(services.importer.uploads.purge)


async def stop_delivery(app: Application) -> None:  # type: ignore[type-arg]
    runtime = app.bot_data.pop("delivery", None)
    if isinstance(runtime, DeliveryRuntime):
        await runtime.stop()


async def _post_shutdown(app: Application) -> None:  # type: ignore[type-arg]
    for request in app.bot_data.get(_REQUESTS, ()):  # already closed, unless the start failed (a bad token)
        await request.shutdown()
    await stop_delivery(app)
    services = app.bot_data.get("services")
    if isinstance(services, Services) and services.owned:
        await services.close()


ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
