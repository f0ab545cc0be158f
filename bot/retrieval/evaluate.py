"""Answer-quality metrics over a question set (format: ../shared/eval/README.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from bot.errors import CatabotError
from bot.retrieval.abstention import Evidence
from bot.retrieval.search import Answer, Mode, Searcher
from bot.text import normalize_for_match

MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")


class EvalFileError(CatabotError, ValueError):
    pass


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    expect_any: tuple[str, ...]
    abstain: bool


@dataclass(frozen=True)
class Metrics:
    hit_at_1: float
    hit_at_3: float
    mrr_at_10: float
    answered: float
    abstention: float
    in_domain: int
    out_of_domain: int


def load_cases(path: Path) -> list[Case]:
    cases: list[Case] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise EvalFileError(f"{path}:{number}: not valid JSON ({exc})") from exc
        question = data.get("question") if isinstance(data, dict) else None
        if not isinstance(question, str) or not question.strip():
            raise EvalFileError(f"{path}:{number}: question: missing or empty")
        expect = data.get("expect_any", [])
        abstain = bool(data.get("abstain", False))
        if not abstain and (not isinstance(expect, list) or not expect):
            raise EvalFileError(f"{path}:{number}: expect_any: needed unless abstain is true")
        cases.append(Case(str(data.get("id", number)), question, tuple(map(str, expect)), abstain))
    return cases


def first_correct_rank(case: Case, answer: Answer, depth: int = 10) -> int | None:
    wanted = [normalize_for_match(e) for e in case.expect_any]
    for rank, hit in enumerate(answer.hits[:depth], start=1):
        shown = normalize_for_match(f"{hit.chunk.title} {hit.passage}")
        if any(w in shown for w in wanted):
            return rank
    return None


def metrics(cases: list[Case], answers: list[Answer]) -> Metrics:
    ranks = [first_correct_rank(c, a) for c, a in zip(cases, answers, strict=True) if not c.abstain]
    answered = [a.answered for c, a in zip(cases, answers, strict=True) if not c.abstain]
    abstained = [not a.answered for c, a in zip(cases, answers, strict=True) if c.abstain]

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    return Metrics(
        hit_at_1=mean([float(r == 1) for r in ranks]),
        hit_at_3=mean([float(r is not None and r <= 3) for r in ranks]),
        mrr_at_10=mean([1.0 / r if r else 0.0 for r in ranks]),
        answered=mean([float(a) for a in answered]),
        abstention=mean([float(a) for a in abstained]),
        in_domain=len(ranks),
        out_of_domain=len(abstained),
    )


def evaluate(searcher: Searcher, cases: list[Case], modes: tuple[Mode, ...] = MODES) -> dict[str, Metrics]:
    questions = [c.question for c in cases]
    return {mode: metrics(cases, searcher.search_many(questions, top=10, mode=mode)) for mode in modes}


def calibration_samples(searcher: Searcher, cases: list[Case]) -> tuple[list[Evidence], list[bool]]:
    """The evidence for each question that reaches any passage, labelled True when it should be answered."""
    samples: list[Evidence] = []
    labels: list[bool] = []
    for case in cases:
        evidence = searcher.evidence(case.question)
        if evidence is not None:
            samples.append(evidence)
            labels.append(not case.abstain)
    return samples, labels
