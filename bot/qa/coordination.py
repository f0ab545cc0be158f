"""The coordinators' side of the questions: the kept ones (unanswered, or whose answer got a 👎), answered,
pointed to a resource or dismissed once each; the asker's verdict; the answers that become knowledge.

No Telegram here: the adapter sends what these methods return. The asker is known to coordinators only by
a pseudonymous handle (`KeptQuestion.asker`); `delivery` gives the adapter the asker's chat to send to.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.clock import Clock, utc_now
from bot.knowledge.contributions import Contribution, Contributions
from bot.qa.records import CoordinationStats, KeptQuestion, Status
from bot.retrieval.live import LiveIndex

if TYPE_CHECKING:
    from bot.storage.repository import Storage


@dataclass(frozen=True)
class Handled:
    """The outcome of answering, pointing or dismissing: `done` for the one coordinator who did it;
    otherwise `question` says who did, when and how (None: the question is gone, e.g. forgotten)."""

    done: bool
    question: KeptQuestion | None
    asker_id: int | None = None  # where to send the answer (only when `done`)


class CoordinationService:
    def __init__(
        self, storage: Storage, contributions: Contributions, live: LiveIndex, clock: Clock = utc_now
    ) -> None:
        self.storage = storage
        self.contributions = contributions
        self.live = live
        self.clock = clock

    async def keep(self, question_id: int) -> bool:
        """Keep a question for the coordinators (no answer found, or a 👎 on the answer)."""
        return await self.storage.coordination.keep(question_id)

    async def pending(self, limit: int = 10) -> list[KeptQuestion]:
        """The questions waiting for a coordinator, the oldest first."""
        return await self.storage.coordination.kept(Status.PENDING, limit=limit)

    async def get(self, question_id: int) -> KeptQuestion | None:
        return await self.storage.coordination.get(question_id)

    async def answer(self, question_id: int, coordinator_id: int, name: str, answer: str) -> Handled:
        """Answer a pending question with `answer` (once: a second coordinator gets `done=False`)."""
        return await self._handle(question_id, Status.ANSWERED, coordinator_id, name, answer=answer)

    async def covered(self, question_id: int, coordinator_id: int, name: str, resource_id: str) -> Handled:
        """« Déjà couvert par » `resource_id`: the asker gets that resource's passage."""
        return await self._handle(question_id, Status.ANSWERED, coordinator_id, name, covered_by=resource_id)

    async def dismiss(self, question_id: int, coordinator_id: int, name: str) -> Handled:
        """« Hors sujet »: nobody is told, the question leaves the list."""
        return await self._handle(question_id, Status.DISMISSED, coordinator_id, name)

    async def _handle(
        self, question_id: int, status: Status, coordinator_id: int, name: str,
        answer: str | None = None, covered_by: str | None = None,
    ) -> Handled:  # fmt: skip
        repo = self.storage.coordination
        done = await repo.handle(
            question_id, status, coordinator_id, name, answer=answer, covered_by=covered_by, now=self.clock()
        )
        question = await repo.get(question_id)
        asker = await repo.asker(question_id) if done else None
        return Handled(done, question, asker)

    async def delivered(self, question_id: int) -> bool:
        """The answer (or the passage of « déjà couvert ») reached the asker: it is not sent again."""
        return await self.storage.coordination.mark_delivered(question_id, now=self.clock())

    async def undelivered(self, user_id: int) -> list[KeptQuestion]:
        """Answers that could not reach `user_id` yet (no private chat with the bot then), oldest first;
        the adapter sends them when the user next writes to the bot in private, then calls `delivered`."""
        return await self.storage.coordination.undelivered(user_id)

    async def helped(self, question_id: int, user_id: int, value: int) -> bool:
        """The asker says whether the coordinator's answer helped (+1) or not (-1)."""
        return await self.storage.coordination.set_helped(question_id, user_id, value)

    async def dislike_reason(self, question_id: int, user_id: int, reason: str) -> bool:
        """What was wrong with an answer the user voted down (a `DISLIKE_REASONS` key or their sentence,
        500 characters at most, longer is cut); False without their 👎 on it."""
        reason = " ".join(reason.split())[:500]
        return bool(reason) and await self.storage.coordination.set_reason(question_id, user_id, reason)

    async def stats(self) -> CoordinationStats:
        """Kept questions by status and the median time from question to answer."""
        counts, pairs = await self.storage.coordination.counts()
        waits = [answered - asked for asked, answered in pairs]
        median = timedelta(seconds=statistics.median(w.total_seconds() for w in waits)) if waits else None
        return CoordinationStats(
            counts.get(Status.PENDING, 0), counts.get(Status.ANSWERED, 0), counts.get(Status.DISMISSED, 0),
            median,
        )  # fmt: skip

    # -- answers that become knowledge ---------------------------------------------------------------

    async def add_to_base(self, question: str, answer: str) -> Contribution:
        """Write the FAQ entry (raises `ContributionError` for an empty or too long text) and index it: the
        next question is answered with it."""
        contribution = self.contributions.add(question, answer, self.clock().date())
        await self.live.refresh()
        return contribution

    async def correct(self, resource_id: str, answer: str) -> Contribution | None:
        fixed = self.contributions.correct(resource_id, answer, self.clock().date())
        if fixed is not None:
            await self.live.refresh()
        return fixed

    async def withdraw(self, resource_id: str) -> bool:
        gone = self.contributions.withdraw(resource_id)
        if gone:
            await self.live.refresh()
        return gone

    def contribution(self, resource_id: str) -> Contribution | None:
        return self.contributions.get(resource_id)

    def contributions_list(self) -> list[Contribution]:
        return self.contributions.all()
