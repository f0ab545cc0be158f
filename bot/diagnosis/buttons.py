"""The callback data of the questionnaire's buttons, and the check that every one fits Telegram's limit.

Telegram refuses a button whose callback data is longer than 64 bytes (UTF-8), and with it the whole
message: a questionnaire id that makes one too long would leave the diagnosis stuck on that question.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from bot.errors import Problem

if TYPE_CHECKING:
    from bot.diagnosis.questionnaire import Questionnaire

BUTTON_DATA_BYTES = 64  # Telegram Bot API, InlineKeyboardButton.callback_data: 1-64 bytes


def answer_data(step_id: str, option_id: str) -> str:
    """The button that answers `step_id` with `option_id` (an answer id, or a context option id)."""
    return f"d:a:{step_id}:{option_id}"


def change_data(step_id: str) -> str:
    """The button that goes back to `step_id` from the summary."""
    return f"d:c:{step_id}"


def _all_data(q: Questionnaire) -> Iterator[tuple[str, str]]:
    """(step id, callback data) for every button the questionnaire can show."""
    for question in q.context:
        for option in question.options:
            yield question.id, answer_data(question.id, option.id)
        yield question.id, change_data(question.id)
    for metier in q.metiers:
        for statement in metier.statements:
            for answer in q.answers:
                yield statement.id, answer_data(statement.id, answer.id)
            yield statement.id, change_data(statement.id)


def button_data_problems(q: Questionnaire, lines: Mapping[str, int]) -> list[Problem]:
    """One problem per step whose longest button data exceeds `BUTTON_DATA_BYTES`, at the line of its id."""
    longest: dict[str, str] = {}
    for step_id, data in _all_data(q):
        if len(data.encode()) > len(longest.get(step_id, "").encode()):
            longest[step_id] = data
    return [
        Problem(
            q.path,
            lines.get(step_id, 1),
            f"id: {step_id!r} is too long: its button data {data!r} takes {len(data.encode())} bytes, "
            f"Telegram allows {BUTTON_DATA_BYTES} (shorten this id or its answer ids)",
        )
        for step_id, data in longest.items()
        if len(data.encode()) > BUTTON_DATA_BYTES
    ]
