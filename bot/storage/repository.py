"""The storage of the bot: one repository per concern over a shared engine, and the unit of work.

`Storage(engine)` has the repositories as attributes: `users` (users, invitations), `questions` (questions,
feedback, usage counts), `coordination` (questions kept for the coordinators), `diagnosis`, `events`
(events, reminders, RSVP), `preferences`, `campaigns`, `outbox` (the `bot.delivery.outbox.OutboxStore`),
`personal_data` (export, erasure), `conversations` (chat flows in progress, job leases) and `visits` (what
one update needs of its user, in one statement). Each of their methods is one transaction. Operations that
span several concerns run in a unit of work:

    async with storage.uow() as tx:        # one transaction (SQLite: the write lock from its start)
        event = await tx.events.create_event(fields, created_by=user_id, now=now)
        await tx.outbox.enqueue(EVENT_NOTICE, event.id, await tx.events.event_notice_recipients(event), ...)

Everything done through `tx` commits together when the block ends, or not at all if it raises (or the process
dies). Times are timezone-aware UTC datetimes; methods where time matters take a keyword `now` (default: the
current time) so tests can use their own clock. Nothing here knows about Telegram.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.base import Connector
from bot.storage.campaigns import CampaignRepository
from bot.storage.conversations import ConversationRepository
from bot.storage.coordination import CoordinationRepository
from bot.storage.diagnosis import DiagnosisRepository
from bot.storage.engine import transaction
from bot.storage.events import EventRepository
from bot.storage.outbox import OutboxRepository
from bot.storage.personal_data import PersonalDataRepository
from bot.storage.preferences import PreferenceRepository
from bot.storage.questions import QuestionRepository
from bot.storage.users import UserRepository
from bot.storage.visits import VisitRepository


class Repositories:
    """The repositories of every concern, over one `Connector`."""

    def __init__(self, connector: Connector) -> None:
        self.users = UserRepository(connector)
        self.questions = QuestionRepository(connector)
        self.coordination = CoordinationRepository(connector)
        self.diagnosis = DiagnosisRepository(connector)
        self.events = EventRepository(connector)
        self.preferences = PreferenceRepository(connector)
        self.campaigns = CampaignRepository(connector)
        self.outbox = OutboxRepository(connector)
        self.personal_data = PersonalDataRepository(connector)
        self.conversations = ConversationRepository(connector)  # chat flows in progress, job leases
        self.visits = VisitRepository(connector)  # what one update needs of its user, in one statement


class Storage(Repositories):
    """The repositories over `engine`, each call its own transaction; `uow()` for several in one."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(Connector(engine))
        self._engine = engine

    @asynccontextmanager
    async def uow(self) -> AsyncIterator[Repositories]:
        """A unit of work: the repositories bound to one write transaction, committed when the block ends
        and rolled back if it raises. Do not call `self`'s repositories inside it (another transaction:
        on SQLite it would wait for this one's write lock)."""
        async with transaction(self._engine, write=True) as conn:
            yield Repositories(Connector(self._engine, conn))
