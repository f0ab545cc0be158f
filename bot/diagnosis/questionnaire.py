"""Load and check `knowledge/diagnostic.yaml`: every problem is reported as `file:line: field: what`.

The lines come from the YAML nodes' marks, so a coordinator editing the questionnaire is pointed at the exact
line of a wrong weight, an unknown métier or a `skip_if` naming an answer that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from bot.diagnosis.questionnaire_check import parse
from bot.diagnosis.questionnaire_records import (
    DIAGNOSTIC_FILE,
    ID_PATTERN,
    MAX_STATEMENTS,
    MIN_STATEMENTS,
    AnswerOption,
    ContextOption,
    ContextQuestion,
    Metier,
    Questionnaire,
    QuestionnaireError,
    Statement,
    Thresholds,
)
from bot.errors import Problem
from bot.knowledge.loader import load_roles

__all__ = [
    "DIAGNOSTIC_FILE",
    "ID_PATTERN",
    "MAX_STATEMENTS",
    "MIN_STATEMENTS",
    "AnswerOption",
    "ContextOption",
    "ContextQuestion",
    "Metier",
    "Questionnaire",
    "QuestionnaireError",
    "Statement",
    "Thresholds",
    "check_diagnostic",
    "check_questionnaire",
    "load_questionnaire",
    "open_questionnaire",
]


def load_questionnaire(path: Path, known_roles: Iterable[str]) -> Questionnaire:
    """The questionnaire at `path`, or `QuestionnaireError` listing every problem.

    `known_roles` are the métier ids of roles.yaml; pass a mapping id → label to get the labels too.
    """
    questionnaire, problems = parse(path, known_roles)
    if problems or questionnaire is None:
        raise QuestionnaireError(problems)
    return questionnaire


def check_questionnaire(path: Path, known_roles: Iterable[str]) -> list[Problem]:
    return parse(path, known_roles)[1]


def open_questionnaire(knowledge_dir: Path) -> Questionnaire:
    """`knowledge_dir/diagnostic.yaml`, with the métier labels of `knowledge_dir/roles.yaml`."""
    roles, problems = load_roles(knowledge_dir)
    if problems:
        raise QuestionnaireError(problems)
    return load_questionnaire(knowledge_dir / DIAGNOSTIC_FILE, {r.id: r.label for r in roles})


def check_diagnostic(knowledge_dir: Path) -> list[Problem]:
    """Every problem of `knowledge_dir/diagnostic.yaml` (and of roles.yaml, which it depends on)."""
    roles, problems = load_roles(knowledge_dir)
    return problems or check_questionnaire(knowledge_dir / DIAGNOSTIC_FILE, {r.id: r.label for r in roles})
