"""What every command of the command line shares."""

from __future__ import annotations

import sys


class Failure(Exception):
    """An expected failure, reported in one line without a traceback."""


def say(message: str) -> None:
    print(message, file=sys.stderr)
