"""Questions asked together share their database work (issue 16): one read of the askers' previous questions,
one write for the batch; on SQLite and PostgreSQL. A refused write still answers everyone."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.embedding.fake import FakeEmbedder
from bot.qa.records import NewQuestion, Status
from bot.qa.service import FOLLOW_UP_WINDOW, Asked, QuestionService
from bot.retrieval.search import Answer
from bot.storage.database import Database
from bot.storage.repository import Storage
from tests.delivery.test_delivery_faults import ReadOnlySwitch
from tests.storage_fixtures import T0


class ScriptedSearcher:
    """Stands for the Searcher: a question starting with « ok » is answered, « ? » is in the field but
    unanswered, anything else is off-topic. Records each batch with the previous questions it was given."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.embedder = FakeEmbedder(8)  # one batch at a time
        self.during_search: Callable[[], object] = lambda: None

    def check_question(self, question: str) -> str:
        return question.strip()

    def search_many(self, questions: Sequence[str], *, previous: Sequence[str] = ()) -> list[Answer]:
        self.batches.append(list(zip(questions, previous, strict=True)))
        self.during_search()
        found = [(q.startswith("ok"), q.startswith(("ok", "?"))) for q in questions]
        return [Answer(q, a, 0.5, [], in_field=f) for q, (a, f) in zip(questions, found, strict=True)]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def service(storage: Storage, clock: Clock) -> AsyncIterator[QuestionService]:
    svc = QuestionService(ScriptedSearcher(), storage, clock=clock)  # type: ignore[arg-type]
    svc.batcher.gather_wait = 30.0  # the questions announced together always form one batch
    yield svc
    await svc.close()


def searcher_of(svc: QuestionService) -> ScriptedSearcher:
    assert isinstance(svc.searcher, ScriptedSearcher)
    return svc.searcher


async def together(svc: QuestionService, *questions: tuple[int, str, str]) -> list[Asked]:
    """(user, chat type, text) asked at the same moment, each announced first as the Telegram feature does."""

    async def one(user: int, chat_type: str, question: str) -> Asked:
        with svc.coming():
            await asyncio.sleep(0)  # the asker's own round trips
        return await svc.ask(user, question, chat_type=chat_type, language="fr")

    batches = len(searcher_of(svc).batches)
    asked = await asyncio.wait_for(asyncio.gather(*(one(*q) for q in questions)), 10)
    assert len(searcher_of(svc).batches) == batches + 1, "one model call for the batch"
    return list(asked)


async def test_a_batch_records_the_answered_and_unanswered_questions_and_keeps_the_unanswered(
    service: QuestionService, storage: Storage, clock: Clock
) -> None:
    asked = await together(
        service,
        (1, "private", "ok comment adhérer"),
        (2, "private", "? qui anime le réseau"),
        (3, "private", "la météo demain"),  # off-topic: not recorded
        (2, "group", "? et les ateliers"),  # a second unanswered question of the same asker
        (4, "private", "ok les missions"),
    )
    ids = [a.question_id for a in asked]
    assert ids[2] is None
    recorded = [i for i in ids if i is not None]
    assert ids[0] and ids[1] and ids[3]
    assert len(set(recorded)) == 4
    texts = [await storage.questions.question_text(i) for i in recorded]
    assert texts == ["ok comment adhérer", "? qui anime le réseau", "? et les ateliers", "ok les missions"]
    assert (await storage.questions.stats()).questions == 4

    pending = await storage.coordination.kept(Status.PENDING)
    assert [p.id for p in pending] == [ids[1], ids[3]]
    assert pending[0].asker is not None and pending[0].asker == pending[1].asker  # one handle per asker
    assert await storage.coordination.get(ids[0]) is None  # answered: not kept
    assert (await storage.users.get_user(3)) is None  # the off-topic asker was not recorded either
    assert (await storage.users.get_user(1)) is not None

    # A later unanswered question of the same asker: kept, under the handle they already have.
    clock.now = T0 + timedelta(minutes=1)
    [later] = await together(service, (2, "private", "? encore une"))
    assert later.question_id is not None
    kept = await storage.coordination.get(later.question_id)
    assert kept is not None and kept.status is Status.PENDING and kept.asker == pending[0].asker


async def test_each_asker_gets_their_own_previous_question(service: QuestionService, clock: Clock) -> None:
    await together(
        service,
        (1, "private", "? le dialogue territorial"),
        (2, "private", "ok comment adhérer"),
        (1, "group", "? dans le groupe"),
        (5, "private", "la météo"),  # off-topic: not recorded, so nothing to lean on
    )
    clock.now = T0 + timedelta(minutes=2)
    await together(
        service,
        (1, "private", "? et pour les accompagnements"),
        (3, "private", "? et pour les accompagnements"),  # a new asker: another's question is not theirs
        (1, "group", "? et ici"),
        (2, "supergroup", "? ailleurs"),  # the same asker in another chat type
        (5, "private", "? et alors"),
    )
    assert searcher_of(service).batches[-1] == [
        ("? et pour les accompagnements", "? le dialogue territorial"),
        ("? et pour les accompagnements", ""),
        ("? et ici", "? dans le groupe"),
        ("? ailleurs", ""),
        ("? et alors", ""),
    ]
    clock.now = T0 + timedelta(minutes=2) + FOLLOW_UP_WINDOW + timedelta(seconds=1)
    await together(service, (1, "private", "? et maintenant"), (2, "private", "? et puis"))
    assert searcher_of(service).batches[-1] == [("? et maintenant", ""), ("? et puis", "")]  # too old


async def test_a_database_refusing_the_write_still_answers_everyone(
    service: QuestionService, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    switch = ReadOnlySwitch(db)
    searcher_of(service).during_search = lambda: setattr(switch, "on", True)  # after the read, mid-batch
    caplog.set_level(logging.WARNING, logger="bot.qa.service")
    asked = await together(
        service, (1, "private", "ok adhérer"), (2, "private", "? secret de Léa"), (3, "private", "la météo")
    )
    assert switch.refused > 0
    assert [a.answer.question for a in asked] == ["ok adhérer", "? secret de Léa", "la météo"]
    assert [a.question_id for a in asked] == [None, None, None]
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "Léa" not in warnings[0].getMessage()
    switch.on = False
    assert (await db.storage.questions.stats()).questions == 0

    searcher_of(service).during_search = lambda: None
    [again] = await together(service, (1, "private", "ok adhérer"))  # the service keeps serving
    assert again.question_id is not None


async def test_a_handle_already_taken_is_drawn_again_without_losing_the_batch(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    draws = iter(["aaaaaa", "aaaaaa", "dddddd", "bbbbbb", "cccccc"])
    monkeypatch.setattr(secrets, "token_hex", lambda _n: next(draws))
    first = await storage.questions.record_questions(
        [NewQuestion(1, "private", "? un", "fr", False, None, 0.1, T0, kept=True)]
    )
    ids = await storage.questions.record_questions(
        [
            NewQuestion(2, "private", "? deux", "fr", False, None, 0.1, T0, kept=True),  # draws aaaaaa: taken
            NewQuestion(3, "private", "? trois", "fr", False, None, 0.1, T0, kept=True),
            NewQuestion(4, "private", "ok quatre", "fr", True, "adhesion", 0.9, T0),
        ]
    )
    assert len({*first, *ids}) == 4
    kept = {k.id: k.asker for k in await storage.coordination.kept(Status.PENDING)}
    assert kept == {first[0]: "aaaaaa", ids[0]: "bbbbbb", ids[1]: "cccccc"}
    assert next(draws, None) is None


async def test_a_users_second_question_waits_for_the_first_and_reads_it_as_previous(storage: Storage) -> None:
    """With batches side by side, one user's questions still go one after the other."""
    searcher = ScriptedSearcher()
    searcher.embedder = SimpleNamespace(concurrency=2)  # type: ignore[assignment]
    searcher.during_search = lambda: time.sleep(0.2)  # the first batch is still at work when others form
    svc = QuestionService(searcher, storage)  # type: ignore[arg-type]
    assert svc.batcher.parallel == 2
    try:
        first = asyncio.create_task(svc.ask(7, "ok premier", chat_type="private", language="fr"))
        await asyncio.sleep(0)
        second = asyncio.create_task(svc.ask(7, "ok second", chat_type="private", language="fr"))
        other = asyncio.create_task(svc.ask(8, "ok autre", chat_type="private", language="fr"))
        await asyncio.wait_for(asyncio.gather(first, second, other), 10)
    finally:
        await svc.close()
    asked = [q for batch in searcher.batches for q in batch]
    assert asked.index(("ok premier", "")) < asked.index(("ok second", "ok premier"))
    assert ("ok autre", "") in asked
    assert len(svc._asking) == 0
