"""Greetings and thanks are not questions: they get a friendly reply and are not kept for coordinators."""

from __future__ import annotations

import enum
import re

from bot.text import fold_accents

_GREETINGS = {"bonjour", "bonsoir", "salut", "coucou", "hello", "hi", "hey", "bjr", "slt", "yo"}
_THANKS = {
    "merci",
    "merci beaucoup",
    "thanks",
    "thank you",
    "super merci",
    "ok merci",
    "parfait merci",
    "top merci",
}


class SmallTalk(enum.Enum):
    GREETING = "greeting"
    THANKS = "thanks"


def small_talk(message: str) -> SmallTalk | None:
    words = re.sub(r"[^\w\s]", " ", fold_accents(message.lower())).split()
    cleaned = " ".join(w for w in words if w not in {"a", "tous", "vous", "toi", "le", "bot", "catabot"})
    if cleaned in _GREETINGS:
        return SmallTalk.GREETING
    if cleaned in _THANKS:
        return SmallTalk.THANKS
    return None
