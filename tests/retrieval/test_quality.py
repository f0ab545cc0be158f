"""Answer quality with the real model, on the development set: the thresholds of the retrieval issue."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bot.app import open_searcher
from bot.config import load_config
from bot.retrieval.evaluate import Metrics, evaluate, load_cases
from bot.retrieval.search import QuestionError, Searcher
from tests.conftest import ROOT

pytestmark = [pytest.mark.model, pytest.mark.slow]


@pytest.fixture(scope="module")
def searcher() -> Searcher:
    return open_searcher(load_config(ROOT / "config.yaml", env={}), say=lambda _: None)


@pytest.fixture(scope="module")
def dev_metrics(searcher: Searcher) -> dict[str, Metrics]:
    return evaluate(searcher, load_cases(ROOT / "eval" / "dev.jsonl"))


def test_dev_set_thresholds(searcher: Searcher) -> None:
    # The questions dev.jsonl held before issue 10 added harder kinds (English, typos, preambles, in-field).
    original = [c for c in load_cases(ROOT / "eval" / "dev.jsonl") if c.id[0] in "dx" and int(c.id[1:]) <= 28]
    hybrid = evaluate(searcher, original, ("hybrid",))["hybrid"]
    assert hybrid.hit_at_3 >= 0.90
    assert hybrid.mrr_at_10 >= 0.80
    assert hybrid.answered >= 0.95
    assert hybrid.abstention >= 0.90


def test_hybrid_is_at_least_as_good_as_each_retriever(dev_metrics: dict[str, Metrics]) -> None:
    hybrid = dev_metrics["hybrid"]
    for alone in (dev_metrics["lexical"], dev_metrics["dense"]):
        assert hybrid.hit_at_3 >= alone.hit_at_3
        assert hybrid.mrr_at_10 >= alone.mrr_at_10


def test_held_out_wordings_and_near_domain_questions(searcher: Searcher) -> None:
    metrics = evaluate(searcher, load_cases(ROOT / "eval" / "calibration.jsonl"), ("hybrid",))["hybrid"]
    assert metrics.hit_at_3 >= 0.90 and metrics.abstention >= 0.90 and metrics.answered >= 0.90


def test_out_of_domain_gets_no_answer_but_leads(searcher: Searcher) -> None:
    answer = searcher.search("Comment faire une pâte à crêpes ?")
    assert not answer.answered
    assert answer.hits  # the closest leads are still offered


def test_answer_cites_its_source(searcher: Searcher) -> None:
    answer = searcher.search("Quelle différence entre un partenariat et une alliance ?")
    assert answer.answered and answer.best is not None
    assert "côte à côte" in answer.best.passage
    assert answer.best.chunk.url.startswith("https://")


def _catabot(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(ROOT / "config.yaml"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        check=False,
    )


def test_ask_command_end_to_end() -> None:
    human = _catabot("ask", "Combien de catalyseurs dans le réseau ?")
    assert human.returncode == 0, human.stderr
    assert "350" in human.stdout and "Source : " in human.stdout
    batch = _catabot("ask", "--json", "--top", "2", stdin="Qui est Le RAMEAU ?\nComment dresser un chiot ?\n")
    assert batch.returncode == 0, batch.stderr
    first, second = (json.loads(line) for line in batch.stdout.splitlines())
    assert first["answered"] is True and len(first["results"]) == 2
    assert second["answered"] is False


def test_eval_command_prints_the_three_retrievers() -> None:
    result = _catabot("eval", str(ROOT / "eval" / "dev.jsonl"), "--json")
    assert result.returncode == 0, result.stderr
    table = json.loads(result.stdout)
    assert set(table) == {"hybrid", "lexical", "dense"}
    assert set(table["hybrid"]) >= {"hit_at_1", "hit_at_3", "mrr_at_10", "answered", "abstention"}


@pytest.mark.parametrize(
    "question",
    [
        "Quel est le salaire d'un catalyseur territorial ?",
        "Comment trouver des bénévoles pour mon association ?",
    ],
)
def test_in_field_questions_the_knowledge_cannot_answer_are_refused_but_kept(
    searcher: Searcher, question: str
) -> None:
    answer = searcher.search(question)
    assert not answer.answered and answer.in_field


def test_far_from_the_field_is_off_topic(searcher: Searcher) -> None:
    answer = searcher.search("Quel temps fera-t-il demain à Brest ?")
    assert not answer.answered and not answer.in_field


@pytest.mark.parametrize(
    "question", ["Where can I watch the webinar replays?", "What is the Partnerships Observatory?"]
)
def test_english_questions_are_answered_from_french_passages(searcher: Searcher, question: str) -> None:
    answer = searcher.search(question)
    assert answer.answered and answer.language == "en"


def test_a_follow_up_is_read_with_the_previous_question(searcher: Searcher) -> None:
    answer = searcher.search(
        "et pour les accompagnements ?", previous="Quelles sont les missions du dialogue territorial ?"
    )
    assert answer.context and answer.best is not None
    assert "incubation" in answer.best.passage
    alone = searcher.search(
        "Qu'est-ce que l'ODD 17 ?", previous="Quelles sont les missions du dialogue territorial ?"
    )
    assert alone.context == ""


def test_passage_metrics_on_the_dev_set(dev_metrics: dict[str, Metrics]) -> None:
    hybrid = dev_metrics["hybrid"]
    assert hybrid.answer_at_1 >= 0.80 and hybrid.source_at_1 >= 0.90
    assert hybrid.abstention_by_kind["off-topic"] >= 0.95


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Et pour les accompagnements, ça consiste en quoi concrètement ?", "incubation"),
        ("La gestion d'un lieu, ça consiste en quoi concrètement ?", "fab lab"),
        ("Quels catalyseurs le Fonds ODD 17 cite-t-il en exemple ?", "Ronalpia"),
        ("Vous avez des exemples concrets de territoires où ça marche ?", "Mureaux"),
        ("un exemple concret d'alliance réussie", "Charenton"),
    ],
)
def test_the_passage_shown_holds_what_the_question_asks(
    searcher: Searcher, question: str, expected: str
) -> None:
    answer = searcher.search(question)
    assert answer.answered and answer.best is not None
    assert expected.lower() in answer.best.passage.lower()


@pytest.mark.parametrize("message", ["²", "&<>", "!!!", "👍", "123456"])
def test_a_message_without_a_letter_is_not_a_question_whatever_came_before(
    searcher: Searcher, message: str
) -> None:
    for previous in ("", "Qu'est-ce que la catalyse territoriale ?"):
        with pytest.raises(QuestionError) as raised:
            searcher.search(message, previous=previous)
        assert raised.value.reason == "question_unclear"  # visible, so not « votre message est vide »
    with pytest.raises(QuestionError) as raised:
        searcher.search("\u200b \u2060")
    assert raised.value.reason == "question_empty"


@pytest.mark.parametrize("message", ["ok", "hmm ?", "d'accord"])
def test_a_message_without_content_is_read_alone_after_a_question(searcher: Searcher, message: str) -> None:
    after = searcher.search(message, previous="Qu'est-ce que la catalyse territoriale ?")
    alone = searcher.search(message)
    assert after.context == "" and after.answered == alone.answered
    assert [h.chunk.id for h in after.hits] == [h.chunk.id for h in alone.hits]


@pytest.mark.parametrize(
    "question",
    [
        "Comment devenir catalyseur ?",
        "Je voudrais devenir catalyseur territorial, par où commencer ?",
        "Comment adhérer au Réseau des catalyseurs territoriaux ?",
        "Comment débuter dans la catalyse territoriale ?",
    ],
)
def test_newcomer_questions_with_a_common_verb_are_answered(searcher: Searcher, question: str) -> None:
    # « devenir » is rare in the knowledge base: it must not weigh as the topic the base lacks.
    assert searcher.search(question).answered


def test_a_framing_verb_does_not_make_an_unknown_topic_answerable(searcher: Searcher) -> None:
    assert not searcher.search("Comment devenir bénévole dans une association ?").answered


def test_ask_json_gives_one_line_per_input_line_blank_ones_included() -> None:
    batch = _catabot("ask", "--json", stdin="Qui est Le RAMEAU ?\n\n   \n&<>\nComment dresser un chiot ?\n")
    assert batch.returncode == 0, batch.stderr
    records = [json.loads(line) for line in batch.stdout.splitlines()]
    errors = [r.get("error") for r in records]
    assert errors == [None, "question_empty", "question_empty", "question_unclear", None]
    assert records[0]["answered"] and records[0]["results"][0]["url"] in records[0]["results"][0]["sources"]


def test_the_link_shown_is_the_source_the_passage_names(searcher: Searcher) -> None:
    answer = searcher.search("Que recouvre le métier de gestion d'un lieu selon associations.gouv.fr ?")
    for hit in answer.hits:
        assert hit.url == hit.urls[0] and set(hit.urls) <= set(hit.chunk.sources)
        if "associations.gouv.fr" in hit.passage:
            assert "associations.gouv.fr" in hit.url
