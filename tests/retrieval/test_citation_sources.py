"""Which of a section's sources is linked with the passage shown (no model needed)."""

from __future__ import annotations

from bot.retrieval.citation import shown_sources

RAMEAU = "https://www.lerameau.fr/faites-des-tiers-lieux-en-allier/"
GOUV = "https://associations.gouv.fr/les-catalyseurs-territoriaux-11363.html"
GOUV_OTHER = "https://associations.gouv.fr/les-conditions-du-faire-alliance-en-territoire.html"


def test_the_source_the_passage_names_first_is_linked_first() -> None:
    passage = "Selon associations.gouv.fr, le métier « Gestion d'un lieu » comprend… Le RAMEAU parle de…"
    assert shown_sources([RAMEAU, GOUV], passage) == [GOUV, RAMEAU]


def test_one_link_per_site_and_unnamed_sites_left_out() -> None:
    passage = "D'après associations.gouv.fr, la catalyse « se traduit par des missions de 4 natures »."
    assert shown_sources([RAMEAU, GOUV, GOUV_OTHER], passage) == [GOUV]


def test_a_passage_naming_no_site_shows_the_first_source() -> None:
    assert shown_sources([RAMEAU, GOUV], "Un catalyseur crée des liens entre les acteurs.") == [RAMEAU]


def test_names_match_whole_words_without_case_or_accents() -> None:
    assert shown_sources([GOUV, RAMEAU], "le rameau rappelle que…") == [RAMEAU]
    assert shown_sources([GOUV, RAMEAU], "Les rameaux d'olivier…") == [GOUV]  # not a name: first source


def test_the_answer_lists_every_site_the_passage_names_as_escaped_links() -> None:
    from bot.retrieval.chunker import Chunk
    from bot.retrieval.search import Hit
    from bot.telegram.render import hit_message

    passage = "Selon associations.gouv.fr, un lieu <convivial> & un Fab Lab. Le RAMEAU parle d'espaces."
    chunk = Chunk("c#1", "c", "Tiers-lieux & liens", "h", passage, RAMEAU, "faq", (), (), (RAMEAU, GOUV))
    message = hit_message(Hit(chunk, 1.0, 0.0, 0.0, passage), "fr")
    links = f'<a href="{GOUV}">associations.gouv.fr</a>, <a href="{RAMEAU}">lerameau.fr</a>'
    assert f"Sources : {links}" in message
    assert "&lt;convivial&gt; &amp; un Fab Lab" in message and "Tiers-lieux &amp; liens" in message
    single = Hit(chunk, 1.0, 0.0, 0.0, "Un lieu d'échanges.")
    assert f'Source : <a href="{RAMEAU}">Tiers-lieux &amp; liens</a>' in hit_message(single, "fr")
