"""The self-diagnosis: questionnaire file, flow, scoring, recommendations, chart, terminal (no model)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from bot.diagnosis.cli import AnswersError, diagnose_file, format_result, load_answers, run_terminal, to_json
from bot.diagnosis.engine import (
    AnswerError,
    Diagnosis,
    all_steps,
    answer,
    go_back,
    next_step,
    previous,
    progress,
    score,
    steps,
)
from bot.diagnosis.questionnaire import (
    MAX_STATEMENTS,
    MIN_STATEMENTS,
    Questionnaire,
    QuestionnaireError,
    check_diagnostic,
    check_questionnaire,
    load_questionnaire,
    open_questionnaire,
)
from bot.diagnosis.recommend import Recommendation, recommend
from bot.errors import Problem
from bot.knowledge import load_knowledge
from bot.retrieval.chunker import Chunk, chunk_resource
from bot.retrieval.lexical import LexicalIndex
from tests.conftest import KNOWLEDGE, domain_sources

METIERS = ("dialogue-territorial", "experimentations-collectives", "accompagnements", "gestion-lieu")


@pytest.fixture(scope="module")
def q() -> Questionnaire:
    return open_questionnaire(KNOWLEDGE)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return [c for r in load_knowledge(KNOWLEDGE).resources for c in chunk_resource(r)]


def fill(
    q: Questionnaire,
    by_metier: dict[str, str] | None = None,
    *,
    default: str = "oui",
    context: dict[str, str] | None = None,
    given: dict[str, str] | None = None,
) -> dict[str, str]:
    """Walk the questionnaire like a user; each answer: `given`, else its métier's, else `default`."""
    chosen = {"territoire": "rural", "structure": "association", **(context or {})}
    answers: dict[str, str] = {}
    while (step := next_step(q, answers)) is not None:
        if step.kind == "context":
            value = chosen[step.id]
        else:
            by_step = given or {}
            value = by_step.get(step.id) or (by_metier or {}).get(step.metier or "", default)
        answers = answer(q, answers, step.id, value)
    return answers


# --- the repository's questionnaire --------------------------------------------------------------------


def test_the_repository_questionnaire_is_valid(q: Questionnaire) -> None:
    assert check_diagnostic(KNOWLEDGE) == []
    assert [m.id for m in q.metiers] == list(METIERS)
    assert q.metiers[3].label == "Gestion d'un lieu"  # labels come from roles.yaml
    for metier in q.metiers:
        assert MIN_STATEMENTS <= len(metier.statements) <= MAX_STATEMENTS, metier.id
        assert metier.meaning_missing and metier.meaning_fragile and metier.check_with
    assert [a.id for a in q.answers] == ["oui", "partie", "non", "nsp"]
    assert [a.weight for a in q.answers] == [1, 0.5, 0, None]
    assert {c.id for c in q.context} == {"territoire", "structure"}
    structure = next(c for c in q.context if c.id == "structure")
    assert {o.id for o in structure.options} >= {"collectivite", "association", "entreprise", "fondation"}
    assert len(all_steps(q)) == len(steps(q, {})) == 22


def test_the_questionnaire_sources_come_from_the_domain_briefing(q: Questionnaire) -> None:
    assert q.sources and set(q.sources) <= domain_sources()


# --- scoring ---------------------------------------------------------------------------------------------


def test_all_yes_leaves_nothing_missing(q: Questionnaire) -> None:
    diagnosis = score(q, fill(q))
    assert diagnosis.complete
    assert {m.status for m in diagnosis.metiers} == {"present"}
    assert all(m.score == 100 and not m.unknown and not m.meaning for m in diagnosis.metiers)
    assert diagnosis.needing_attention() == []


@pytest.mark.parametrize("metier", METIERS)
def test_all_no_on_one_metier_makes_it_missing_and_only_it(q: Questionnaire, metier: str) -> None:
    diagnosis = score(q, fill(q, {metier: "non"}))
    assert diagnosis.metiers[0].id == metier
    assert diagnosis.result(metier).status == "missing"
    assert diagnosis.result(metier).score == 0
    assert diagnosis.result(metier).meaning == q.metier(metier).meaning_missing
    assert [m.status for m in diagnosis.metiers[1:]] == ["present"] * 3


@pytest.mark.parametrize(
    ("given", "expected_score", "expected_status"),
    [
        (["oui"] * 5, 100, "present"),
        (["oui", "oui", "oui", "partie", "non"], 70, "present"),  # 3.5 / 5: exactly the present threshold
        (["partie"] * 5, 50, "fragile"),
        (["oui", "partie", "partie", "non", "non"], 40, "fragile"),  # exactly the fragile threshold
        (["oui", "non", "non", "non", "partie"], 30, "missing"),
        (["non"] * 5, 0, "missing"),
        (["oui", "oui", "oui", "nsp", "nsp"], 100, "present"),  # « Je ne sais pas » is not a « Non »
        (["non", "nsp", "nsp", "nsp", "nsp"], 0, "to_check"),  # only one counted answer
        (["nsp"] * 5, None, "to_check"),
    ],
)
def test_dialogue_scores_table(
    q: Questionnaire, given: list[str], expected_score: int | None, expected_status: str
) -> None:
    statements = q.metier("dialogue-territorial").statements
    by_step = {s.id: value for s, value in zip(statements, given, strict=True)}
    result = score(q, fill(q, given=by_step)).result("dialogue-territorial")
    assert (result.score, result.status) == (expected_score, expected_status)
    assert result.answered == sum(v != "nsp" for v in given)


def test_dont_know_is_listed_apart_with_the_statements_texts(q: Questionnaire) -> None:
    diagnosis = score(
        q, fill(q, given={"dt-diagnostic": "nsp", "dt-sensibilisation": "nsp", "ac-formation": "nsp"})
    )
    dialogue = diagnosis.result("dialogue-territorial")
    texts = {s.id: s.text for s in q.metier("dialogue-territorial").statements}
    assert dialogue.unknown == (texts["dt-diagnostic"], texts["dt-sensibilisation"])
    assert (dialogue.score, dialogue.status, dialogue.answered) == (100, "present", 3)
    assert len(diagnosis.result("accompagnements").unknown) == 1
    assert diagnosis.result("gestion-lieu").unknown == ()


def test_all_dont_know_on_a_metier_means_to_check(q: Questionnaire) -> None:
    diagnosis = score(q, fill(q, {"accompagnements": "nsp"}))
    result = diagnosis.result("accompagnements")
    assert (result.status, result.score, result.answered) == ("to_check", None, 0)
    assert len(result.unknown) == len(q.metier("accompagnements").statements)
    assert result.check_with == q.metier("accompagnements").check_with


def test_results_are_ordered_missing_then_fragile_then_to_check_then_present(q: Questionnaire) -> None:
    answers = fill(
        q, {"dialogue-territorial": "oui", "experimentations-collectives": "partie", "gestion-lieu": "non"}
    )
    answers.update({s.id: "nsp" for s in q.metier("accompagnements").statements})
    diagnosis = score(q, answers)
    assert [m.id for m in diagnosis.metiers] == [
        "gestion-lieu",
        "experimentations-collectives",
        "accompagnements",
        "dialogue-territorial",
    ]
    assert [m.status for m in diagnosis.metiers] == ["missing", "fragile", "to_check", "present"]
    assert [m.id for m in diagnosis.in_questionnaire_order()] == list(METIERS)
    assert [m.id for m in diagnosis.needing_attention()] == ["gestion-lieu", "experimentations-collectives"]


def test_partial_answers_are_scored_and_marked_incomplete(q: Questionnaire) -> None:
    diagnosis = score(q, {"territoire": "urbain", "dt-rencontres": "oui", "dt-diagnostic": "non"})
    assert not diagnosis.complete
    dialogue = diagnosis.result("dialogue-territorial")
    assert (dialogue.score, dialogue.status, dialogue.unanswered) == (50, "fragile", 3)
    assert diagnosis.result("gestion-lieu").status == "to_check"
    assert diagnosis.context == {"territoire": "urbain"}


def test_context_answers_give_notes_and_keywords(q: Questionnaire) -> None:
    diagnosis = score(q, fill(q, context={"territoire": "ultramarin", "structure": "collectivite"}))
    assert diagnosis.context == {"territoire": "ultramarin", "structure": "collectivite"}
    assert diagnosis.context_labels == {"territoire": "Ultra-marin", "structure": "Une collectivité"}
    assert len(diagnosis.notes) == 2 and "facilitateur" in diagnosis.notes[1]
    assert "collectivité" in diagnosis.keywords and "outre-mer" in diagnosis.keywords


# --- flow: branching, progress, previous -----------------------------------------------------------------


def walk(q: Questionnaire, values: dict[str, str]) -> list[tuple[str, int, int]]:
    """(step id, position, total) as a user sees them, answering `values` (default « Oui »)."""
    seen: list[tuple[str, int, int]] = []
    answers: dict[str, str] = {}
    while (step := next_step(q, answers)) is not None:
        seen.append((step.id, *progress(q, answers)))
        default = "oui" if step.kind == "statement" else step.options[0].id
        answers = answer(q, answers, step.id, values.get(step.id, default))
    assert progress(q, answers) == (len(seen), len(seen))
    return seen


def test_branching_skips_the_statements_about_a_place_that_does_not_exist(q: Questionnaire) -> None:
    seen = walk(q, {"gl-lieu": "non"})
    asked = [step for step, _, _ in seen]
    assert "gl-neutre" not in asked and "gl-anime" not in asked
    assert [position for _, position, _ in seen] == list(range(1, len(seen) + 1))
    totals = [total for _, _, total in seen]
    lieu = asked.index("gl-lieu")
    assert set(totals[: lieu + 1]) == {22} and set(totals[lieu + 1 :]) == {20}
    assert len(seen) == 20
    answers = fill(q, given={"gl-lieu": "non"})
    assert len(steps(q, answers)) == 20
    # Skipped statements with `if_skipped: non` count as « Non »: no place means the métier is missing.
    gestion = score(q, answers).result("gestion-lieu")
    assert (gestion.answered, gestion.score, gestion.status) == (5, 40, "fragile")
    assert score(q, fill(q, {"gestion-lieu": "non"})).result("gestion-lieu").answered == 5


def test_two_branchings_and_no_branching_on_dont_know(q: Questionnaire) -> None:
    assert len(walk(q, {"gl-lieu": "non", "ec-projet-commun": "non"})) == 18
    assert len(walk(q, {"gl-lieu": "nsp", "ec-projet-commun": "partie"})) == 22


def test_answers_to_skipped_steps_are_ignored(q: Questionnaire) -> None:
    answers = {**fill(q, {"gestion-lieu": "non"}), "gl-neutre": "oui", "gl-anime": "oui"}
    assert score(q, answers).result("gestion-lieu").score == 0
    assert next_step(q, answers) is None


def test_previous_takes_the_last_answer_back(q: Questionnaire) -> None:
    assert previous(q, {}) is None
    assert go_back(q, {}) == {}
    answers = fill(q)
    assert previous(q, answers) == "gl-equipements"
    answers = {"territoire": "rural", "structure": "fondation", "dt-rencontres": "partie"}
    assert previous(q, answers) == "dt-rencontres"
    back = go_back(q, answers)
    assert back == {"territoire": "rural", "structure": "fondation"}
    step = next_step(q, back)
    assert step is not None and step.id == "dt-rencontres"
    assert progress(q, back) == (3, 22)
    # Going back over a branching question brings its skipped statements back.
    answers = fill(q, given={"gl-lieu": "non"})
    for expected in ("gl-equipements", "gl-reunions", "gl-lieu"):
        assert previous(q, answers) == expected
        answers = go_back(q, answers)
    assert len(steps(q, answers)) == 22
    answers = answer(q, answers, "gl-lieu", "oui")
    step = next_step(q, answers)
    assert step is not None and step.id == "gl-neutre"


def test_answer_rejects_unknown_steps_options_and_skipped_steps(q: Questionnaire) -> None:
    with pytest.raises(AnswerError, match="unknown option 'peut-etre'"):
        answer(q, {}, "dt-rencontres", "peut-etre")
    with pytest.raises(AnswerError, match="unknown option 'oui'"):
        answer(q, {}, "structure", "oui")
    with pytest.raises(AnswerError, match="not a question"):
        answer(q, {}, "dt-inconnu", "oui")
    with pytest.raises(AnswerError, match="skipped"):
        answer(q, {"gl-lieu": "non"}, "gl-neutre", "oui")


def test_steps_carry_what_an_adapter_needs(q: Questionnaire) -> None:
    first = steps(q, {})
    assert first[0].kind == "context" and first[0].metier is None
    statement = first[2]
    assert statement.kind == "statement" and statement.metier == "dialogue-territorial"
    assert statement.metier_label == "Dialogue territorial"
    assert [c.label for c in statement.options] == ["Oui", "En partie", "Non", "Je ne sais pas"]
    assert statement.help


# --- a broken questionnaire file -------------------------------------------------------------------------

ROLES = {"dialogue-territorial": "Dialogue territorial", "gestion-lieu": "Gestion d'un lieu"}
MINI = """\
version: 1
title: "Test"
intro: "Un questionnaire de test."
sources:
  - https://associations.gouv.fr/les-catalyseurs-territoriaux-11363.html
answers:
  - id: oui
    label: Oui
    weight: 1
  - id: partie
    label: En partie
    weight: 0.5
  - id: non
    label: Non
    weight: 0
  - id: nsp
    label: Je ne sais pas
    weight: null
thresholds:
  present: 70
  fragile: 40
  min_answered: 2
context:
  - id: structure
    text: "Votre structure ?"
    options:
      - id: association
        label: Une association
        tags: [association]
      - id: autre
        label: Autre
metiers:
  - id: dialogue-territorial
    meaning_missing: "Manque."
    meaning_fragile: "Fragile."
    check_with: "la mairie"
    statements:
      - id: dt-a
        text: "A."
      - id: dt-b
        text: "B."
        weight: 2
      - id: dt-c
        text: "C."
      - id: dt-d
        text: "D."
  - id: gestion-lieu
    meaning_missing: "Pas de lieu."
    meaning_fragile: "Un lieu peu ouvert."
    check_with: "le tiers-lieu"
    statements:
      - id: gl-lieu
        text: "Un lieu existe."
      - id: gl-neutre
        text: "Il est neutre."
        skip_if: {gl-lieu: [non]}
        if_skipped: non
      - id: gl-anime
        text: "Il est animé."
        skip_if: {gl-lieu: [non]}
      - id: gl-d
        text: "E."
"""
EXTRA = "".join(f'      - id: dt-{x}\n        text: "{x.upper()}."\n' for x in "efg")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "diagnostic.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, marker: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), start=1) if marker in line)


def test_the_small_questionnaire_is_valid_and_scores_weights_and_skips(tmp_path: Path) -> None:
    q = load_questionnaire(write(tmp_path, MINI), ROLES)
    assert check_questionnaire(q.path, ROLES) == []
    assert q.metier("dialogue-territorial").statements[1].weight == 2
    # Statement weights: (1·1 + 2·0 + 1·1 + 1·1) / 5 = 60.
    answers = {"structure": "autre", "dt-a": "oui", "dt-b": "non", "dt-c": "oui", "dt-d": "oui"}
    assert score(q, answers).result("dialogue-territorial").score == 60
    # gl-neutre is skipped and counts as « Non » (if_skipped); gl-anime is skipped and does not count.
    gestion = score(q, {**answers, "gl-lieu": "non", "gl-d": "oui"}).result("gestion-lieu")
    assert (gestion.answered, gestion.score, gestion.status) == (3, 33, "missing")


CASES = [
    # (what is wrong, text replaced, replacement, marker of the expected line, expected message)
    ("broken YAML", "    label: Oui\n", "    label: Oui: yes\n", "label: Oui: yes", "not valid YAML"),
    ("missing field", '    meaning_fragile: "Un lieu peu ouvert."\n', "", "- id: gestion-lieu",
     "metiers[gestion-lieu].meaning_fragile: missing field"),
    ("unknown métier", "- id: gestion-lieu", "- id: gestion-lieux", "gestion-lieux",
     "metiers[gestion-lieux].id: unknown métier 'gestion-lieux'"),
    ("its part missing", "- id: gestion-lieu", "- id: gestion-lieux", "metiers:",
     "metiers: missing métier 'gestion-lieu'"),
    ("duplicate statement id", "- id: dt-c", "- id: dt-a  # copie", "dt-a  # copie", "duplicate id 'dt-a'"),
    ("duplicate across context", "- id: dt-c", "- id: structure", 'id: structure\n        text: "C."',
     "duplicate id 'structure' (also at line 24)"),
    ("unknown answer in skip_if", "skip_if: {gl-lieu: [non]}\n        if_skipped",
     "skip_if: {gl-lieu: [peut-etre]}\n        if_skipped", "peut-etre",
     "metiers[gestion-lieu].statements[gl-neutre].skip_if: unknown answer id 'peut-etre' for 'gl-lieu'"),
    ("unknown question in skip_if", "skip_if: {gl-lieu: [non]}\n      - id: gl-d",
     "skip_if: {gl-lieux: [non]}\n      - id: gl-d", "gl-lieux", "unknown question 'gl-lieux'"),
    ("skip_if on a later question", "skip_if: {gl-lieu: [non]}\n        if_skipped",
     "skip_if: {gl-d: [non]}\n        if_skipped", "gl-d: [non]", "unknown question 'gl-d'"),
    ("unknown answer in if_skipped", "if_skipped: non", "if_skipped: jamais", "jamais",
     "if_skipped: unknown answer id 'jamais'"),
    ("statement weight not a number", "        weight: 2", "        weight: lourd", "weight: lourd",
     "statements[dt-b].weight: must be a number above 0, got 'lourd'"),
    ("answer weight not a number", "    weight: 0.5", '    weight: "moitié"', "moitié",
     "answers[partie].weight: must be a number from 0 to 1 or null"),
    ("answer weight a boolean", "    weight: 1\n", "    weight: yes\n", "weight: yes", "answers[oui].weight"),
    ("thresholds out of order", "  fragile: 40", "  fragile: 80", "fragile: 80",
     "thresholds: out of order: fragile (80) must be lower than present (70)"),
    ("threshold above 100", "  present: 70", "  present: 170", "present: 170", "thresholds.present"),
    ("too few statements", '      - id: dt-d\n        text: "D."\n', "", "    statements:",
     "metiers[dialogue-territorial].statements: 3 statements, expected from 4 to 6"),
    ("too many statements", '        text: "D."\n', '        text: "D."\n' + EXTRA, "    statements:",
     "metiers[dialogue-territorial].statements: 7 statements, expected from 4 to 6"),
    ("unknown field", '        text: "C."', '        txet: "C."', 'txet: "C."',
     "statements[dt-c].txet: unknown field"),
    ("duplicate field", 'title: "Test"\n', 'title: "Test"\ntitle: "Encore"\n', "Encore",
     "title: duplicate field (first at line 2)"),
    ("empty text", 'check_with: "la mairie"', 'check_with: ""', 'check_with: ""',
     "metiers[dialogue-territorial].check_with: must be a non-empty text"),
    ("bad id", "- id: dt-b", "- id: DT B", "DT B", "must be lowercase letters"),
    ("missing top field", "version: 1\n", "", "title:", "version: missing field"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_broken_questionnaire_names_the_file_line_and_field(
    tmp_path: Path, old: str, new: str, marker: str, message: str
) -> None:
    assert old in MINI
    text = MINI.replace(old, new, 1)
    path = write(tmp_path, text)
    problems = check_questionnaire(path, ROLES)
    expected_line = line_of(text, marker.split("\n")[0])
    if "\n" in marker:  # two lines: the line of the first part that is followed by the second
        lines = text.splitlines()
        first, second = marker.split("\n")
        expected_line = next(n for n in range(1, len(lines)) if first in lines[n - 1] and second in lines[n])
    assert any(str(p).startswith(f"{path}:{expected_line}: ") and message in str(p) for p in problems), (
        "\n".join(map(str, problems))
    )
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(path, ROLES)
    assert caught.value.problems == problems


def test_an_empty_or_unreadable_questionnaire(tmp_path: Path) -> None:
    assert [str(p) for p in check_questionnaire(write(tmp_path, ""), ROLES)] == [
        f"{tmp_path / 'diagnostic.yaml'}:1: the file is empty"
    ]
    missing = tmp_path / "absent.yaml"
    assert check_questionnaire(missing, ROLES)[0].message.startswith("cannot read the file")
    problems = check_questionnaire(write(tmp_path, "- a\n- b\n"), ROLES)
    assert problems == [
        Problem(tmp_path / "diagnostic.yaml", 1, "file: expected a mapping of fields (name: value)")
    ]


# --- recommendations ---------------------------------------------------------------------------------------


def test_every_missing_or_fragile_metier_gets_resources_about_it(
    q: Questionnaire, chunks: list[Chunk]
) -> None:
    roles = {c.resource_id: c.roles for c in chunks}
    for answers in (fill(q, default="non"), fill(q, default="partie")):
        diagnosis = score(q, answers)
        found = recommend(diagnosis, chunks)
        assert list(found) == [m.id for m in diagnosis.metiers]
        for metier, recommendations in found.items():
            assert 2 <= len(recommendations) <= 3
            assert all(metier in roles[r.resource_id] for r in recommendations)
            assert len({r.resource_id for r in recommendations}) == len(recommendations)
            assert recommendations[0].resource_id == f"metier-{metier}"  # the métier's own fiche first
            assert all(r.url.startswith("http") and r.title for r in recommendations)
        assert recommend(diagnosis, chunks) == found  # deterministic


def test_no_two_recommendations_of_a_diagnosis_link_the_same_page(
    q: Questionnaire, chunks: list[Chunk]
) -> None:
    for answers in (fill(q, default="non"), fill(q, default="partie")):
        links = [r.url for found in recommend(score(q, answers), chunks).values() for r in found]
        assert len(links) >= 8
        assert len(set(links)) == len(links), links


def test_a_resource_whose_pages_are_all_shown_already_is_left_out(q: Questionnaire) -> None:
    diagnosis = score(q, fill(q, {"gestion-lieu": "non"}))
    page = "https://associations.gouv.fr/les-catalyseurs-territoriaux-11363.html"
    same = [
        Chunk(f"r{n}#0", f"r{n}", f"R {n}", "", "Un lieu.", page, "fiche", ("gestion-lieu",), (), (page,))
        for n in range(3)
    ]
    found = recommend(diagnosis, same)["gestion-lieu"]
    assert [r.url for r in found] == [page]


def test_present_and_to_check_metiers_get_no_resources(q: Questionnaire, chunks: list[Chunk]) -> None:
    diagnosis = score(q, fill(q, {"gestion-lieu": "non", "accompagnements": "nsp"}))
    found = recommend(diagnosis, chunks, per_metier=2)
    assert list(found) == ["gestion-lieu"]
    assert len(found["gestion-lieu"]) == 2
    assert list(recommend(diagnosis, chunks, statuses=("to_check",))) == ["accompagnements"]


def test_the_users_context_moves_resources_that_mention_it_up(q: Questionnaire, chunks: list[Chunk]) -> None:
    diagnosis = score(q, fill(q, {"dialogue-territorial": "non"}, context={"structure": "autre"}))
    plain = [r.resource_id for r in recommend(diagnosis, chunks, [])["dialogue-territorial"]]
    mayor = [r.resource_id for r in recommend(diagnosis, chunks, ["maire", "élus"])["dialogue-territorial"]]
    assert "faq-09-convaincre-maire" in mayor and "faq-09-convaincre-maire" not in plain
    with_context = score(q, fill(q, {"dialogue-territorial": "non"}, context={"structure": "collectivite"}))
    found = recommend(with_context, chunks)["dialogue-territorial"]
    assert "faq-09-convaincre-maire" in [r.resource_id for r in found]


def test_a_searcher_can_add_its_lexical_ranking(q: Questionnaire, chunks: list[Chunk]) -> None:
    index = SimpleNamespace(chunks=chunks, lexical=LexicalIndex([c.lexical_text for c in chunks]))
    searcher = cast(Any, SimpleNamespace(index=index))
    diagnosis = score(q, fill(q, {"experimentations-collectives": "non"}))
    found = recommend(diagnosis, chunks, searcher=searcher)["experimentations-collectives"]
    assert found[0] == Recommendation(
        "metier-experimentations-collectives",
        next(c.title for c in chunks if c.resource_id == "metier-experimentations-collectives"),
        next(c.url for c in chunks if c.resource_id == "metier-experimentations-collectives"),
    )
    assert len(found) == 3


# --- chart -------------------------------------------------------------------------------------------------


def test_the_chart_is_a_phone_sized_png(q: Questionnaire) -> None:
    image = pytest.importorskip("matplotlib.image")
    from bot.diagnosis.chart import radar_png

    answers = fill(q, {"dialogue-territorial": "oui", "experimentations-collectives": "partie"})
    answers.update({s: "non" for s in ("ac-porteurs", "ac-formation", "ac-partenariats", "ac-essaimage")})
    answers.update({s.id: "nsp" for s in q.metier("gestion-lieu").statements})
    diagnosis = score(q, answers)
    assert {m.status for m in diagnosis.metiers} == {"missing", "fragile", "to_check", "present"}
    radar_png(diagnosis, q.labels(), "Les quatre métiers")  # the first call imports matplotlib
    started = time.perf_counter()
    png = radar_png(diagnosis, q.labels(), "Les quatre métiers dans votre territoire")
    elapsed = time.perf_counter() - started
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) < 300_000
    pixels = image.imread(io.BytesIO(png), format="png")
    assert pixels.shape[0] >= 600 and pixels.shape[1] >= 600
    assert elapsed < 5  # about 0.1 s on an idle machine; generous for a busy one


# --- terminal and answers files ----------------------------------------------------------------------------


def scripted(lines: list[str]) -> tuple[Any, list[str]]:
    shown: list[str] = []
    pending = list(lines)

    def read(prompt: str) -> str:
        shown.append(prompt)
        if not pending:
            raise EOFError
        return pending.pop(0)

    return read, shown


def test_the_terminal_asks_everything_with_progress_and_previous(q: Questionnaire) -> None:
    # p at the start: nothing to take back; 9 is not an option; p takes « Rural » back; then « Urbain ».
    read, shown = scripted(["p", "1", "9", "p", "3", "collectivite", *(["1"] * 3), "oui", *(["3"] * 12)])
    diagnosis = run_terminal(q, read, shown.append)
    text = "\n".join(shown)
    assert "Question 1/22 · Votre contexte" in text and "Question 18/18 · Gestion d'un lieu" in text
    assert "C'est la première question" in text and "Réponse non valide" in text
    assert "p. ← Précédent" in text
    assert diagnosis.complete
    assert diagnosis.context == {"territoire": "urbain", "structure": "collectivite"}
    assert [m.status for m in diagnosis.metiers] == ["missing", "missing", "missing", "present"]


def test_the_terminal_stops_on_quit_or_end_of_input(q: Questionnaire) -> None:
    read, shown = scripted(["1", "2", "q"])
    diagnosis = run_terminal(q, read, shown.append)
    assert not diagnosis.complete and diagnosis.context == {"territoire": "rural", "structure": "association"}
    read, shown = scripted(["1"])
    assert run_terminal(q, read, shown.append).context == {"territoire": "rural"}


def test_the_result_text_lists_meaning_unknowns_and_resources(q: Questionnaire, chunks: list[Chunk]) -> None:
    diagnosis = score(q, fill(q, {"gestion-lieu": "non"}, given={"dt-diagnostic": "nsp"}))
    text = format_result(diagnosis, recommend(diagnosis, chunks))
    assert text.startswith("Résultat de l'autodiagnostic")
    assert "Gestion d'un lieu : 0/100 — Manquant" in text
    assert q.metier("gestion-lieu").meaning_missing in text
    assert f"À vérifier auprès de {q.metier('dialogue-territorial').check_with} :" in text
    assert "metier-gestion-lieu" not in text and "https://" in text


def test_diagnose_file_gives_scores_statuses_unknowns_and_resources(
    q: Questionnaire, chunks: list[Chunk], tmp_path: Path
) -> None:
    path = tmp_path / "answers.yaml"
    lines = [f"{step_id}: {value}" for step_id, value in fill(q, {"accompagnements": "non"}).items()]
    path.write_text(
        "\n".join(lines).replace("dt-diagnostic: oui", "dt-diagnostic: nsp") + "\n", encoding="utf-8"
    )
    result = diagnose_file(q, path, chunks)
    assert result["complete"] is True
    assert result["context"]["structure"] == {"id": "association", "label": "Une association"}
    first = result["metiers"][0]
    assert (first["id"], first["score"], first["status"]) == ("accompagnements", 0, "missing")
    assert 2 <= len(first["recommendations"]) <= 3
    assert set(first["recommendations"][0]) == {"id", "title", "url"}
    dialogue = next(m for m in result["metiers"] if m["id"] == "dialogue-territorial")
    assert dialogue["status"] == "present" and len(dialogue["unknown"]) == 1
    assert dialogue["recommendations"] == []
    assert diagnose_file(q, path)["metiers"][0]["recommendations"] == []
    assert to_json(score(q, {}), {})["complete"] is False


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("territoire: rural\ndt-inconnu: oui\n", 2, "dt-inconnu: unknown question id"),
        ("territoire: rural\n\ndt-rencontres: peut-etre\n", 3, "dt-rencontres: unknown option 'peut-etre'"),
        ("structure: oui\n", 1, "structure: unknown option 'oui' (known: collectivite,"),
        ("dt-rencontres: yes\n", 1, "dt-rencontres: unknown option True"),
        ("dt-rencontres: oui\ndt-rencontres: non\n", 2, "dt-rencontres: answered twice"),
        ("dt-rencontres: oui\n  gl-lieu: [\n", 2, "not valid YAML"),
        ("- dt-rencontres\n", 1, "expected a mapping of answers"),
    ],
)
def test_a_bad_answers_file_names_the_id_and_line(
    q: Questionnaire, tmp_path: Path, text: str, line: int, message: str
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AnswersError) as caught:
        load_answers(q, path)
    assert any(str(p).startswith(f"{path}:{line}: ") and message in str(p) for p in caught.value.problems), (
        str(caught.value)
    )


def test_partial_answers_and_answers_to_skipped_steps_are_accepted(q: Questionnaire, tmp_path: Path) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("gl-lieu: non\ngl-neutre: oui\n", encoding="utf-8")
    assert load_answers(q, path) == {"gl-lieu": "non", "gl-neutre": "oui"}
    result = diagnose_file(q, path)
    assert result["complete"] is False


def test_a_diagnosis_is_plain_data(q: Questionnaire) -> None:
    diagnosis = score(q, fill(q))
    assert isinstance(diagnosis, Diagnosis)
    assert diagnosis.thresholds == q.thresholds
