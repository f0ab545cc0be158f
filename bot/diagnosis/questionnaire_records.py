"""The questionnaire of the self-diagnosis as loaded from `knowledge/diagnostic.yaml` (see
`bot.diagnosis.questionnaire`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import ProblemsError
from bot.knowledge.loader import ID_PATTERN

DIAGNOSTIC_FILE = "diagnostic.yaml"
MIN_STATEMENTS = 4
MAX_STATEMENTS = 6


__all__ = ["ID_PATTERN"]  # the ids of the knowledge base's files, re-exported for the questionnaire


class QuestionnaireError(ProblemsError):
    """`knowledge/diagnostic.yaml` has problems (`problems`: each `file:line: what`)."""


@dataclass(frozen=True)
class AnswerOption:
    """One of the answers to a statement (Oui, En partie…); `weight` None means « not counted »."""

    id: str
    label: str
    weight: float | None


@dataclass(frozen=True)
class Thresholds:
    present: float
    fragile: float
    min_answered: int


@dataclass(frozen=True)
class ContextOption:
    id: str
    label: str
    tags: tuple[str, ...] = ()
    note: str = ""
    suits: tuple[str, ...] = ()  # métier ids a structure of this kind can carry (a tie-breaker for advice)


@dataclass(frozen=True)
class ContextQuestion:
    id: str
    text: str
    options: tuple[ContextOption, ...]
    help: str = ""


@dataclass(frozen=True)
class Statement:
    id: str
    text: str
    weight: float = 1.0
    # (question id, answer ids): the statement is not asked when that question got one of those answers.
    skip_if: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The answer counted when the statement is skipped; None: a skipped statement does not count.
    if_skipped: str | None = None
    help: str = ""


@dataclass(frozen=True)
class Metier:
    id: str
    label: str
    statements: tuple[Statement, ...]
    meaning_missing: str
    meaning_fragile: str
    check_with: str
    first_step: str = ""  # one first step when this métier comes first ("" when the file gives none)
    first_step_source: str = ""  # the URL the first step rests on


@dataclass(frozen=True)
class Questionnaire:
    path: Path
    version: int
    title: str
    intro: str
    sources: tuple[str, ...]
    answers: tuple[AnswerOption, ...]
    thresholds: Thresholds
    context: tuple[ContextQuestion, ...]
    metiers: tuple[Metier, ...]

    def answer(self, answer_id: str) -> AnswerOption:
        return next(a for a in self.answers if a.id == answer_id)

    def metier(self, metier_id: str) -> Metier:
        return next(m for m in self.metiers if m.id == metier_id)

    def labels(self) -> dict[str, str]:
        """Métier id → label (from roles.yaml when the questionnaire was loaded with the labels)."""
        return {m.id: m.label for m in self.metiers}
