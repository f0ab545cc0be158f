"""Issue 10 cases needing no model: accent folding, stop words, invisible text, focus, follow-ups."""

from __future__ import annotations

import pytest

from bot.retrieval.focus import is_follow_up, question_focus
from bot.retrieval.language import question_language
from bot.retrieval.lexical import tokenize
from bot.text import clean_text


@pytest.mark.parametrize(
    "word", ["neutralité", "collectivités", "maturité", "proximité", "déjà", "expérimentation"]
)
def test_a_word_typed_without_accents_gets_the_same_token(word: str) -> None:
    from bot.text import fold_accents

    assert tokenize(word) == tokenize(fold_accents(word))


def test_exemple_is_not_a_stop_word() -> None:
    assert tokenize("un exemple concret d'alliance réussie")[0].startswith("exempl")


def test_modifier_and_typographic_apostrophes_read_as_apostrophes() -> None:
    assert tokenize("lʼalliance") == tokenize("l’alliance") == tokenize("l'alliance")


def test_invisible_characters_only_is_an_empty_message() -> None:
    assert clean_text("\u200b\u200b\ufeff \u2060") == ""


def test_a_greeting_and_context_do_not_become_the_question() -> None:
    focus = question_focus(
        "Bonjour, je travaille dans une asso en milieu rural et on m'a parlé de catalyse territoriale. "
        "C'est quoi exactement ?"
    )
    assert focus.question == "C'est quoi exactement ?"
    assert "catalyse territoriale" in focus.context and "rural" not in focus.context


def test_elliptic_questions_lean_on_the_previous_one_new_topics_do_not() -> None:
    assert is_follow_up("et pour les accompagnements ?", len(set(tokenize("et pour les accompagnements ?"))))
    assert is_follow_up("qui sont ses partenaires ?", len(set(tokenize("qui sont ses partenaires ?"))))
    new = "Quels sont les quatre métiers de la catalyse territoriale ?"
    assert not is_follow_up(new, len(set(tokenize(new))))


def test_question_language() -> None:
    assert question_language("Where can I watch the webinar replays?") == "en"
    assert question_language("c quoi un catalyzeur teritorial") == "fr"


@pytest.mark.parametrize("message", ["²", "ok", "???", "👍", "et ?", "hmm", "d'accord"])
def test_a_message_without_content_or_elliptic_form_leans_on_nothing(message: str) -> None:
    assert not is_follow_up(message, len(set(tokenize(message))))


@pytest.mark.parametrize(
    "message", ["et lui ?", "pourquoi ?", "et alors ?", "comment ça ?", "and them?", "C'est quoi donc ?"]
)
def test_recognised_elliptic_forms_without_content_words_are_follow_ups(message: str) -> None:
    assert is_follow_up(message, len(set(tokenize(message))))
