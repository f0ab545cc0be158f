"""The self-diagnosis for chat users: progress kept in the database, results stored with their date."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.clock import Clock, utc_now
from bot.diagnosis import engine
from bot.diagnosis.advice import Advice, choose
from bot.diagnosis.engine import Diagnosis, Step
from bot.diagnosis.questionnaire import Questionnaire
from bot.diagnosis.recommend import Recommendation, passage, recommend
from bot.diagnosis.records import DiagnosticResult, DiagnosticStats
from bot.retrieval.chunker import Chunk

if TYPE_CHECKING:
    from bot.storage.repository import Storage

TERRITORY_QUESTION = "territoire"
STRUCTURE_QUESTION = "structure"


@dataclass(frozen=True)
class Progress:
    """Where a user stands: the next step (None when every step is answered) and the answers so far."""

    answers: dict[str, str]
    step: Step | None
    position: int
    total: int
    earlier: str | None = None  # the option just taken back from `step` (« ← Précédent », a change)


@dataclass(frozen=True)
class Finished:
    diagnosis: Diagnosis
    recommendations: dict[str, list[Recommendation]]
    result_id: int
    advice: Advice | None = None  # the métier to work on first (None: every métier present)


class DiagnosisService:
    def __init__(
        self, questionnaire: Questionnaire, storage: Storage, chunks: Sequence[Chunk], clock: Clock = utc_now
    ) -> None:
        self.questionnaire = questionnaire
        self.storage = storage
        self.chunks = list(chunks)
        self.clock = clock

    def _progress(self, answers: dict[str, str], earlier: str | None = None) -> Progress:
        position, total = engine.progress(self.questionnaire, answers)
        return Progress(answers, engine.next_step(self.questionnaire, answers), position, total, earlier)

    async def in_progress(self, user_id: int) -> Progress | None:
        session = await self.storage.diagnosis.load_diagnostic(user_id)
        return self._progress(session.answers) if session else None

    async def start(self, user_id: int) -> Progress:
        await self.storage.diagnosis.save_diagnostic(user_id, {}, now=self.clock())
        return self._progress({})

    async def resume(self, user_id: int) -> Progress:
        current = await self.in_progress(user_id)
        if current is None:
            return await self.start(user_id)
        await self.storage.diagnosis.save_diagnostic(
            user_id, current.answers, now=self.clock()
        )  # no longer paused
        return current

    async def answer(self, user_id: int, step_id: str, option_id: str) -> Progress | None:
        """Record an answer to the step being asked; None when the button is stale or forged."""
        current = await self.in_progress(user_id)
        if current is None or current.step is None or current.step.id != step_id:
            return None
        try:
            answers = engine.answer(self.questionnaire, current.answers, step_id, option_id)
        except engine.AnswerError:
            return None
        await self.storage.diagnosis.save_diagnostic(user_id, answers, now=self.clock())
        return self._progress(answers)

    async def back(self, user_id: int) -> Progress | None:
        current = await self.in_progress(user_id)
        if current is None:
            return None
        last = engine.previous(self.questionnaire, current.answers)
        answers = engine.go_back(self.questionnaire, current.answers)
        await self.storage.diagnosis.save_diagnostic(user_id, answers, now=self.clock())
        return self._progress(answers, current.answers.get(last) if last else None)

    async def change(self, user_id: int, step_id: str) -> Progress | None:
        """Take back one answer from the summary, so that its step is asked again."""
        current = await self.in_progress(user_id)
        if current is None or step_id not in current.answers:
            return None
        answers = {k: v for k, v in current.answers.items() if k != step_id}
        await self.storage.diagnosis.save_diagnostic(user_id, answers, now=self.clock())
        return self._progress(answers, current.answers[step_id])

    async def pause(self, user_id: int) -> bool:
        current = await self.in_progress(user_id)
        if current is None:
            return False
        await self.storage.diagnosis.save_diagnostic(user_id, current.answers, paused=True, now=self.clock())
        return True

    def summary(self, answers: dict[str, str]) -> list[tuple[Step, str]]:
        """Each step asked with the label of its answer, in questionnaire order."""
        steps = engine.steps(self.questionnaire, answers)
        return [(s, c.label) for s in steps if (c := s.option(answers.get(s.id, ""))) is not None]

    async def finish(self, user_id: int) -> Finished | None:
        current = await self.in_progress(user_id)
        if current is None or current.step is not None:
            return None
        diagnosis = engine.score(self.questionnaire, current.answers)
        result_id = await self.storage.diagnosis.save_diagnostic_result(
            user_id,
            territory=diagnosis.context.get(TERRITORY_QUESTION),
            structure=diagnosis.context.get(STRUCTURE_QUESTION),
            version=str(self.questionnaire.version),
            scores={m.id: m.score for m in diagnosis.metiers if m.score is not None},
            statuses={m.id: m.status for m in diagnosis.metiers},
            answers=current.answers,
            now=self.clock(),
        )
        return self._finished(diagnosis, result_id)

    def _finished(self, diagnosis: Diagnosis, result_id: int) -> Finished:
        advice = choose(self.questionnaire, diagnosis)
        return Finished(diagnosis, recommend(diagnosis, self.chunks), result_id, advice)

    async def result(self, user_id: int, result_id: int) -> tuple[DiagnosticResult, Finished] | None:
        """A stored result of this user, scored again with its advice and resources (None if not theirs)."""
        stored = await self.storage.diagnosis.diagnostic_result(user_id, result_id)
        if stored is None:
            return None
        return stored, self._finished(self.rescore(stored), stored.id)

    def passage(self, resource_id: str, number: int) -> Chunk | None:
        """A recommended resource's passage (`Recommendation.passage`); None for an unknown one."""
        return passage(self.chunks, resource_id, number)

    async def results(self, user_id: int) -> list[DiagnosticResult]:
        """The last result and the one before it (newest first)."""
        return await self.storage.diagnosis.diagnostic_results(user_id, limit=2)

    def rescore(self, result: DiagnosticResult) -> Diagnosis:
        return engine.score(self.questionnaire, result.answers)

    async def stats(self) -> DiagnosticStats:
        return await self.storage.diagnosis.diagnostic_stats()
