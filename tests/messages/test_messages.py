from __future__ import annotations

import re

import pytest
from bm25s.stopwords import STOPWORDS_EN_PLUS

from bot.messages import LANGUAGES, PLURAL_FORMS, catalogue, plural, text

PLACEHOLDER = re.compile(r"{(\w+)}")
# Words no French sentence uses: English function words (bm25s's list, without the ones that are French
# too: « un an », « tu as », « un don », « or », « me », single letters), and English interface words.
FRENCH_TOO = {"an", "as", "don", "or", "me", "re", "ll", "ve", "ain"}
ENGLISH_ONLY = {w for w in STOPWORDS_EN_PLUS if len(w) > 1 and w not in FRENCH_TOO} | {
    "button", "buttons", "send", "cancel", "yes", "please", "click", "sandbox", "diagnosis", "event",
    "events", "answer", "answers", "recipient", "recipients", "sent", "data", "file", "download", "share",
    "updated",
    "previous", "next", "start", "welcome", "thanks", "help", "settings", "members", "coordinators",
}  # fmt: skip
# Proper nouns and acronyms that French messages may contain as they are.
ALLOWED = {"telegram", "mooc", "rameau", "json", "pdf", "png", "catabot", "ess", "rgpd", "ics", "start"}


def _forms(entry: str | dict[str, str]) -> dict[str, str]:
    return entry if isinstance(entry, dict) else {"": entry}


def english_words(message: str) -> set[str]:
    """The English-only words of a message, outside its tags, placeholders, links, commands and code."""
    message = re.sub(r"<[^>]+>|{\w+}|https?://\S+|/\w+|`[^`]*`|\w+(?:[._]\w+)+", " ", message)
    words = {w.lower() for w in re.findall(r"[A-Za-zÀ-ÿ']+", message)}
    return {w for w in words if w in ENGLISH_ONLY and w not in ALLOWED}


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    french, english = catalogue("fr"), catalogue("en")
    assert set(french) == set(english), set(french) ^ set(english)
    for key, entry in french.items():
        names = {name for form in _forms(entry).values() for name in PLACEHOLDER.findall(form)}
        other = {name for form in _forms(english[key]).values() for name in PLACEHOLDER.findall(form)}
        assert names == other, key


def test_plural_entries_have_their_forms_and_the_count() -> None:
    for language in LANGUAGES:
        for key, entry in catalogue(language).items():
            if isinstance(entry, dict):
                assert {"one", "other"} <= set(entry) <= set(PLURAL_FORMS), (language, key)
                for form, value in entry.items():
                    assert form == "zero" or "{count}" in value, (language, key, form)


def test_no_english_in_the_french_catalogue() -> None:
    found = {
        key: words
        for key, entry in catalogue("fr").items()
        for form in _forms(entry).values()
        if (words := english_words(form))
    }
    assert found == {}


def test_the_english_check_can_fail() -> None:
    assert english_words("Voici your data") == {"your", "data"}
    assert english_words("<b>Telegram</b> : {count} /start https://x.org/the `the` file.max_mb") == set()
    flagged = sum(bool(english_words(v)) for e in catalogue("en").values() for v in _forms(e).values())
    assert flagged > len(catalogue("en")) / 3


@pytest.mark.parametrize(
    ("language", "count", "expected"),
    [
        ("fr", 0, "0 réponse"),
        ("fr", 1, "1 réponse"),
        ("fr", 2, "2 réponses"),
        ("en", 0, "0 “I don't know” answers"),
        ("en", 1, "1 “I don't know” answer,"),
        ("en", 2, "2 “I don't know” answers"),
    ],
)
def test_plural_forms_follow_the_language(language: str, count: int, expected: str) -> None:
    message = plural("diag_result_unknown", language, count, label="L", check_with="la mairie")
    assert expected in message
    assert message == text("diag_result_unknown", language, count=count, label="L", check_with="la mairie")


def test_no_bracketed_plural_left() -> None:
    for language in LANGUAGES:
        for key, entry in catalogue(language).items():
            for value in _forms(entry).values():
                assert not re.search(r"\w\((s|es)\)", value), (language, key, value)


def test_zero_form_and_topic_accents() -> None:
    assert text("announce_opted_out", "fr", count=0).startswith("Personne")
    assert text("announce_opted_out", "fr", count=1) == "1 personne désabonnée ne la recevra pas."
    assert text("event_rsvp_count_yes", "fr", count=1) == "1 participe"
    assert text("event_rsvp_count_yes", "fr", count=3) == "3 participent"
    assert text("topic_appels-a-projets", "fr") == "Appels à projets"


def test_unknown_language_falls_back_to_french() -> None:
    assert text("welcome", "de") == text("welcome", "fr")
    assert set(LANGUAGES) == {"fr", "en"}


def test_a_value_may_be_named_like_a_parameter_of_the_text_functions() -> None:
    from bot.diagnosis.texts import say
    from bot.telegram.render import html_text

    expected = "a.txt : le document semble écrit dans une autre langue que le français (en)"
    assert text("import_language", "fr", file="a.txt", language="en").startswith(expected)
    assert say("import_language", "fr", file="a.txt", language="en").startswith(expected)
    assert html_text("import_language", "fr", file="<a>", language="en").startswith("&lt;a&gt; : ")
