"""Which métier to work on first, why and the first step; the exported card; `catabot diagnose`'s priority."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.diagnosis.advice import choose, first_step, reasons
from bot.diagnosis.card import render_card
from bot.diagnosis.cli import format_result, to_json
from bot.diagnosis.engine import score
from bot.diagnosis.questionnaire import Questionnaire, check_questionnaire
from bot.diagnosis.recommend import passage, recommend
from bot.retrieval.chunker import Chunk
from tests.conftest import domain_sources
from tests.diagnosis.test_diagnosis import MINI, ROLES, chunks, fill, line_of, q, write

__all__ = ["chunks", "q"]  # the module-scoped fixtures of the diagnosis tests


def test_the_lowest_score_among_the_metiers_to_strengthen_comes_first(q: Questionnaire) -> None:
    answers = fill(q, {"accompagnements": "partie", "experimentations-collectives": "non"})
    advice = choose(q, score(q, answers))
    assert advice is not None and advice.metier.id == "experimentations-collectives"
    assert advice.kind == "work" and advice.tied_with == () and advice.candidates == 2
    why = reasons(advice)
    assert why[0] == "C'est le score le plus bas des 2 métiers à renforcer (sur 4) : 0/100 (manquant)."
    assert "premier kilomètre" in first_step(advice)
    assert (
        advice.source
        == "https://www.lerameau.fr/devenons-social-impact-manager-pour-piloter-linnovation-en-proximite/"
    )
    only = choose(q, score(q, fill(q, {"gestion-lieu": "partie"})))
    assert only is not None and reasons(only)[0].startswith("C'est le seul métier à renforcer (1 sur 4)")
    assert reasons(only, "en")[0].startswith("It is the only métier to strengthen (1 of 4)")


def test_a_tie_goes_to_the_metier_the_structure_can_carry_else_to_the_questionnaire_order(
    q: Questionnaire,
) -> None:
    tie = {"dialogue-territorial": "non", "gestion-lieu": "non"}
    carried = choose(q, score(q, fill(q, tie, context={"structure": "tiers-lieu"})))
    assert carried is not None and carried.metier.id == "gestion-lieu"
    assert [m.id for m in carried.tied_with] == ["dialogue-territorial"]
    assert carried.suited_by == "Un tiers-lieu"
    assert reasons(carried)[1] == (
        "À égalité avec Dialogue territorial, il passe en premier car une structure comme la vôtre "
        "(Un tiers-lieu) peut le porter (repère)."
    )
    in_order = choose(q, score(q, fill(q, tie, context={"structure": "autre"})))
    assert in_order is not None and in_order.metier.id == "dialogue-territorial"
    assert "dans l'ordre des quatre métiers" in reasons(in_order)[1]
    lower = choose(q, score(q, fill(q, {"dialogue-territorial": "non", "gestion-lieu": "partie"},
                                    context={"structure": "tiers-lieu"})))  # fmt: skip
    assert lower is not None and lower.metier.id == "dialogue-territorial", "context only breaks ties"


def test_i_dont_know_never_makes_a_metier_come_first_but_is_checked_first_when_nothing_else_is(
    q: Questionnaire,
) -> None:
    unsure = fill(q, {"accompagnements": "nsp", "gestion-lieu": "partie"})
    advice = choose(q, score(q, unsure))
    assert advice is not None and advice.metier.id == "gestion-lieu" and advice.kind == "work"
    only_unsure = choose(q, score(q, fill(q, {"accompagnements": "nsp"})))
    assert only_unsure is not None and only_unsure.kind == "check"
    assert only_unsure.metier.id == "accompagnements" and only_unsure.source == ""
    assert reasons(only_unsure) == [
        "Aucun métier n'apparaît manquant ni fragile, mais celui-ci a 5 réponses « Je ne sais pas » : "
        "vérifiez-les d'abord."
    ]
    assert first_step(only_unsure).startswith("Vérifiez auprès de la maison des associations")
    one_unknown = fill(q, {"dialogue-territorial": "non"}, given={"dt-rencontres": "nsp"})
    partly = choose(q, score(q, one_unknown))
    assert partly is not None
    assert "1 réponse « Je ne sais pas » n'est pas comptée dans ce score." in reasons(partly)
    assert choose(q, score(q, fill(q))) is None, "every métier present: nothing comes first"


def test_a_metier_without_enough_answers_is_not_said_to_have_i_dont_know_answers(q: Questionnaire) -> None:
    partial = {"territoire": "rural", "structure": "collectivite"}  # stopped after the context questions
    advice = choose(q, score(q, partial))
    assert advice is not None and advice.kind == "check" and advice.metier.unknown == ()
    assert (
        first_step(advice)
        == "Répondez aux questions de ce métier restées sans réponse, puis refaites l'autodiagnostic."
    )
    assert (
        "Je ne sais pas"
        not in format_result(score(q, partial), {}, "fr", advice).split("Dialogue territorial :")[0]
    )


def test_check_with_follows_aupres_de(q: Questionnaire) -> None:
    for metier in q.metiers:
        sentence = f"Vérifiez auprès de {metier.check_with}"
        assert " de le " not in sentence and " de les " not in sentence, sentence
        assert not re.search(r"(, | ou )(la|le|les|l'|un|une) ", metier.check_with), metier.check_with


def test_every_first_step_rests_on_a_source_of_the_domain_briefing(q: Questionnaire) -> None:
    sources = domain_sources()
    for metier in q.metiers:
        assert metier.first_step and metier.first_step_source in sources, metier.id


def test_a_wrong_suits_or_first_step_is_named_with_its_line(tmp_path: Path) -> None:
    text = MINI.replace(
        "        tags: [association]\n", "        tags: [association]\n        suits: [cuisine]\n"
    )
    text = text.replace(
        '    check_with: "la mairie"\n',
        '    check_with: "la mairie"\n    first_step:\n      text: "Réunir."\n      source: "ailleurs"\n',
    )
    path = write(tmp_path, text)
    problems = [str(p) for p in check_questionnaire(path, ROLES)]
    assert any(
        p.startswith(f"{path}:{line_of(text, 'suits: [cuisine]')}: ") and "cuisine" in p for p in problems
    )
    source_line = line_of(text, 'source: "ailleurs"')
    assert any(f":{source_line}: " in p and "http(s) URL" in p for p in problems), problems


def test_a_recommendation_opens_the_passage_its_link_belongs_to(
    q: Questionnaire, chunks: list[Chunk]
) -> None:
    found = recommend(score(q, fill(q, {"gestion-lieu": "non"})), chunks)
    for recommendation in found["gestion-lieu"]:
        shown = passage(chunks, recommendation.resource_id, recommendation.passage)
        assert shown is not None and recommendation.url in (shown.url, *shown.sources)
    assert (
        passage(chunks, "nope", 0) is None
        and passage(chunks, found["gestion-lieu"][0].resource_id, 999) is None
    )


def test_the_terminal_and_the_json_give_the_priority(q: Questionnaire, chunks: list[Chunk]) -> None:
    diagnosis = score(q, fill(q, {"gestion-lieu": "non"}))
    advice = choose(q, diagnosis)
    printed = format_result(diagnosis, recommend(diagnosis, chunks), "fr", advice)
    assert "À travailler en premier : Gestion d'un lieu\nPourquoi : C'est le seul métier" in printed
    assert "Source : https://www.lerameau.fr/quest-ce-quun-catalyseur-territorial/" in printed
    found = to_json(diagnosis, {}, advice)
    assert found["priority"]["id"] == "gestion-lieu" and found["priority"]["kind"] == "work"
    assert found["priority"]["first_step"]["source"].startswith("https://")
    assert found["metiers"][0]["id"] == "gestion-lieu", "the existing keys stay"
    assert to_json(score(q, fill(q)), {}, None)["priority"] is None
    assert "Les quatre métiers semblent présents" in format_result(score(q, fill(q)), {}, "fr")


def test_the_card_is_a_png_or_a_pdf_with_the_chart_and_the_text(q: Questionnaire) -> None:
    diagnosis = score(q, fill(q, {"gestion-lieu": "non"}))
    body = format_result(diagnosis, {}, "fr", choose(q, diagnosis))
    png = render_card(diagnosis, "Résultat", body, "png")
    pdf = render_card(diagnosis, "Résultat", body, "pdf")
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and pdf.startswith(b"%PDF")
    longer = render_card(diagnosis, "Résultat", body + "\nligne" * 40, "png")
    assert len(longer) > len(png), "a longer text makes a taller card rather than being cut"
    with pytest.raises(ValueError, match="png or pdf"):
        render_card(diagnosis, "Résultat", body, "gif")  # type: ignore[arg-type]
