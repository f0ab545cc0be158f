"""What the coordinators see of the questions: unanswered ones, disliked answers, usage counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


@dataclass(frozen=True)
class QuestionSummary:
    """Unanswered questions asked in the same words (see `bot.storage.questions.normalize_question`)."""

    text: str  # one of the original wordings
    count: int
    last_asked: datetime


@dataclass(frozen=True)
class FeedbackSummary:
    """Thumbs-down votes on the same question answered with the same resource."""

    question: str  # one of the original wordings
    resource_id: str | None
    count: int
    last: datetime


@dataclass(frozen=True)
class Stats:
    users: int
    active_users: int  # users who have not blocked the bot
    members: int
    coordinators: int
    questions: int
    answered: int
    answer_rate: float  # answered / questions, 0.0 without questions


@dataclass(frozen=True)
class NewQuestion:
    """A question to record (`QuestionRepository.record_questions`). `kept`: keep it for the coordinators
    at once (status pending, and its asker gets a handle); `user_id` None for no known asker."""

    user_id: int | None
    chat_type: str
    text: str
    language: str
    answered: bool
    resource_id: str | None
    confidence: float | None
    asked_at: datetime
    kept: bool = False


ANSWER_FLOW = "qa_answer"  # a coordinator writing an answer (state: {"question_id": int, ...}), see /oubli


class Status(StrEnum):
    """Where a question kept for the coordinators stands."""

    PENDING = "pending"
    ANSWERED = "answered"  # a coordinator wrote an answer, or pointed to a resource (`covered_by`)
    DISMISSED = "dismissed"  # « hors sujet »


@dataclass(frozen=True)
class KeptQuestion:
    """A question kept for the coordinators. `asker` is the asker's pseudonymous handle (never their
    Telegram id); `reasons` are the 👎 reasons given (keys of `DISLIKE_REASONS` or sentences);
    `resource_id` the resource the bot answered with (for a 👎'd answer)."""

    id: int
    text: str
    language: str
    asked_at: datetime
    asker: str | None
    status: Status
    answered: bool  # whether the bot had answered it (then it was kept because of a 👎)
    resource_id: str | None
    reasons: tuple[str, ...] = ()
    handled_at: datetime | None = None
    handled_by_name: str | None = None
    answer: str | None = None
    covered_by: str | None = None


DISLIKE_REASONS = ("wrong", "incomplete", "link")  # pas la bonne réponse, incomplet, lien incorrect


@dataclass(frozen=True)
class CoordinationStats:
    """Kept questions by status, and the median time from question to answer (None before any answer)."""

    pending: int
    answered: int
    dismissed: int
    median_to_answer: timedelta | None
