"""The typed context every handler receives: the services, the user's language, the role check and the
chat flow in progress (kept in the database, so any instance of the bot continues it).

The language, the role, the flow and whether answers wait for the user are read together, once per update,
in one statement (`bot.users.visits`), on the first of `language()`, `role()`, `flow()` or
`answers_waiting()`.

`CONTEXT_TYPES` goes to `ApplicationBuilder.context_types`; handlers are `async def h(update, context:
Context)`. `privileged(role)` re-checks the role on every use; `add_flow_handler` lets a feature answer the
messages of its own flows before anything else sees them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from telegram import CallbackQuery, Chat, Message, Update
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackContext,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)
from telegram.ext.filters import BaseFilter

from bot.conversations import Flow
from bot.messages import DEFAULT_LANGUAGE, text
from bot.telegram import callbacks
from bot.telegram.render import Reply, html_text
from bot.telegram.replies import send
from bot.users import Role

if TYPE_CHECKING:
    from bot.app import Services
    from bot.users.visits import Visit

_ROLE_NAMES = {Role.MEMBER: "role_member", Role.COORDINATOR: "role_coordinator", Role.ADMIN: "role_admin"}
_FLOW_GROUPS = "flow_groups"
RENDERERS = "renderers"
JOBS = "jobs"
DROP_NOTICES = "drop_notices"
# What a user is told when a new flow ends flow `name` with work in it: `notice(state, language)`, the
# notice's Telegram HTML, or None when the flow held nothing the user would miss.
DropNotice = Callable[[dict[str, Any], str], str | None]


class _Unread:
    """The flow has not been read in this update yet."""


_UNREAD = _Unread()
_FROM_VISIT = _Unread()  # the flow is the one the update's visit read (not read again since)


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """python-telegram-bot's context, plus what every catabot handler needs."""

    __slots__ = ("_flow", "_hint", "_language", "_reading", "_visit")

    def __init__(
        self, application: Application[Any, Any, Any, Any, Any, Any], chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:  # fmt: skip
        super().__init__(application, chat_id=chat_id, user_id=user_id)
        self._language: str | None = None
        self._hint: str | None = None
        self._flow: Flow | _Unread | None = _FROM_VISIT
        self._visit: Visit | None = None
        self._reading: asyncio.Lock | None = None

    @classmethod
    def from_update(cls, update: object, application: Application[Any, Any, Any, Any, Any, Any]) -> Context:
        """python-telegram-bot's context, plus the user's Telegram language (`language_code`, e.g. "en"),
        which a user's stored language starts from."""
        context = super().from_update(update, application)
        if isinstance(update, Update) and update.effective_user is not None:
            context._hint = update.effective_user.language_code
        return context

    @property
    def services(self) -> Services:
        return self.application.bot_data["services"]  # type: ignore[no-any-return]

    @property
    def user_id(self) -> int | None:
        return self._user_id

    @property
    def chat_id(self) -> int | None:
        return self._chat_id

    async def _visited(self) -> Visit:
        """The update's user as the update found them (`bot.users.visits`), read on first use; handlers of
        one update running at the same time (`block=False`) share the read."""
        assert self._user_id is not None
        if self._visit is None:
            self._reading = self._reading or asyncio.Lock()
            async with self._reading:
                if self._visit is None:
                    self._visit = await self.services.visits.visit(self._user_id, self._chat_id)
        return self._visit

    async def language(self) -> str:
        """The user's language ("fr" or "en"), read once per update: the one stored, else for a newcomer
        the one their Telegram speaks (`UserService.first_language`), else French."""
        if self._language is None:
            if not self._user_id:
                self._language = DEFAULT_LANGUAGE
            elif (stored := (await self._visited()).language) is not None:
                self._language = stored
            else:  # met for the first time: recorded now, with their Telegram's language
                self._language = await self.services.users.first_language(self._user_id, hint=self._hint)
        return self._language

    def note_visit(self) -> None:
        """Record the user's visit (`UserService.note_seen`) in a task of its own, after the reply: the
        chat's next update does not wait for the write, which may queue behind others under load."""
        if self._user_id is not None:
            self.application.create_task(self.services.users.note_seen(self._user_id), name="catabot-visit")

    def set_language(self, language: str) -> None:
        """After the user chose a language: the rest of this update speaks it."""
        self._language = language

    async def role(self) -> Role:
        """The user's role, read once per update (admins come from the config)."""
        return (await self._visited()).role if self._user_id else Role.NEWCOMER

    async def answers_waiting(self) -> bool:
        """Whether coordinators' answers wait for the user (`deliver_waiting` then fetches them)."""
        return bool(self._user_id) and (await self._visited()).answers_waiting

    async def has_role(self, role: Role) -> bool:
        return await self.role() >= role

    # -- the flow in progress (bot.conversations), in this chat, for this user ------------------------------

    async def flow(self) -> Flow | None:
        """The flow in progress, read once per update (every flow handler group asks) and again only after
        this update started, saved or ended one."""
        if self._chat_id is None or self._user_id is None:
            return None
        if self._flow is _FROM_VISIT:
            self._flow = (await self._visited()).flow
        elif isinstance(self._flow, _Unread):
            self._flow = await self.services.conversations.current(self._chat_id, self._user_id)
        return self._flow

    async def get_flow(self, name: str) -> dict[str, Any] | None:
        """The state of flow `name` in this chat, for this user, or None."""
        if self._chat_id is None or self._user_id is None:
            return None
        return await self.services.conversations.get(self._chat_id, self._user_id, name)

    async def start_flow(self, name: str, state: dict[str, Any]) -> None:
        """Begin flow `name`, ending the one in progress; when that one held a draft (see `add_drop_notice`),
        the user is told it is abandoned, before the new flow's first message."""
        assert self._chat_id is not None and self._user_id is not None
        previous = await self.flow()
        self._flow = _UNREAD
        await self.services.conversations.start(self._chat_id, self._user_id, name, state)
        notices: dict[str, DropNotice] = self.application.bot_data.get(DROP_NOTICES, {})
        if previous is not None and previous.name in notices:
            notice = notices[previous.name](previous.state, await self.language())
            if notice is not None:
                await self.bot.send_message(self._chat_id, notice, parse_mode="HTML")

    async def save_flow(self, name: str, state: dict[str, Any]) -> None:
        assert self._chat_id is not None and self._user_id is not None
        self._flow = _UNREAD
        await self.services.conversations.save(self._chat_id, self._user_id, name, state)

    async def end_flow(self, name: str | None = None) -> bool:
        """End `name` (any flow when None); whether there was one."""
        if self._chat_id is None or self._user_id is None:
            return False
        self._flow = _UNREAD
        return await self.services.conversations.end(self._chat_id, self._user_id, name)


CONTEXT_TYPES = ContextTypes(context=Context)
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
FlowHandler = Callable[[Update, Context, Flow], Awaitable[bool]]
App = Application[Any, Context, Any, Any, Any, Any]
ButtonRoute = Callable[[CallbackQuery, Context, list[str]], Awaitable[str | None]]
RendererSetup = Callable[[Any, "Services"], None]


def on_button(route: ButtonRoute) -> Handler:
    """A `CallbackQueryHandler` callback from `route(query, context, arguments)`, which answers the query
    itself or returns the notice to answer it with (the stale-button text for a forged or stale button)."""

    async def handle(update: Update, context: Context) -> None:
        query = update.callback_query
        if query is None:
            return
        _, args = callbacks.parse(query.data)
        if (notice := await route(query, context, args)) is not None:
            await query.answer(notice)

    handle.__name__, handle.__module__ = route.__name__, route.__module__
    return handle


async def stale_button(update: Update, context: Context) -> None:
    """Every button press is answered: one nobody handled (forged, or stale) changes nothing."""
    if update.callback_query is not None:
        await update.callback_query.answer(text("button_stale", await context.language()))


def add_drop_notice(application: App, name: str, notice: DropNotice) -> None:
    """`notice(state, language)` tells a user that a new command abandoned their flow `name` (a draft)."""
    application.bot_data.setdefault(DROP_NOTICES, {})[name] = notice


def add_renderers(application: App, setup: RendererSetup) -> None:
    """`setup(transport, services)` registers how a feature's outbox deliveries look; the delivery runtime
    calls every registered setup when it starts."""
    application.bot_data.setdefault(RENDERERS, []).append(setup)


def privileged(role: Role) -> Callable[[Handler], Handler]:
    """Re-check the caller's role on every use; refuse politely and change nothing otherwise."""

    def wrap(handler: Handler) -> Handler:
        async def checked(update: Update, context: Context) -> None:
            if update.effective_user is None or not await context.has_role(role):
                language = await context.language()
                refusal = html_text("not_allowed", language, role=text(_ROLE_NAMES[role], language))
                await send(update.effective_message, Reply(refusal))
                return
            await handler(update, context)

        functools.update_wrapper(checked, handler)
        return checked

    return wrap


def shared(chat: Chat | None) -> bool:
    """Whether a chat is seen by others than the user (a group, a supergroup, a channel)."""
    return chat is not None and chat.type != Chat.PRIVATE


def shared_query(query: CallbackQuery) -> bool:
    """Whether the button pressed sits on a message others see too (or on one the bot cannot reach)."""
    return not isinstance(query.message, Message) or shared(query.message.chat)


# Deep-link payload (`/start <payload>`) -> the private-only handlers it runs, filled by `private_only`.
_DEEP_LINKS: dict[str, list[Handler]] = {}


def private_only(
    payload: str, prompt: str = "private_only", *, tell: bool = True, linked: bool = True
) -> Callable[[Handler], Handler]:
    """Run the handler in a private chat only. Anywhere else reply `prompt` (« écrivez-moi en privé ») with
    a button opening the bot's private chat on `/start <payload>`, which runs the handler there, and show
    nothing else; `tell=False` for a second handler of the same command (it stays silent in a group),
    `linked=False` for a handler the deep link cannot run (one that needs the message it was sent with).
    Apply it above `privileged`: a group never learns who holds a role. `payload`: 1–64 characters of
    [A-Za-z0-9_-] (Telegram's deep-link alphabet)."""

    def wrap(handler: Handler) -> Handler:
        async def checked(update: Update, context: Context) -> None:
            if not shared(update.effective_chat):
                await handler(update, context)
                return
            if tell:
                await send(update.effective_message, await _write_in_private(context, payload, prompt))

        functools.update_wrapper(checked, handler)
        if linked:
            _DEEP_LINKS.setdefault(payload, []).append(checked)
        return checked

    return wrap


async def _write_in_private(context: Context, payload: str, prompt: str) -> Reply:
    language = await context.language()
    body = html_text(prompt, language)
    if not context.bot.username:
        return Reply(body)
    link = f"https://t.me/{context.bot.username}?start={payload}"
    return Reply(body, [[(text("private_open", language), link)]])


def add_deep_links(application: App) -> None:
    """`/start <payload>` in a private chat (the « écrivez-moi en privé » button) runs the private-only
    handlers registered under `payload`, as if the user had typed their command there. Registered before
    every feature, so that an invitation code (`/start <code>`) is never confused with a payload."""
    if not _DEEP_LINKS:
        return
    payloads = "|".join(sorted(_DEEP_LINKS))
    linked = (
        filters.ChatType.PRIVATE
        & filters.UpdateType.MESSAGE
        & filters.Regex(rf"^/start(@\w+)?\s+({payloads})\s*$")
    )

    async def deep_link(update: Update, context: Context) -> None:
        message = update.effective_message
        payload = context.args[0] if context.args else ""
        context.args = []  # the handler sees its command without arguments
        for handler in _DEEP_LINKS.get(payload, []) if message is not None else []:
            await handler(update, context)

    application.add_handler(CommandHandler("start", deep_link, filters=linked))


def add_flow_handler(
    application: App, flows: tuple[str, ...], callback: FlowHandler, message_filter: BaseFilter, role: Role
) -> None:
    """Give `callback` the messages (matching `message_filter`) of a user in one of `flows`, before any
    other handler; when it returns True nothing else handles the message. A user who lost `role` meanwhile
    leaves the flow, and the message is handled as if there were none. Each flow handler gets its own
    handler group (python-telegram-bot runs one handler per group)."""

    async def handle(update: Update, context: Context) -> None:
        flow = await context.flow()
        if flow is None or flow.name not in flows:
            return
        if not await context.has_role(role):
            await context.end_flow(flow.name)
            return
        if await callback(update, context, flow):
            raise ApplicationHandlerStop

    groups: list[int] = application.bot_data.setdefault(_FLOW_GROUPS, [])
    groups.append(-1 - len(groups))
    application.add_handler(MessageHandler(message_filter, handle), group=groups[-1])


JobCallback = Callable[[Context], Coroutine[Any, Any, None]]


def add_job(
    application: App,
    name: str,
    callback: JobCallback,
    seconds: Callable[[Services], float],
    first: float | None = None,
    *,
    every_instance: bool = False,
) -> None:
    """Run `callback` every `seconds(services)` seconds once the bot has started, the first time after
    `first` seconds (one interval when None); with several instances on one database, each tick runs on
    one of them (see `bot.jobs`), or on each when `every_instance` (for what every instance keeps in
    memory, e.g. its index)."""
    application.bot_data.setdefault(JOBS, []).append((name, callback, seconds, first, every_instance))
