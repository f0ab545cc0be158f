"""Passage choice within a resource and the key-phrase evidence, without the model."""

from __future__ import annotations

import numpy as np

from bot.retrieval.chunker import Chunk
from bot.retrieval.lexical import LexicalIndex
from bot.retrieval.passages import PassageChooser, section_intent


def _chunk(i: int, heading: str, text: str, title: str = "Accompagnements, troisième métier") -> Chunk:
    return Chunk(f"r#{i}", "r", title, heading, text, "https://example.org", "fiche", (), ())


CHUNKS = [
    _chunk(0, "", "Les accompagnements outillent les porteurs de projets."),
    _chunk(1, "Les missions des accompagnements", "Incubation, formation, essaimage."),
    _chunk(2, "Qui porte les accompagnements ?", "Des incubateurs, des Maisons des associations."),
    _chunk(3, "Exemples d'acteurs", "Ronalpia et Persee3C sont cités par le Fonds ODD 17."),
    Chunk(
        "p#0",
        "p",
        "Territoires pionniers",
        "",
        "Charenton, Les Mureaux.",
        "https://x",
        "faq",
        (),
        ("exemples",),
    ),
]
SIBLINGS = [0, 1, 2, 3]
EQUAL = np.full(4, 0.85, dtype=np.float32)
NONE = np.zeros(4, dtype=np.float32)


def _chooser() -> tuple[PassageChooser, LexicalIndex]:
    lexical = LexicalIndex([c.lexical_text for c in CHUNKS])
    return PassageChooser(CHUNKS, lexical), lexical


def test_asking_what_it_consists_of_shows_the_missions() -> None:
    chooser, _ = _chooser()
    question = "Et pour les accompagnements, ça consiste en quoi concrètement ?"
    assert chooser.choose(SIBLINGS, EQUAL, NONE, chooser.focus(["accompagn"], question, 0)) == 1


def test_the_question_s_own_words_pick_the_section_over_a_closer_vector() -> None:
    chooser, _ = _chooser()
    dense = np.array([0.85, 0.85, 0.87, 0.85], dtype=np.float32)
    focus = chooser.focus(["exempl", "cit", "fond", "odd"], "Quels acteurs le Fonds ODD 17 cite-t-il ?", 0)
    assert chooser.choose(SIBLINGS, dense, NONE, focus) == 3


def test_a_question_that_is_the_title_shows_the_opening() -> None:
    chooser, _ = _chooser()
    dense = np.array([0.85, 0.86, 0.86, 0.85], dtype=np.float32)
    focus = chooser.focus(["accompagn", "troisiem", "meti"], "Accompagnements, troisième métier ?", 0)
    assert focus == set()
    assert chooser.choose(SIBLINGS, dense, NONE, focus) == 0


def test_asking_for_examples_finds_the_collections_of_examples() -> None:
    chooser, _ = _chooser()
    assert section_intent("Des cas concrets qui marchent ?") == {"exempl"}
    assert chooser.asked_for("Vous avez des exemples concrets ?") == [3, 4]
    assert chooser.asked_for("Qui porte les accompagnements ?") == []


def test_a_missing_key_phrase_is_evidence_against_answering() -> None:
    lexical = LexicalIndex(["Le catalyseur territorial anime une convention de partenariat.", "Autre texte."])
    asked = lexical.overlap(["convent", "collect", "catalyseur", "territorial"], 0)
    assert asked.phrase == 0.0 and asked.missing > 0.5
    held = lexical.overlap(["catalyseur", "territorial"], 0)
    assert held.phrase == 1.0 and held.missing == 0.0
