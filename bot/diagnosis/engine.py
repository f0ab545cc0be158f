"""The diagnosis flow and its scoring: pure functions of the questionnaire and the answers so far.

Answers are a plain `dict[str, str]`, step id → answer id (statements) or option id (context questions), easy
to store as JSON. Answers to steps that branching has skipped, or that are not valid options, are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bot.diagnosis.questionnaire import Questionnaire, Statement, Thresholds
from bot.errors import CatabotError

Status = Literal["missing", "fragile", "to_check", "present"]
STATUSES: tuple[Status, ...] = ("missing", "fragile", "to_check", "present")  # also the order of the results
StepKind = Literal["context", "statement"]


class AnswerError(CatabotError, ValueError):
    """An answer names a step that is not (or no longer) asked, or an option that step does not offer."""


@dataclass(frozen=True)
class Choice:
    id: str
    label: str


@dataclass(frozen=True)
class Step:
    id: str
    kind: StepKind
    text: str
    options: tuple[Choice, ...]
    help: str = ""
    metier: str | None = None
    metier_label: str = ""

    def option(self, option_id: str) -> Choice | None:
        return next((c for c in self.options if c.id == option_id), None)


@dataclass(frozen=True)
class MetierResult:
    id: str
    label: str
    score: int | None  # 0–100 over the counted answers; None when no answer counts
    status: Status
    answered: int  # statements counted in the score (skipped ones with `if_skipped` included)
    unknown: tuple[str, ...]  # texts of the statements answered « Je ne sais pas » (not counted)
    unanswered: int  # applicable statements without an answer yet
    meaning: str  # what the status means for the territory ("" when present or to check)
    check_with: str  # « à vérifier auprès de … »
    position: int  # rank of the métier in the questionnaire (for charts in a stable order)


@dataclass(frozen=True)
class Diagnosis:
    metiers: tuple[MetierResult, ...]  # missing first, then fragile, to check, present
    context: dict[str, str] = field(default_factory=dict)  # context question id → option id
    context_labels: dict[str, str] = field(default_factory=dict)  # context question id → option label
    notes: tuple[str, ...] = ()  # sentences attached to the chosen context options
    keywords: tuple[str, ...] = ()  # tags of the chosen context options, for recommendations
    complete: bool = False
    thresholds: Thresholds = field(default_factory=lambda: Thresholds(70, 40, 2))

    def result(self, metier_id: str) -> MetierResult:
        return next(m for m in self.metiers if m.id == metier_id)

    def in_questionnaire_order(self) -> list[MetierResult]:
        return sorted(self.metiers, key=lambda m: m.position)

    def needing_attention(self) -> list[MetierResult]:
        return [m for m in self.metiers if m.status in ("missing", "fragile")]


def _catalogue(q: Questionnaire) -> list[tuple[Step, Statement | None]]:
    """Every step of the questionnaire, in order, with its statement (None for context questions)."""
    answers = tuple(Choice(a.id, a.label) for a in q.answers)
    found: list[tuple[Step, Statement | None]] = [
        (Step(c.id, "context", c.text, tuple(Choice(o.id, o.label) for o in c.options), c.help), None)
        for c in q.context
    ]
    for metier in q.metiers:
        found += [
            (Step(s.id, "statement", s.text, answers, s.help, metier.id, metier.label), s)
            for s in metier.statements
        ]
    return found


def all_steps(q: Questionnaire) -> list[Step]:
    """Every step of the questionnaire, whatever the answers (for validating stored answers)."""
    return [step for step, _ in _catalogue(q)]


@dataclass(frozen=True)
class _Walk:
    steps: list[Step]  # the applicable steps, in order
    given: dict[str, str]  # the valid answers to applicable steps
    skipped: dict[str, Statement]  # statements skipped by branching


def _walk(q: Questionnaire, answers: Mapping[str, str]) -> _Walk:
    steps: list[Step] = []
    given: dict[str, str] = {}
    skipped: dict[str, Statement] = {}
    for step, statement in _catalogue(q):
        if statement is not None and any(given.get(ref) in values for ref, values in statement.skip_if):
            skipped[step.id] = statement
            continue
        steps.append(step)
        value = answers.get(step.id)
        if value is not None and step.option(value) is not None:
            given[step.id] = value
    return _Walk(steps, given, skipped)


def steps(q: Questionnaire, answers: Mapping[str, str]) -> list[Step]:
    """The steps still asked given the answers so far: context first, then each métier's statements."""
    return _walk(q, answers).steps


def next_step(q: Questionnaire, answers: Mapping[str, str]) -> Step | None:
    """The first applicable step without a valid answer; None when the questionnaire is complete."""
    walk = _walk(q, answers)
    return next((s for s in walk.steps if s.id not in walk.given), None)


def progress(q: Questionnaire, answers: Mapping[str, str]) -> tuple[int, int]:
    """(position of the next step, number of steps asked) for a « 5/22 » mark; (total, total) when done.

    Branching only skips steps after the question it depends on, so the total shrinks when such an answer is
    given and the steps already asked keep their position.
    """
    walk = _walk(q, answers)
    position = next((i for i, s in enumerate(walk.steps, 1) if s.id not in walk.given), len(walk.steps))
    return position, len(walk.steps)


def previous(q: Questionnaire, answers: Mapping[str, str]) -> str | None:
    """The step whose answer « ← Précédent » takes back (the last answered one); None at the start."""
    walk = _walk(q, answers)
    return next((s.id for s in reversed(walk.steps) if s.id in walk.given), None)


def go_back(q: Questionnaire, answers: Mapping[str, str]) -> dict[str, str]:
    """The answers without the last one, so that its step is asked again."""
    last = previous(q, answers)
    return {k: v for k, v in answers.items() if k != last}


def answer(q: Questionnaire, answers: Mapping[str, str], step_id: str, option_id: str) -> dict[str, str]:
    """The answers with `step_id` answered `option_id`; `AnswerError` when either is not valid now."""
    step = next((s for s in steps(q, answers) if s.id == step_id), None)
    if step is None:
        raise AnswerError(
            f"{step_id!r} is not a question of this diagnosis (or is skipped by an earlier answer)"
        )
    if step.option(option_id) is None:
        known = ", ".join(c.id for c in step.options)
        raise AnswerError(f"{step_id!r}: unknown option {option_id!r} (known: {known})")
    return {**answers, step_id: option_id}


def _status(score: int | None, answered: int, thresholds: Thresholds) -> Status:
    if score is None or answered < thresholds.min_answered:
        return "to_check"
    if score >= thresholds.present:
        return "present"
    return "fragile" if score >= thresholds.fragile else "missing"


def score(q: Questionnaire, answers: Mapping[str, str]) -> Diagnosis:
    """Per métier, the weighted mean of the counted answers on 0–100 and its status, worst first."""
    walk = _walk(q, answers)
    weights = {a.id: a.weight for a in q.answers}
    results: list[MetierResult] = []
    for position, metier in enumerate(q.metiers):
        total = counted = 0.0
        answered = unanswered = 0
        unknown: list[str] = []
        for statement in metier.statements:
            skipped = statement.id in walk.skipped
            given = statement.if_skipped if skipped else walk.given.get(statement.id)
            if given is None:
                unanswered += not skipped
                continue
            weight = weights[given]
            if weight is None:
                unknown.append(statement.text)
                continue
            total += statement.weight * weight
            counted += statement.weight
            answered += 1
        value = int(100 * total / counted + 0.5) if counted else None
        status = _status(value, answered, q.thresholds)
        meaning = {"missing": metier.meaning_missing, "fragile": metier.meaning_fragile}.get(status, "")
        results.append(
            MetierResult(
                metier.id, metier.label, value, status, answered, tuple(unknown), unanswered, meaning,
                metier.check_with, position,
            )
        )  # fmt: skip
    results.sort(key=lambda m: (STATUSES.index(m.status), m.score if m.score is not None else 0, m.position))
    context: dict[str, str] = {}
    labels: dict[str, str] = {}
    notes: list[str] = []
    keywords: list[str] = []
    for question in q.context:
        chosen = next((o for o in question.options if o.id == walk.given.get(question.id)), None)
        if chosen is None:
            continue
        context[question.id], labels[question.id] = chosen.id, chosen.label
        notes += [chosen.note] if chosen.note else []
        keywords += [t for t in chosen.tags if t not in keywords]
    return Diagnosis(
        metiers=tuple(results),
        context=context,
        context_labels=labels,
        notes=tuple(notes),
        keywords=tuple(keywords),
        complete=all(s.id in walk.given for s in walk.steps),
        thresholds=q.thresholds,
    )
