"""A self-diagnosis as stored: in progress, finished, and the anonymous counts over the finished ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

MISSING = "missing"  # the diagnostic statuses counted by `DiagnosticStats`
FRAGILE = "fragile"


@dataclass(frozen=True)
class DiagnosticSession:
    """A self-diagnosis in progress."""

    user_id: int
    answers: dict[str, str]  # step id → option id, in the order they were saved
    paused: bool
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DiagnosticResult:
    """A finished self-diagnosis."""

    id: int
    user_id: int | None
    created_at: datetime
    territory: str | None  # the answer to "type of territory"
    structure: str | None
    version: str  # of the questionnaire
    scores: dict[str, int]  # métier id → score 0-100
    statuses: dict[str, str]  # métier id → status ("missing", "fragile", …)
    answers: dict[str, str]  # step id → option id


@dataclass(frozen=True)
class TerritoryStats:
    territory: str | None  # None: territory not given
    diagnostics: int
    missing: dict[str, int]  # métier id → results of this territory type where it was "missing"


@dataclass(frozen=True)
class DiagnosticStats:
    """Anonymous counts over every stored result: no user ids, no answers.

    The métier dicts have every métier seen in a result (0 included), sorted by id.
    """

    diagnostics: int
    missing: dict[str, int]  # métier id → results where it was "missing"
    fragile: dict[str, int]  # métier id → results where it was "fragile"
    territories: list[TerritoryStats]  # most diagnostics first, "not given" last among equals
