"""Ask, keep the question (for the coordinators when unanswered), collect feedback."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock, utc_now
from bot.embedding.base import concurrency
from bot.locks import KeyedLocks
from bot.qa.batcher import Batcher
from bot.qa.records import FeedbackSummary, NewQuestion, QuestionSummary, Stats
from bot.retrieval.lexical import tokenize
from bot.retrieval.search import Answer, Hit, Searcher

if TYPE_CHECKING:
    from bot.storage.repository import Storage

log = logging.getLogger(__name__)

# A question asked within this delay after another in the same chat may lean on it (« et pour … ? »).
FOLLOW_UP_WINDOW = timedelta(minutes=10)


@dataclass(frozen=True)
class Asked:
    """`question_id` is None when the question was off-topic (it is not kept for the coordinators) or could
    not be recorded (the database refused the write: the answer is given all the same)."""

    answer: Answer
    question_id: int | None


@dataclass(frozen=True)
class _Question:
    """A question waiting for its batch: its text as checked, and when it was asked."""

    user_id: int
    text: str
    chat_type: str
    language: str
    asked_at: datetime


class QuestionService:
    def __init__(self, searcher: Searcher, storage: Storage, clock: Clock = utc_now) -> None:
        self.searcher = searcher
        self.batcher: Batcher[_Question, Asked] = Batcher(
            self._answer_all, parallel=concurrency(searcher.embedder)
        )
        self.storage = storage
        self.clock = clock
        self._asking: KeyedLocks[tuple[int, str]] = KeyedLocks()  # (user, chat type): see `ask`

    def coming(self) -> AbstractContextManager[None]:
        """Wrap the round trips a caller makes before `ask`: the batch being formed waits for it (briefly)."""
        return self.batcher.coming()

    async def ask(self, user_id: int, text: str, *, chat_type: str, language: str) -> Asked:
        """Answer `text`, read with the user's previous question in this chat type when it is a follow-up.

        Keeps the question unless it is off-topic. Raises QuestionError for an empty or too long question,
        ValueError for a chat type or language that cannot be recorded. Questions asked together are answered
        together (`_answer_all`); a user's questions in one chat type one after the other, so that with
        batches running side by side the second is still answered after the first, and read as its follow-up.
        """
        question = _Question(user_id, self.searcher.check_question(text), chat_type, language, self.clock())
        self.storage.questions.check_fields(chat_type, language)
        async with self._asking.hold((user_id, chat_type)):
            return await self.batcher.submit(question)

    async def _answer_all(self, batch: list[_Question]) -> list[Asked]:
        """One `Asked` per question of `batch`, in order, for one database read (the askers' previous
        questions), one call to the model, and one database write (the questions not off-topic, the
        unanswered ones kept for the coordinators).

        A failed read of the previous questions is logged and the batch is searched without them; a refused
        write (SQLAlchemyError: a full disk, a read-only database; ValueError: a field the database cannot
        hold) is logged, and every asker is answered all the same, with `question_id` None. An error of the
        search itself is raised to every asker of the batch.
        """
        searcher = self.searcher  # a new one (`use`) serves from the next batch on
        try:
            previous = await self.storage.questions.last_questions(
                [(q.user_id, q.chat_type, q.asked_at - FOLLOW_UP_WINDOW) for q in batch]
            )
        except SQLAlchemyError as exc:  # follow-ups are read as new questions this time
            log.warning("reading %d previous questions failed (%s)", len(batch), type(exc).__name__)
            previous = [None] * len(batch)
        answers = await asyncio.to_thread(
            searcher.search_many, [q.text for q in batch], previous=[p or "" for p in previous]
        )
        kept = [(q, a) for q, a in zip(batch, answers, strict=True) if a.answered or a.in_field]
        new = [
            NewQuestion(
                q.user_id,
                q.chat_type,
                a.question,
                q.language,
                a.answered,
                a.best.chunk.resource_id if a.best else None,
                round(a.confidence, 4),
                q.asked_at,
                kept=not a.answered,
            )
            for q, a in kept
        ]
        try:
            ids = iter(await self.storage.questions.record_questions(new))
        except (SQLAlchemyError, ValueError) as exc:  # the askers are answered anyway
            log.warning(
                "recording %d questions failed (%s): answered, not kept", len(new), type(exc).__name__
            )
            return [Asked(a, None) for a in answers]
        return [Asked(a, next(ids) if a.answered or a.in_field else None) for a in answers]

    def use(self, searcher: Searcher) -> None:
        """Serve from `searcher` from now on (see `bot.retrieval.live`); a batch under way ends on the old."""
        self.searcher = searcher

    async def lead(self, question_id: int, resource_id: str) -> Hit | None:
        """The passage of `resource_id` that best matches the stored question (no model call)."""
        question = await self.storage.questions.question_text(question_id)
        chunks = [c for c in self.searcher.index.chunks if c.resource_id == resource_id]
        if question is None or not chunks:
            return None
        tokens = set(tokenize(question))
        best = max(chunks, key=lambda c: len(tokens & set(tokenize(c.lexical_text))))
        return Hit(best, 1.0, 0.0, 0.0, self.searcher.excerpt(best, list(tokens)))

    def resource(self, resource_id: str) -> Hit | None:
        """The opening passage of a resource, to show it on its own (e.g. from a menu)."""
        chunk = next((c for c in self.searcher.index.chunks if c.resource_id == resource_id), None)
        return Hit(chunk, 1.0, 0.0, 0.0, self.searcher.excerpt(chunk, [])) if chunk else None

    async def feedback(self, question_id: int, user_id: int, value: int) -> bool:
        """A 👍 (1) or 👎 (-1) on an answer; a 👎 keeps the question for the coordinators."""
        done = await self.storage.questions.record_feedback(question_id, user_id, value, now=self.clock())
        if done and value == -1:
            await self.storage.coordination.keep(question_id)
        return done

    async def unanswered(self, limit: int = 10) -> list[QuestionSummary]:
        """The questions asked most often without an answer (for the coordinators)."""
        return await self.storage.questions.unanswered_questions(limit=limit)

    async def disliked(self, limit: int = 10) -> list[FeedbackSummary]:
        """The answers most often marked unhelpful (for the coordinators)."""
        return await self.storage.questions.disliked_answers(limit=limit)

    async def stats(self) -> Stats:
        """Users by role and questions asked, with the share answered."""
        return await self.storage.questions.stats()

    async def purge_old(self, older_than_days: int) -> int:
        """Delete the questions older than this many days (and their feedback); how many were."""
        return await self.storage.questions.purge_old_questions(older_than_days, now=self.clock())

    async def close(self) -> None:
        await self.batcher.close()
