"""The errors of catabot: one root, and one base for the "list of problems in a file" errors.

Every error the bot raises on purpose is a `CatabotError`. A file that cannot be used (knowledge, the
questionnaire, an events import, an answers file) raises a `ProblemsError` subclass listing every problem as
`file:line: what is wrong`, so that the user fixes them all at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class CatabotError(Exception):
    """The root of catabot's own errors."""


@dataclass(frozen=True)
class Problem:
    """One problem in a file: where (path, 1-based line) and what is wrong."""

    path: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ProblemsError(CatabotError):
    """A file with problems; `problems` lists them all, the message has one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
