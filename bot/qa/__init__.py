"""Answering questions for chat users: batching, logging, feedback, coordinators' views."""

from bot.qa.service import Asked, QuestionService

__all__ = ["Asked", "QuestionService"]
