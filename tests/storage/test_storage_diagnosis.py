"""Self-diagnosis storage on every backend: progress across restarts, results, stats, migration 0002."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.diagnosis.records import DiagnosticResult, DiagnosticStats, TerritoryStats
from bot.storage import Database, Storage, open_database
from bot.storage.database import current_revision, upgrade_engine
from bot.storage.engine import create_engine, transaction
from bot.storage.schema import feedback, invitations, metadata, questions, users
from tests.storage.test_storage import HEAD
from tests.storage_fixtures import T0, migrate, minutes, shared_columns, table_names, table_rows

ME, OTHER = 987_654_321, 123_456_789
DIAGNOSTIC_TABLES = {"diagnostic_sessions", "diagnostic_results"}
TABLES_0001 = [users, invitations, questions, feedback]


async def result(
    storage: Storage,
    user_id: int | None,
    *,
    at: int,
    territory: str | None = "rural",
    statuses: dict[str, str] | None = None,
    answers: dict[str, str] | None = None,
    clear_progress: bool = True,
) -> int:
    """Store a result; the scores follow the statuses (missing 0, fragile 40, anything else 80)."""
    statuses = statuses if statuses is not None else {"animation": "present"}
    points = {"missing": 0, "fragile": 40}
    return await storage.diagnosis.save_diagnostic_result(
        user_id,
        territory=territory,
        structure="association",
        version="2025.1",
        scores={metier: points.get(status, 80) for metier, status in statuses.items()},
        statuses=statuses,
        answers=answers if answers is not None else {"territoire": territory or "?"},
        clear_progress=clear_progress,
        now=minutes(at),
    )


async def rows_0001(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """The rows of the tables of revision 0001."""
    return await table_rows(engine, TABLES_0001)


async def schema_differences(engine: AsyncEngine) -> list[Any]:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with engine.connect() as conn:
        return await conn.run_sync(differences)


async def populate_0001(storage: Storage) -> None:
    """Data in every table of revision 0001 (only uses queries on those tables)."""
    await storage.users.touch_user(ME, language_hint="en", now=T0)
    question = await storage.questions.record_question(
        ME, "private", "Comment adhérer ?", "fr", True, "adhesion", 0.9
    )
    await storage.questions.record_feedback(question, OTHER, -1, now=minutes(1))
    code = await storage.users.create_invitation(ME, now=T0)
    assert await storage.users.redeem_invitation(code, OTHER, now=minutes(2)) == "ok"
    await storage.users.create_invitation(OTHER, now=T0)


# -- migration 0002 -----------------------------------------------------------------------------------------


async def test_upgrade_from_0001_keeps_the_data(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    try:
        await upgrade_engine(engine, "0001")  # the database of the previous version of the bot
        assert await current_revision(engine) == "0001"
        await populate_0001(Storage(engine))
        before = await rows_0001(engine)
        assert all(before.values())
    finally:
        await engine.dispose()

    async with await open_database(db_url, tmp_path) as db:  # the new version starts: it migrates
        assert await current_revision(db.engine) == HEAD
        after, kept = shared_columns(await rows_0001(db.engine), before)
        assert after == kept
        assert await table_names(db.engine) >= DIAGNOSTIC_TABLES
        assert await schema_differences(db.engine) == []
        await db.storage.diagnosis.save_diagnostic(ME, {"territoire": "rural"}, now=minutes(5))
        await result(db.storage, OTHER, at=6)
        assert (await db.storage.diagnosis.diagnostic_stats()).diagnostics == 1


async def test_downgrade_to_0001_and_upgrade_again(db: Database) -> None:
    await populate_0001(db.storage)
    await db.storage.diagnosis.save_diagnostic(ME, {"territoire": "rural"}, now=minutes(5))
    await result(db.storage, ME, at=6, clear_progress=False)
    before = await rows_0001(db.engine)

    await migrate(db.engine, "downgrade", "0001")
    assert await current_revision(db.engine) == "0001"
    assert not DIAGNOSTIC_TABLES & await table_names(db.engine)
    after, kept = shared_columns(await rows_0001(db.engine), before)
    assert after == kept

    await migrate(db.engine, "upgrade", "head")
    assert await current_revision(db.engine) == HEAD
    assert await schema_differences(db.engine) == []
    after, kept = shared_columns(await rows_0001(db.engine), before)
    assert after == kept
    assert await db.storage.diagnosis.load_diagnostic(ME) is None  # the diagnostic tables come back empty
    assert await db.storage.diagnosis.diagnostic_results(ME) == []
    await result(db.storage, ME, at=7)
    assert len(await db.storage.diagnosis.diagnostic_results(ME)) == 1


# -- progress -----------------------------------------------------------------------------------------------


async def test_progress_survives_a_restart_until_cleared(db_url: str, tmp_path: Path) -> None:
    async with await open_database(db_url, tmp_path) as db:
        assert await db.storage.diagnosis.load_diagnostic(ME) is None
        await db.storage.diagnosis.save_diagnostic(ME, {"territoire": "rural"}, now=T0)
        await db.storage.diagnosis.save_diagnostic(
            ME, {"territoire": "rural", "q2": "b", "q1": "a"}, now=minutes(3)
        )
        user = await db.storage.users.get_user(ME)  # created like by record_question
        assert user is not None and user.created_at == T0

    async with await open_database(db_url, tmp_path) as db:  # the bot restarted
        session = await db.storage.diagnosis.load_diagnostic(ME)
        assert session is not None
        assert session.user_id == ME
        assert list(session.answers.items()) == [
            ("territoire", "rural"),
            ("q2", "b"),
            ("q1", "a"),
        ]  # in order
        assert not session.paused
        assert (session.started_at, session.updated_at) == (T0, minutes(3))
        assert session.started_at.tzinfo is not None
        await db.storage.diagnosis.clear_diagnostic(ME)
        await db.storage.diagnosis.clear_diagnostic(ME)  # nothing left: still fine
        await db.storage.diagnosis.clear_diagnostic(404)

    async with await open_database(db_url, tmp_path) as db:
        assert await db.storage.diagnosis.load_diagnostic(ME) is None
        await db.storage.diagnosis.save_diagnostic(ME, {}, now=minutes(10))  # a new start
        session = await db.storage.diagnosis.load_diagnostic(ME)
        assert session is not None and session.answers == {}
        assert (session.started_at, session.updated_at) == (minutes(10), minutes(10))


async def test_pause_survives_a_restart_and_the_next_answer_resumes(db_url: str, tmp_path: Path) -> None:
    async with await open_database(db_url, tmp_path) as db:
        await db.storage.diagnosis.save_diagnostic(ME, {"territoire": "urbain"}, now=T0)
        await db.storage.diagnosis.save_diagnostic(ME, {"territoire": "urbain"}, paused=True, now=minutes(1))
        await db.storage.diagnosis.save_diagnostic(OTHER, {"territoire": "rural"}, now=minutes(1))

    async with await open_database(db_url, tmp_path) as db:
        paused = await db.storage.diagnosis.load_diagnostic(ME)
        assert paused is not None and paused.paused and paused.answers == {"territoire": "urbain"}
        other = await db.storage.diagnosis.load_diagnostic(OTHER)
        assert other is not None and not other.paused  # one session per user
        await db.storage.diagnosis.save_diagnostic(ME, {"territoire": "urbain", "q1": "c"}, now=minutes(60))

    async with await open_database(db_url, tmp_path) as db:
        resumed = await db.storage.diagnosis.load_diagnostic(ME)
        assert resumed is not None and not resumed.paused
        assert (resumed.answers, resumed.started_at, resumed.updated_at) == (
            {"territoire": "urbain", "q1": "c"},
            T0,
            minutes(60),
        )


# -- results ------------------------------------------------------------------------------------------------


async def test_results_newest_first_with_limit(storage: Storage) -> None:
    first = await result(storage, ME, at=1, statuses={"animation": "missing", "pilotage": "present"})
    second = await result(storage, ME, at=30, territory=None, statuses={"animation": "fragile"})
    third = await result(
        storage, ME, at=30, statuses={"animation": "present"}
    )  # same time: the later id first
    await result(storage, OTHER, at=60)
    await result(storage, None, at=61)  # anonymous

    latest, previous = await storage.diagnosis.diagnostic_results(ME)
    assert (latest.id, previous.id) == (third, second)
    assert [r.id for r in await storage.diagnosis.diagnostic_results(ME, limit=10)] == [third, second, first]
    assert [r.id for r in await storage.diagnosis.diagnostic_results(ME, limit=1)] == [third]
    assert await storage.diagnosis.diagnostic_results(404) == []

    oldest = (await storage.diagnosis.diagnostic_results(ME, limit=3))[-1]
    assert oldest == DiagnosticResult(
        id=first,
        user_id=ME,
        created_at=minutes(1),
        territory="rural",
        structure="association",
        version="2025.1",
        scores={"animation": 0, "pilotage": 80},
        statuses={"animation": "missing", "pilotage": "present"},
        answers={"territoire": "rural"},
    )
    assert oldest.created_at.tzinfo is not None
    assert previous.territory is None and previous.statuses == {"animation": "fragile"}


async def test_saving_a_result_ends_the_progress_unless_asked_not_to(storage: Storage) -> None:
    await storage.diagnosis.save_diagnostic(ME, {"territoire": "rural"}, now=T0)
    await result(storage, ME, at=1, clear_progress=False)
    assert await storage.diagnosis.load_diagnostic(ME) is not None
    await result(storage, ME, at=2)
    assert await storage.diagnosis.load_diagnostic(ME) is None
    assert len(await storage.diagnosis.diagnostic_results(ME, limit=5)) == 2
    await result(storage, 555, at=3)  # an unknown user is created
    assert await storage.users.get_user(555) is not None


async def test_diagnostic_values_are_checked(storage: Storage) -> None:
    bad_scores: list[dict[str, Any]] = [{"animation": 101}, {"animation": -1}, {"a": "50"}, {"a": True}]
    for scores in bad_scores:
        with pytest.raises(ValueError):
            await storage.diagnosis.save_diagnostic_result(
                ME, territory=None, structure=None, version="1", scores=scores, statuses={}, answers={}
            )
    bad_lengths: list[dict[str, Any]] = [
        {"territory": "x" * 33},
        {"structure": "x" * 33},
        {"version": "x" * 17},
    ]
    for bad in bad_lengths:
        fields: dict[str, Any] = {"territory": None, "structure": None, "version": "1"} | bad
        with pytest.raises(ValueError):
            await storage.diagnosis.save_diagnostic_result(ME, scores={}, statuses={}, answers={}, **fields)
    with pytest.raises(ValueError):
        await storage.diagnosis.save_diagnostic(ME, {"q1": 2})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        await storage.diagnosis.save_diagnostic(
            ME, {"q1": "a"}, now=datetime(2025, 1, 1)
        )  # naive: which time zone?
    assert await storage.diagnosis.load_diagnostic(ME) is None
    assert await storage.diagnosis.diagnostic_results(ME) == []


# -- anonymous statistics -----------------------------------------------------------------------------------


async def test_stats_count_missing_and_fragile_metiers_by_territory(storage: Storage) -> None:
    assert await storage.diagnosis.diagnostic_stats() == DiagnosticStats(
        diagnostics=0, missing={}, fragile={}, territories=[]
    )
    await result(storage, ME, at=1, statuses={"animation": "missing", "pilotage": "fragile"})
    await result(storage, ME, at=2, statuses={"animation": "missing", "pilotage": "missing"})
    await result(
        storage, OTHER, at=3, statuses={"animation": "fragile", "pilotage": "present", "veille": "present"}
    )
    await result(
        storage, OTHER, at=4, territory="urbain", statuses={"animation": "missing", "veille": "fragile"}
    )
    await result(storage, None, at=5, territory=None, statuses={"pilotage": "missing"})
    await result(storage, 42, at=6, territory="littoral", statuses={"animation": "present"})

    assert await storage.diagnosis.diagnostic_stats() == DiagnosticStats(
        diagnostics=6,
        missing={"animation": 3, "pilotage": 2, "veille": 0},
        fragile={"animation": 1, "pilotage": 1, "veille": 1},
        territories=[
            TerritoryStats("rural", 3, {"animation": 2, "pilotage": 1, "veille": 0}),
            TerritoryStats("littoral", 1, {"animation": 0, "pilotage": 0, "veille": 0}),
            TerritoryStats("urbain", 1, {"animation": 1, "pilotage": 0, "veille": 0}),
            TerritoryStats(None, 1, {"animation": 0, "pilotage": 1, "veille": 0}),
        ],
    )


async def test_stats_hold_no_user_id_and_no_answer(storage: Storage) -> None:
    await result(
        storage, ME, at=1, statuses={"animation": "missing"}, answers={"secret-step": "secret-option"}
    )
    await result(storage, OTHER, at=2, territory="urbain", statuses={"animation": "fragile"})

    stats = await storage.diagnosis.diagnostic_stats()
    dumped = json.dumps(dataclasses.asdict(stats))
    for private in (str(ME), str(OTHER), "secret-step", "secret-option", "association"):
        assert private not in dumped
    assert {field.name for field in dataclasses.fields(stats)} == {
        "diagnostics",
        "missing",
        "fragile",
        "territories",
    }
    assert {field.name for field in dataclasses.fields(TerritoryStats)} == {
        "territory",
        "diagnostics",
        "missing",
    }


# -- personal data ------------------------------------------------------------------------------------------


async def populate(storage: Storage) -> None:
    """ME and OTHER each have a diagnosis in progress and finished ones; one more result is anonymous."""
    await result(storage, ME, at=1, answers={"q1": "my-first"})
    await result(storage, ME, at=2, territory="urbain", answers={"q1": "my-second"})
    await storage.diagnosis.save_diagnostic(ME, {"q1": "my-progress"}, paused=True, now=minutes(3))
    await result(storage, OTHER, at=4, answers={"q1": "their-answer"})
    await storage.diagnosis.save_diagnostic(OTHER, {"q1": "their-progress"}, now=minutes(5))
    await result(storage, None, at=6, answers={"q1": "anonymous"})


async def test_export_includes_the_diagnostics_of_the_user_only(storage: Storage) -> None:
    await populate(storage)
    exported = await storage.personal_data.export_user(ME)
    dumped = json.dumps(exported)  # JSON-serialisable

    assert exported["diagnostic_session"] == {
        "answers": {"q1": "my-progress"},
        "paused": True,
        "started_at": minutes(3).isoformat(),
        "updated_at": minutes(3).isoformat(),
    }
    results = exported["diagnostic_results"]
    assert [(r["created_at"], r["territory"], r["answers"]) for r in results] == [  # oldest first
        (minutes(1).isoformat(), "rural", {"q1": "my-first"}),
        (minutes(2).isoformat(), "urbain", {"q1": "my-second"}),
    ]
    assert results[0]["scores"] == {"animation": 80} and results[0]["statuses"] == {"animation": "present"}
    assert results[0]["questionnaire_version"] == "2025.1" and results[0]["structure"] == "association"
    assert all("user_id" not in r for r in results)
    for other in ("their-answer", "their-progress", "anonymous", str(OTHER)):
        assert other not in dumped


async def test_forget_removes_the_diagnostics_of_the_user_and_nothing_else(db: Database) -> None:
    storage = db.storage
    await populate(storage)
    before = await storage.personal_data.export_user(OTHER)

    await storage.personal_data.forget_user(ME)

    async with transaction(db.engine, write=False) as conn:
        for table in metadata.sorted_tables:  # every table, the diagnostic ones included
            for row in (await conn.execute(select(table))).mappings():
                assert ME not in row.values(), (table.name, row)
                assert "my-progress" not in json.dumps(dict(row), default=str), (table.name, row)
    assert await storage.diagnosis.load_diagnostic(ME) is None
    assert await storage.diagnosis.diagnostic_results(ME, limit=10) == []
    assert await storage.personal_data.export_user(OTHER) == before
    stats = await storage.diagnosis.diagnostic_stats()
    assert (stats.diagnostics, [t.territory for t in stats.territories]) == (
        2,
        ["rural"],
    )  # OTHER's, anonymous


async def test_deleting_a_user_cascades_to_their_diagnostics(db: Database) -> None:
    await populate(db.storage)
    async with transaction(db.engine, write=True) as conn:
        await conn.execute(delete(users).where(users.c.id == ME))
    assert await db.storage.diagnosis.load_diagnostic(ME) is None
    assert await db.storage.diagnosis.diagnostic_results(ME) == []
    assert await db.storage.diagnosis.load_diagnostic(OTHER) is not None
    assert len(await db.storage.diagnosis.diagnostic_results(OTHER)) == 1
