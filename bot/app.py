"""The composition root: builds the domain services from the configuration."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.announcements.service import AnnouncementService
from bot.clock import utc_now
from bot.config import Config
from bot.conversations import ConversationService
from bot.delivery.outbox import OutboxStore
from bot.diagnosis.questionnaire import open_questionnaire
from bot.diagnosis.service import DiagnosisService
from bot.embedding.install import load_embedder
from bot.events.planning import parse_offsets
from bot.events.service import EventService
from bot.jobs import JobLeases
from bot.knowledge.contributions import Contributions
from bot.qa import QuestionService
from bot.qa.coordination import CoordinationService
from bot.retrieval.index import IndexUnreadable, build_index, load_index, stale_reason
from bot.retrieval.live import LiveIndex
from bot.retrieval.search import Searcher
from bot.storage.database import Database, normalize_url, open_database
from bot.storage.repository import Storage
from bot.users import UserService
from bot.users.visits import VisitService

if TYPE_CHECKING:
    from bot.knowledge.importing import DocumentImporter

log = logging.getLogger(__name__)


def open_searcher(config: Config, *, say: Callable[[str], None] = log.warning) -> Searcher:
    """Load the model and the index, rebuilding the index first (and saying why) when it is stale."""
    embedder = load_embedder(config)
    knowledge_dir, index_dir = config.path(config.knowledge_dir), config.path(config.index_dir)
    reason = stale_reason(
        index_dir, knowledge_dir, embedder.name, backend=embedder.backend, precision=embedder.precision
    )
    index = None
    if reason is None:
        try:
            index = load_index(index_dir)
        except (IndexUnreadable, FileNotFoundError) as exc:
            reason = str(exc)
    if index is None:
        say(f"Rebuilding the index in {index_dir}: {reason}.")
        report = build_index(knowledge_dir, index_dir, embedder, progress=say)
        say(
            f"Index built: {report.resources} resources, {report.chunks} passages "
            f"({report.embedded} embedded)."
        )
        index = load_index(index_dir)
    return Searcher(index, embedder, config.retrieval)


@dataclass
class Services:
    """Everything the adapters (Telegram, CLI) call, built once from the config."""

    config: Config
    database: Database
    outbox: OutboxStore  # what the delivery sender drains
    users: UserService
    questions: QuestionService
    coordination: CoordinationService
    diagnosis: DiagnosisService
    events: EventService
    announcements: AnnouncementService
    conversations: ConversationService
    visits: VisitService  # what every update needs of its user, in one read
    leases: JobLeases
    importer: DocumentImporter
    owned: bool = True

    async def close(self) -> None:
        await self.questions.close()
        await self.database.close()


def document_importer(config: Config) -> DocumentImporter:
    """The importer of `catabot knowledge import` and /importer: into `knowledge_dir/importer.folder/`.

    Imported here: its readers (pypdf, python-docx, trafilatura…) take a second to load."""
    from bot.knowledge.importing import DocumentImporter

    return DocumentImporter(
        config.path(config.knowledge_dir),
        folder=config.importer.folder,
        max_bytes=int(config.importer.max_file_mb * 1024 * 1024),
    )


def event_service(config: Config, storage: Storage) -> EventService:
    return EventService(storage, parse_offsets(config.events.reminder_offsets))


async def open_event_service(config: Config) -> tuple[Database, EventService]:
    """The database (migrated) and the events over it, without the model: for `catabot events import`.

    Close the database when done."""
    database = await open_database(config.database.url, config.base_dir)
    return database, event_service(config, database.storage)


async def upgrade_database(config: Config) -> str:
    """Bring the configured database's schema to the newest migration (`catabot db upgrade`); returns its
    normalised URL (password included: mask it before showing it). Raises OSError when unreachable."""
    database = await open_database(config.database.url, config.base_dir)
    await database.close()
    return normalize_url(config.database.url, config.base_dir)


async def open_services(
    config: Config, *, searcher: Searcher | None = None, say: Callable[[str], None] = log.warning
) -> Services:
    """Open the database (applying migrations) and load the searcher off the event loop."""
    questionnaire = open_questionnaire(config.path(config.knowledge_dir))
    database = await open_database(config.database.url, config.base_dir)
    try:
        if searcher is None:
            searcher = await asyncio.to_thread(open_searcher, config, say=say)
    except BaseException:
        await database.close()
        raise
    storage = database.storage
    questions = QuestionService(searcher, storage)
    knowledge_dir = config.path(config.knowledge_dir)
    live = LiveIndex(searcher, knowledge_dir, config.path(config.index_dir), on_swap=questions.use)
    await storage.questions.purge_old_questions(config.database.question_retention_days, now=utc_now())
    users, conversations = UserService(storage, config.admins), ConversationService(storage.conversations)
    return Services(
        config=config,
        database=database,
        outbox=storage.outbox,
        users=users,
        questions=questions,
        coordination=CoordinationService(storage, Contributions(knowledge_dir), live),
        diagnosis=DiagnosisService(questionnaire, storage, searcher.index.chunks),
        events=event_service(config, storage),
        announcements=AnnouncementService(storage, require_approval=config.announcements.require_approval),
        conversations=conversations,
        visits=VisitService(storage, users, conversations),
        leases=JobLeases(storage.conversations),
        importer=document_importer(config),
    )
