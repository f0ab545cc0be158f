"""Whether a chat question asks about the calendar (what is coming), so that the bot answers from its own
events, not from the knowledge base, which answers about past events.

« C'est quand le prochain événement ? », « prochaine Rencontre ? », « l'agenda », « webinaires à venir ? »,
« Quels sont les événements en mars ? » are calendar questions (`asked_period` gives the period named);
« Quand a eu lieu la dernière Rencontre ? », « C'est quoi un catalyseur ? » are not.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta

from bot.events.clock import ENGLISH_MONTHS, FRENCH_MONTHS
from bot.messages import text as catalogue_text

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


_MONTHS = {
    **{_name: _number for _number, _name in enumerate(("janvier", "fevrier", "mars", "avril", "mai", "juin",
       "juillet", "aout", "septembre", "octobre", "novembre", "decembre"), 1)},
    **{m.lower(): n for n, m in enumerate(ENGLISH_MONTHS, 1) if m != "May"},  # "may" is mostly a verb
}  # fmt: skip
_MONTH = re.compile(rf"\b(?:en|au mois d[e']|in|during)\s*(?P<month>{'|'.join(_MONTHS)})\b")
_THIS_WEEK = re.compile(r"\b(cette semaine|this week)\b")
_NEXT_WEEK = re.compile(r"\b(semaine prochaine|next week)\b")
_THIS_MONTH = re.compile(r"\b(ce mois(?:-ci)?|this month)\b")
_NEXT_MONTH = re.compile(r"\b(mois prochain|next month)\b")


@dataclass(frozen=True)
class Period:
    """The days a calendar question asks about, first and last included (Paris dates); `month` (1-12) when
    it names a whole month."""

    first: date
    last: date
    month: int | None = None

    def label(self, language: str) -> str:
        """« en mars 2027 » / "in March 2027", else « du 8/3 au 14/3 » / "from 8/3 to 14/3"."""
        if self.month is not None:
            name = (FRENCH_MONTHS if language == "fr" else ENGLISH_MONTHS)[self.month - 1]
            return catalogue_text("events_period_month", language, month=name, year=self.first.year)
        first, last = f"{self.first.day}/{self.first.month}", f"{self.last.day}/{self.last.month}"
        return catalogue_text("events_period_days", language, first=first, last=last)


def _month(year: int, month: int) -> Period:
    return Period(date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1]), month)


def asked_period(question: str, today: date) -> Period | None:
    """The period a question names (« en mars », « cette semaine », « le mois prochain », "in March"),
    seen from `today`: a month already past this year means next year's; None when no period is named."""
    text = _plain(question)[:500]
    named = _MONTH.search(text)
    if named is not None:
        month = _MONTHS[named["month"]]
        return _month(today.year + (month < today.month), month)
    monday = today - timedelta(days=today.weekday())
    if _THIS_WEEK.search(text):
        return Period(today, monday + timedelta(days=6))
    if _NEXT_WEEK.search(text):
        return Period(monday + timedelta(days=7), monday + timedelta(days=13))
    if _THIS_MONTH.search(text):
        return Period(today, _month(today.year, today.month).last)
    if _NEXT_MONTH.search(text):
        return _month(today.year + (today.month == 12), today.month % 12 + 1)
    return None


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
    if event and asked_period(text, date(2000, 1, 1)) is not None:  # « les événements en mars ? »
        return True
    # « Quand a lieu la Rencontre annuelle ? » asks about a habit: the knowledge base answers it
    return (coming and (event or when)) or (event and when and not _HABIT.search(text))
