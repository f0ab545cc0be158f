"""The CLI commands of the later issues: `catabot diagnose`, `catabot events import`, `catabot db upgrade`."""

from __future__ import annotations

import asyncio
import datetime as dt
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


def test_events_import_that_moves_or_cancels_an_event_tells_its_subscribers(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.storage.database import open_database

    def write(start: str, status: str = "scheduled") -> Path:
        path = tmp_path / "agenda.yaml"
        path.write_text(
            f"events:\n  - uid: atelier-2099\n    title: Atelier\n    start: {start}\n    status: {status}\n",
            encoding="utf-8",
        )
        return path

    async def subscribe() -> int:
        async with await open_database(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path) as db:
            event = await db.storage.events.get_event_by_uid("atelier-2099")
            assert event is not None
            await db.storage.events.toggle_reminder(7, event.id)
            return event.id

    async def changes(event_id: int) -> dict[str, int]:
        async with await open_database(f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}", tmp_path) as db:
            return {
                str(k): v for k, v in (await db.storage.outbox.counts("event_change", event_id)).items() if v
            }

    assert main(["--config", str(config_file), "events", "import", str(write("2099-03-01 10:00"))]) == 0
    event_id = asyncio.run(subscribe())
    assert asyncio.run(changes(event_id)) == {}
    assert main(["--config", str(config_file), "events", "import", str(write("2099-03-02 10:00"))]) == 0
    assert "1 updated" in capsys.readouterr().out
    assert asyncio.run(changes(event_id)) == {"pending": 1}  # the subscriber is told of the new time
    cancel = write("2099-03-02 10:00", "cancelled")
    assert main(["--config", str(config_file), "events", "import", str(cancel)]) == 0
    assert "1 cancelled" in capsys.readouterr().out
    assert asyncio.run(changes(event_id)) == {"pending": 2}


def test_db_upgrade_reports_the_schema_is_current(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", str(config_file), "db", "upgrade"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_eval_refuses_a_missing_or_empty_file_in_one_line(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "absent.jsonl"
    assert main(["--config", str(config_file), "eval", str(missing)]) == 1
    expected = f"catabot: {missing}: cannot read the file (No such file or directory)\n"
    assert capsys.readouterr().err == expected
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(["--config", str(config_file), "eval", str(empty)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"catabot: {empty}: no questions in the file\n" and "hit@1" not in captured.out


def test_events_import_says_how_far_each_recurring_event_was_imported(
    tmp_path: Path, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = dt.date.today() + dt.timedelta(days=60)
    weekly = first + dt.timedelta(days=1)
    path = tmp_path / "recurring.ics"
    path.write_text(
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//t//EN\n"
        f"BEGIN:VEVENT\nUID:annuelle\nDTSTART;VALUE=DATE:{first:%Y%m%d}\nRRULE:FREQ=YEARLY;COUNT=3\n"
        "SUMMARY:Rencontre annuelle\nEND:VEVENT\n"
        f"BEGIN:VEVENT\nUID:cafe\nDTSTART:{weekly:%Y%m%d}T100000\nDTEND:{weekly:%Y%m%d}T120000\n"
        "RRULE:FREQ=WEEKLY;COUNT=2\n"
        "SUMMARY:Café\nEND:VEVENT\nEND:VCALENDAR\n",
        encoding="utf-8",
    )
    assert main(["--config", str(config_file), "events", "import", str(path)]) == 0
    out = capsys.readouterr().out
    next_year = first.replace(year=first.year + 1)
    assert (
        f"« Rencontre annuelle » (annuelle): 1 occurrence imported, up to {first:%Y-%m-%d}; later ones "
        f"(next on {next_year:%Y-%m-%d}) are imported by running this import again"
    ) in out
    last_cafe = weekly + dt.timedelta(days=7)
    assert f"« Café » (cafe): 2 occurrences imported, up to {last_cafe:%Y-%m-%d}.\n" in out
