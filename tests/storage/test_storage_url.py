"""Database URLs, engine settings and the small text rules of the storage layer (no server needed)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.storage import normalize_url, open_database
from bot.storage.engine import _parse_pg_options, create_engine
from bot.storage.questions import normalize_question
from bot.storage.users import new_code, normalize_code


def test_postgres_urls_use_asyncpg(tmp_path: Path) -> None:
    for scheme in ("postgres", "postgresql", "postgresql+asyncpg"):
        url = normalize_url(f"{scheme}://bot:s3cret@db.example:5433/catabot", tmp_path)
        assert url == "postgresql+asyncpg://bot:s3cret@db.example:5433/catabot"


def test_relative_sqlite_path_is_made_absolute_under_the_base_dir(tmp_path: Path) -> None:
    url = normalize_url("sqlite+aiosqlite:///data/catabot.db", tmp_path)
    assert url == f"sqlite+aiosqlite:///{tmp_path / 'data' / 'catabot.db'}"
    assert (tmp_path / "data").is_dir()
    assert normalize_url("sqlite:///bot.db", tmp_path) == f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}"


def test_absolute_and_memory_sqlite_urls_are_kept(tmp_path: Path) -> None:
    absolute = tmp_path / "elsewhere" / "bot.db"
    assert (
        normalize_url(f"sqlite+aiosqlite:///{absolute}", Path("/nonexistent"))
        == f"sqlite+aiosqlite:///{absolute}"
    )
    assert absolute.parent.is_dir()
    assert normalize_url("sqlite+aiosqlite://", tmp_path) == "sqlite+aiosqlite://"
    assert normalize_url("sqlite+aiosqlite:///:memory:", tmp_path) == "sqlite+aiosqlite:///:memory:"
    assert make_url(normalize_url("sqlite:///:memory:", tmp_path)).database == ":memory:"


def test_special_characters_in_a_sqlite_path_survive(tmp_path: Path) -> None:
    url = normalize_url("sqlite:///mes données/bot#1.db", tmp_path)
    assert make_url(url).database == str(tmp_path / "mes données" / "bot#1.db")


def test_a_plain_path_is_not_a_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a database URL"):
        normalize_url("data/catabot.db", tmp_path)


def test_postgres_options_become_server_settings() -> None:
    assert _parse_pg_options("-csearch_path=bot -c statement_timeout=5s --lock-timeout=1s") == {
        "search_path": "bot",
        "statement_timeout": "5s",
        "lock_timeout": "1s",
    }
    with pytest.raises(ValueError):
        _parse_pg_options("search_path=bot")


async def test_sqlite_engine_settings(tmp_path: Path) -> None:
    engine = create_engine(normalize_url("sqlite:///bot.db", tmp_path))
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(text("PRAGMA foreign_keys")) == 1
            assert await conn.scalar(text("PRAGMA journal_mode")) == "wal"
            assert (await conn.scalar(text("PRAGMA busy_timeout")) or 0) >= 1000
    finally:
        await engine.dispose()


def test_invitation_codes_are_short_and_unambiguous() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 9 and code[4] == "-" and not set(code) & set("01OIL")
        assert normalize_code(code.lower().replace("-", " ")) == code
    assert normalize_code("K7QF2M9X") == "K7QF-2M9X"
    assert normalize_code("K7QF-2M9") is None
    assert normalize_code("O0OO-IIII") is None


def test_question_grouping_key() -> None:
    assert normalize_question("  Comment   ADHÉRER ? ") == "comment adhérer"
    assert normalize_question("Qu’est-ce que c’est ?!") == "qu'est-ce que c'est"
    assert normalize_question("???") == "???"


async def test_a_new_sqlite_database_is_announced_at_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    typo = tmp_path / "dat" / "catabot.db"  # e.g. « data » misspelt: the data is elsewhere
    with caplog.at_level(logging.WARNING, logger="bot.storage.database"):
        database = await open_database(f"sqlite+aiosqlite:///{typo}", tmp_path)
        await database.close()
    assert [r.getMessage() for r in caplog.records] == [
        f"no database at {typo}: creating a new, empty one (check database.url if you expected data)"
    ]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.storage.database"):
        database = await open_database(f"sqlite+aiosqlite:///{typo}", tmp_path)
        await database.close()
    assert caplog.records == [], "an existing database opens quietly"
