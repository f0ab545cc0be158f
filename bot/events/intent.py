"""Whether a chat question asks about the calendar (what is coming), so that the bot answers from its own
events, not from the knowledge base, which answers about past events.

« C'est quand le prochain événement ? », « prochaine Rencontre ? », « l'agenda », « webinaires à venir ? »
are calendar questions; « Quand a eu lieu la dernière Rencontre ? », « C'est quoi un catalyseur ? » are not.
"""

from __future__ import annotations

import re
import unicodedata

_EVENT_WORDS = (
    r"evenements?|rencontres?|webinaires?|reunions?|cafes?|ateliers?|seminaires?|formations?|rendez-vous"
    r"|events?|meetings?|webinars?"
)
_AGENDA = re.compile(r"\b(agenda|calendrier|calendar|upcoming)\b")
_COMING = re.compile(r"\b(prochaine?s?|a venir|aura lieu|auront lieu|bientot|next|coming)\b")
_EVENT = re.compile(rf"\b({_EVENT_WORDS})\b")
_WHEN = re.compile(r"\b(quand|when|quelle date|what date)\b")
_HABIT = re.compile(r"\b(annuelle?s?|chaque|d'habitude|generalement|en general|usually|every|annual)\b")
_PAST = re.compile(r"\b(a eu lieu|ont eu lieu|derniere?s?|precedente?s?|passee?s?|last|previous|past)\b")


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def asks_for_calendar(question: str) -> bool:
    """True for a question about upcoming events (French or English), False otherwise (see module)."""
    text = _plain(question)[:500]
    if _PAST.search(text):
        return False
    if _AGENDA.search(text):
        return True
    coming, event = _COMING.search(text) is not None, _EVENT.search(text) is not None
    when = _WHEN.search(text) is not None
    # « Quand a lieu la Rencontre annuelle ? » asks about a habit: the knowledge base answers it
    return (coming and (event or when)) or (event and when and not _HABIT.search(text))
