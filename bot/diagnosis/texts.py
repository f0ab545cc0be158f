"""The diagnosis's own user-visible texts (not questionnaire data) come from the message catalogue."""

from __future__ import annotations

from typing import Any

from bot.messages import DEFAULT_LANGUAGE, text


def say(key: str, language: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    return text(key, language, **values)


def status_labels(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    return {s: say(f"diagnosis_status_{s}", language) for s in ("missing", "fragile", "to_check", "present")}
