"""`catabot diagnose` in a terminal survives any input: odd digits, huge numbers, random text, bad bytes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.cli import main
from bot.diagnosis.cli import parse_number, run_terminal
from bot.diagnosis.engine import Diagnosis
from bot.diagnosis.questionnaire import Questionnaire, open_questionnaire
from bot.messages import text
from tests.conftest import KNOWLEDGE, write_config

QUESTIONNAIRE = open_questionnaire(KNOWLEDGE)


def _run(q: Questionnaire, lines: list[str]) -> tuple[Diagnosis, list[str]]:
    pending = iter(lines)
    out: list[str] = []

    def read(prompt: str) -> str:
        out.append(prompt)
        try:
            return next(pending)
        except StopIteration:
            raise EOFError from None

    return run_terminal(q, read, out.append), out


@pytest.mark.parametrize("line", ["²", "٣", "①", "99999999999999999999999", "-1", "0", "1.5", " ", "\x00"])
def test_odd_digits_and_numbers_get_the_polite_line(line: str) -> None:
    diagnosis, out = _run(QUESTIONNAIRE, [line])
    assert text("diagnosis_invalid", count=6) in out
    assert not diagnosis.complete and diagnosis.context == {}


def test_a_line_that_is_not_utf8_is_just_invalid() -> None:
    calls: list[str] = []

    def read(prompt: str) -> str:
        calls.append(prompt)
        if len(calls) == 1:
            raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")
        raise EOFError

    run_terminal(QUESTIONNAIRE, read, lambda line: None)
    assert len(calls) == 2


def test_parse_number_takes_ascii_digits_only() -> None:
    assert [parse_number(s) for s in ("2", " 02 ", "²", "٣", "1e3", "9" * 7)] == [
        2,
        2,
        None,
        None,
        None,
        None,
    ]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(st.text(max_size=30), st.sampled_from(["1", "2", "p", "P", "q", "Oui", "7"])), max_size=40
    )
)
def test_any_lines_end_in_a_diagnosis(lines: list[str]) -> None:
    diagnosis, out = _run(QUESTIONNAIRE, lines)
    assert len(diagnosis.metiers) == 4
    assert all(isinstance(line, str) for line in out)


def test_the_command_survives_a_superscript_two(
    tmp_path: Path, knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path)
    monkeypatch.setattr("sys.stdin", io.StringIO("²\n"))
    assert main(["--config", str(config), "diagnose"]) == 0
    printed = capsys.readouterr().out
    # the end of the input stops it: said so, and no result (it used to score nothing and advise checking
    # « Je ne sais pas » answers never given)
    assert "Réponse non valide" in printed and text("diagnosis_stopped") in printed
    assert text("diagnosis_result") not in printed and "Je ne sais pas » answers" not in printed


@pytest.mark.parametrize("lines", ["1\n1\n", "1\nq\n", "q\n", ""])
def test_stopping_early_gives_no_result_and_no_advice(
    tmp_path: Path,
    knowledge_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lines: str,
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["--config", str(write_config(tmp_path)), "diagnose"]) == 0
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith(text("diagnosis_stopped"))
    assert text("diagnosis_result") not in printed and "auxquels vous avez répondu" not in printed


def test_in_english_the_questionnaire_is_announced_as_french(
    tmp_path: Path, knowledge_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("q\n"))
    assert main(["--config", str(write_config(tmp_path)), "diagnose", "--lang", "en"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(text("diagnosis_in_french", "en") + "\n" + QUESTIONNAIRE.title)
    assert "(The questionnaire is in French" in printed and text("diagnosis_stopped", "en") in printed
