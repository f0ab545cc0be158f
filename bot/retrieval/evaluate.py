"""Answer-quality metrics over a question set (format: ../shared/eval/README.md and eval/README.md).

Document level: hit@1, hit@3, MRR@10 (a returned passage or its title holds an `expect_any` string).
Passage level: answer@1 (the question is answered and the first passage's own text, not its title, holds an
`expect_text` string) and source@1 (the link shown with that passage holds an `expect_url` string, over the
questions whose answer@1 holds). Abstention is reported per kind: `in-field` and `off-topic`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import CatabotError
from bot.retrieval.abstention import fit_field_threshold, fit_logistic, weights_key
from bot.retrieval.search import Answer, Mode, Searcher
from bot.text import normalize_for_match

MODES: tuple[Mode, ...] = ("hybrid", "lexical", "dense")
KINDS = ("in-field", "off-topic")


class EvalFileError(CatabotError, ValueError):
    pass


@dataclass(frozen=True)
class Case:
    id: str
    question: str
    expect_any: tuple[str, ...]
    abstain: bool
    expect_text: tuple[str, ...] = ()
    expect_url: tuple[str, ...] = ()
    lang: str = "fr"
    kind: str = "off-topic"


@dataclass(frozen=True)
class Metrics:
    hit_at_1: float
    hit_at_3: float
    mrr_at_10: float
    answered: float
    abstention: float
    in_domain: int
    out_of_domain: int
    answer_at_1: float = 0.0
    source_at_1: float = 0.0
    passage_questions: int = 0
    answer_at_1_by_lang: dict[str, float] = field(default_factory=dict)
    abstention_by_kind: dict[str, float] = field(default_factory=dict)


def _strings(path: Path, number: int, data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise EvalFileError(f"{path}:{number}: {name}: a list of non-empty strings")
    return tuple(value)


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
        abstain = bool(data.get("abstain", False))
        expect_text = _strings(path, number, data, "expect_text")
        expect = _strings(path, number, data, "expect_any") or expect_text
        if not abstain and not expect:
            raise EvalFileError(f"{path}:{number}: expect_any or expect_text: needed unless abstain is true")
        kind = str(data.get("kind", "off-topic"))
        if abstain and kind not in KINDS:
            raise EvalFileError(f"{path}:{number}: kind: one of {', '.join(KINDS)}")
        cases.append(
            Case(
                str(data.get("id", number)),
                question,
                expect,
                abstain,
                expect_text,
                _strings(path, number, data, "expect_url"),
                str(data.get("lang", "fr")),
                kind,
            )
        )
    return cases


def _holds(wanted: tuple[str, ...], shown: str) -> bool:
    normal = normalize_for_match(shown)
    return any(normalize_for_match(w) in normal for w in wanted)


def first_correct_rank(case: Case, answer: Answer, depth: int = 10) -> int | None:
    for rank, hit in enumerate(answer.hits[:depth], start=1):
        if _holds(case.expect_any, f"{hit.chunk.title} {hit.passage}"):
            return rank
    return None


def answer_at_1(case: Case, answer: Answer) -> bool:
    """The question is answered and the first passage's own text holds an `expect_text` string."""
    best = answer.best
    return (
        bool(case.expect_text)
        and answer.answered
        and best is not None
        and _holds(case.expect_text, best.passage)
    )


def source_at_1(case: Case, answer: Answer) -> bool:
    best = answer.best
    return best is not None and _holds(case.expect_url, best.url)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def metrics(cases: list[Case], answers: list[Answer]) -> Metrics:
    pairs = list(zip(cases, answers, strict=True))
    ranks = [first_correct_rank(c, a) for c, a in pairs if not c.abstain]
    passage = [(c, a) for c, a in pairs if not c.abstain and c.expect_text]
    correct = [(c, a) for c, a in passage if answer_at_1(c, a)]
    abstained = [(c, not a.answered) for c, a in pairs if c.abstain]

    def by(key: Callable[[Case], str], rows: list[tuple[Case, bool]]) -> dict[str, float]:
        return {
            k: _mean([float(v) for c, v in rows if key(c) == k]) for k in sorted({key(c) for c, _ in rows})
        }

    return Metrics(
        hit_at_1=_mean([float(r == 1) for r in ranks]),
        hit_at_3=_mean([float(r is not None and r <= 3) for r in ranks]),
        mrr_at_10=_mean([1.0 / r if r else 0.0 for r in ranks]),
        answered=_mean([float(a.answered) for c, a in pairs if not c.abstain]),
        abstention=_mean([float(v) for _, v in abstained]),
        in_domain=len(ranks),
        out_of_domain=len(abstained),
        answer_at_1=_mean([float(answer_at_1(c, a)) for c, a in passage]),
        source_at_1=_mean([float(source_at_1(c, a)) for c, a in correct if c.expect_url]),
        passage_questions=len(passage),
        answer_at_1_by_lang=by(lambda c: c.lang, [(c, answer_at_1(c, a)) for c, a in passage]),
        abstention_by_kind=by(lambda c: c.kind, abstained),
    )


def evaluate(searcher: Searcher, cases: list[Case], modes: tuple[Mode, ...] = MODES) -> dict[str, Metrics]:
    questions = [c.question for c in cases]
    return {mode: metrics(cases, searcher.search_many(questions, top=10, mode=mode)) for mode in modes}


def failures(searcher: Searcher, cases: list[Case], mode: Mode = "hybrid") -> list[str]:
    """One line per question the `mode` gets wrong at passage level or in its answer/abstain decision."""
    lines: list[str] = []
    for case, answer in zip(
        cases, searcher.search_many([c.question for c in cases], top=3, mode=mode), strict=True
    ):
        best = answer.best
        where = f"{best.chunk.id} {best.url}" if best else "-"
        if case.abstain and answer.answered:
            lines.append(f"{case.id} answered ({answer.confidence:.2f}) {where}: {case.question}")
        elif not case.abstain and not answer.answered:
            lines.append(f"{case.id} abstained ({answer.confidence:.2f}) {where}: {case.question}")
        elif case.expect_text and not answer_at_1(case, answer):
            lines.append(f"{case.id} answer@1 {where}: {case.question}")
        elif case.expect_url and not source_at_1(case, answer):
            lines.append(f"{case.id} source@1 {where}: {case.question}")
    return lines


def calibrate(searcher: Searcher, cases: list[Case]) -> dict[str, dict[str, float]]:
    """Weights of the answer/abstain decision, by calibration.json key.

    French questions fit the full evidence; the weights for other languages are fitted on every question
    seen as foreign (their words compared by cognates), since an English question's words are not expected
    in French text.
    """
    found = [(e, c) for c in cases if (e := searcher.evidence(c.question)) is not None]
    samples, labels = [e for e, _ in found], [not c.abstain for _, c in found]
    kinds = [c.kind if c.abstain else "in-field" for _, c in found]
    field = fit_field_threshold(
        [s.dense for s, k in zip(samples, kinds, strict=True) if k == "in-field"],
        [s.dense for s, k in zip(samples, kinds, strict=True) if k == "off-topic"],
    )
    french = [(s, y) for s, y in zip(samples, labels, strict=True) if not s.foreign]
    model = searcher.embedder.name
    return {
        weights_key(model, False): {
            **fit_logistic([s for s, _ in french], [y for _, y in french]),
            "field": field,
        },
        weights_key(model, True): fit_logistic(
            [s for s in samples if s.foreign], [y for s, y in zip(samples, labels, strict=True) if s.foreign]
        ),
    }
