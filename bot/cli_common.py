"""What every command of the command line shares."""

from __future__ import annotations

import sys
from pathlib import Path


class Failure(Exception):
    """An expected failure, reported in one line without a traceback."""


def unreadable(path: Path, exc: OSError) -> Failure:
    """« eval/dev.jsonl: cannot read the file (No such file or directory) », without Python's `[Errno 2]`."""
    return Failure(f"{path}: cannot read the file ({exc.strerror or exc})")


def say(message: str) -> None:
    print(message, file=sys.stderr)
