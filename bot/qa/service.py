"""Ask, keep the question (for the coordinators when unanswered), collect feedback."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock, utc_now
from bot.qa.batcher import BatchingSearcher
from bot.qa.records import FeedbackSummary, QuestionSummary, Stats
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


class QuestionService:
    def __init__(self, searcher: Searcher, storage: Storage, clock: Clock = utc_now) -> None:
        self.searcher = searcher
        self.batcher = BatchingSearcher(searcher)
        self.storage = storage
        self.clock = clock

    def coming(self) -> AbstractContextManager[None]:
        """Wrap the round trips a caller makes before `ask`: the batch being formed waits for it (briefly)."""
        return self.batcher.coming()

    async def ask(self, user_id: int, text: str, *, chat_type: str, language: str) -> Asked:
        """Answer `text`, read with the user's previous question in this chat type when it is a follow-up.

        Keeps the question unless it is off-topic. Raises QuestionError for an empty or too long question.
        """
        now = self.clock()
        since = now - FOLLOW_UP_WINDOW
        with self.batcher.coming():  # the batch being formed waits for this read (briefly)
            previous = await self.storage.questions.last_question(user_id, chat_type, since=since)
        answer = await self.batcher.search(text, previous or "")
        if not answer.answered and not answer.in_field:
            return Asked(answer, None)
        best = answer.best
        try:
            question_id = await self.storage.questions.record_question(
                user_id,
                chat_type,
                answer.question,
                language,
                answer.answered,
                best.chunk.resource_id if best else None,
                round(answer.confidence, 4),
                now=now,
            )
            if not answer.answered:
                await self.storage.coordination.keep(question_id)
        except SQLAlchemyError as exc:  # a full disk, a read-only database: the asker is answered anyway
            log.warning("recording a question failed (%s): answered, not kept", type(exc).__name__)
            return Asked(answer, None)
        return Asked(answer, question_id)

    def use(self, searcher: Searcher) -> None:
        """Serve from `searcher` from now on (see `bot.retrieval.live`); a batch under way ends on the old."""
        self.searcher = searcher
        self.batcher.searcher = searcher

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
