"""The CLI commands of the later issues: `catabot diagnose`, `catabot events import`, `catabot db upgrade`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.diagnosis.engine import all_steps
from bot.diagnosis.questionnaire import open_questionnaire
from tests.conftest import KNOWLEDGE, write_config


@pytest.fixture
def config_file(tmp_path: Path, knowledge_copy: Path) -> Path:
    path = write_config(tmp_path)
    with path.open("a", encoding="utf-8") as out:
        out.write(f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'cli.db'}\n")
    return path


def test_diagnose_scores_a_file_of_answers_as_json(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questionnaire = open_questionnaire(KNOWLEDGE)
    answers = {}
    for step in all_steps(questionnaire):
        ids = [c.id for c in step.options]
        answers[step.id] = "non" if step.metier == "gestion-lieu" else ("oui" if "oui" in ids else ids[0])
    path = tmp_path / "answers.yaml"
    path.write_text("\n".join(f"{k}: {v}" for k, v in answers.items()) + "\n", encoding="utf-8")
    assert main(["--config", str(config_file), "diagnose", "--answers", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    statuses = {m["id"]: m["status"] for m in result["metiers"]}
    assert statuses == {
        "gestion-lieu": "missing", "dialogue-territorial": "present",
        "experimentations-collectives": "present", "accompagnements": "present",
    }  # fmt: skip
    lieu = next(m for m in result["metiers"] if m["id"] == "gestion-lieu")
    assert 2 <= len(lieu["recommendations"]) <= 3


def test_diagnose_rejects_a_bad_answers_file_with_its_line(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "answers.yaml"
    path.write_text("territoire: rural\nquestion-inconnue: oui\n", encoding="utf-8")
    assert main(["--config", str(config_file), "diagnose", "--answers", str(path)]) == 1
    assert f"{path}:2: question-inconnue" in capsys.readouterr().err


def test_events_import_is_idempotent_and_names_bad_entries(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = KNOWLEDGE / "events.yaml"
    assert main(["--config", str(config_file), "events", "import", str(example)]) == 0
    assert "5 created" in capsys.readouterr().out
    assert main(["--config", str(config_file), "events", "import", str(example)]) == 0
    assert "0 created, 0 updated, 5 unchanged" in capsys.readouterr().out
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "events:\n  - uid: a\n    title: Atelier\n    start: 31/02/2027 10:00\n", encoding="utf-8"
    )
    assert main(["--config", str(config_file), "events", "import", str(broken)]) == 1
    out = capsys.readouterr().out
    assert f"{broken}:4: events[1] (uid a): start: not a date" in out


def test_db_upgrade_reports_the_schema_is_current(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config_file), "db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out
