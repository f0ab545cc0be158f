"""What the coordinators see of the questions: unanswered ones, disliked answers, usage counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


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
