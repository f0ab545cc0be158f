"""`catabot ask` with the fast fake embedder: the output contracts and the polite refusals."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.app import open_searcher
from bot.cli import main
from bot.config import Config
from bot.messages import text
from bot.retrieval.chunker import Chunk
from bot.retrieval.citation import shown_sources
from tests.conftest import write_config


@pytest.fixture
def config_file(tmp_path: Path, knowledge_copy: Path) -> Path:
    return write_config(tmp_path)


def _run(config_file: Path, args: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(config_file), "ask", *args])


def test_json_batch_prints_one_object_per_question_and_nothing_else(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = [
        "Quelle différence entre un partenariat et une alliance ?",
        "",
        "Qu'est-ce qu'un tiers-lieu ?",
    ]
    assert _run(config_file, ["--json", "--top", "4"], "\n".join(questions) + "\n", monkeypatch) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3  # one line per input line: the blank one says why it has no results
    records = [json.loads(line) for line in lines]
    assert records[1] == {"question": "", "answered": False, "results": [], "error": "question_empty"}
    records = [records[0], records[2]]
    assert [r["question"] for r in records] == [questions[0], questions[2]]
    for record in records:
        assert set(record) == {"question", "answered", "results"}
        assert isinstance(record["answered"], bool)
        assert 1 <= len(record["results"]) <= 4
        assert len({r["id"] for r in record["results"]}) == len(record["results"])
        scores = [r["score"] for r in record["results"]]
        assert scores == sorted(scores, reverse=True)
        for result in record["results"]:
            assert set(result) == {"id", "title", "url", "sources", "text", "score"}
            # The first link shown: the source whose site the passage names, else the section's first.
            assert result["sources"] and result["url"] == shown_sources(result["sources"], result["text"])[0]
            assert result["url"].startswith("http") and result["text"]
    assert "Rebuilding the index" in captured.err


def test_human_answer_cites_title_and_link(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        _run(config_file, ["Quelle différence entre un partenariat et une alliance ?"], "", monkeypatch) == 0
    )
    out = capsys.readouterr().out
    assert "côte à côte" in out or "face à face" in out
    assert "Source : " in out and "https://" in out


def test_too_long_question_gets_a_polite_message_and_the_batch_goes_on(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stdin = "catalyse " * 500 + "\nQuels sont les quatre métiers ?\n"
    assert _run(config_file, ["--json"], stdin, monkeypatch) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first["error"] == "question_too_long" and first["results"] == []
    assert second["results"]
    assert _run(config_file, ["catalyse " * 500], "", monkeypatch) == 1
    assert text("question_too_long", limit=1000) in capsys.readouterr().out


def test_unanswerable_question_says_so_and_offers_leads(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(config_file, ["qsdfqsdf"], "", monkeypatch) == 0
    out = capsys.readouterr().out
    assert out.startswith(text("ask_no_answer"))
    assert text("ask_no_answer_more") in out


def test_long_passages_are_cut_to_the_sentences_that_answer(fake_config: Config) -> None:
    searcher = open_searcher(fake_config, say=lambda _: None)
    filler = " ".join(f"Phrase de remplissage numéro {n} sans rapport." for n in range(40))
    chunk = Chunk(
        "x#0",
        "x",
        "Titre",
        "",
        f"{filler} Le compagnonnage évite la solitude du catalyseur. {filler}",
        "https://example.org",
        "fiche",
        (),
        (),
    )
    passage = searcher.excerpt(chunk, ["compagnonnag", "solitud"])
    assert "Le compagnonnage évite la solitude du catalyseur." in passage
    assert len(passage) <= fake_config.retrieval.max_passage_chars


def test_missing_model_is_one_clear_line(
    tmp_path: Path, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, model=str(tmp_path / "no-such-model"))
    assert main(["--config", str(config), "ask", "bonjour"]) == 1
    err = capsys.readouterr().err
    assert "catabot model install" in err and "Traceback" not in err
