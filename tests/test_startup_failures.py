"""`catabot run` refuses to start in one line `catabot: <file or key>: <problem>` (exit 2), never a traceback;
an unreadable index is rebuilt instead."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.testing import FakeTelegram
from tests.conftest import ROOT, write_config

INDEX = ROOT / "index"
Setup = Callable[[Path], None]


def _config(folder: Path, extra: str = "") -> Path:
    config = write_config(folder)
    with config.open("a", encoding="utf-8") as out:
        out.write(extra or f"database:\n  url: sqlite+aiosqlite:///{folder / 'run.db'}\n")
    return config


def _env(config: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE")}
    env.pop("CATABOT_TELEGRAM_WEBHOOK_SECRET", None)
    return {**env, "CATABOT_CONFIG": str(config), **extra}


async def _run(
    env: dict[str, str], serve: Callable[[FakeTelegram], bool] | None = None, *options: str
) -> tuple[int, str]:
    """`catabot [options] run` against a fake Bot API; stopped with SIGTERM once `serve(fake)` holds."""
    async with FakeTelegram() as fake:
        env = {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.api_root, **env}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *options, "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            if serve is not None:
                await fake.wait_for(lambda: serve(fake) or process.returncode is not None, timeout=120)
                process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode is not None
        return process.returncode, stderr.decode()


def _one_line(stderr: str, *expected: str) -> None:
    """No traceback; one `catabot:` line, the last, naming the file or key (log warnings may come first)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    assert [line for line in lines if line.startswith("catabot: ")] == lines[-1:], stderr
    for part in expected:
        assert part in lines[-1], stderr


def _copy_knowledge(folder: Path) -> Path:
    target = folder / "knowledge"
    shutil.copytree(ROOT / "knowledge", target)
    return target


def _latin1_config(folder: Path) -> None:
    (folder / "config.yaml").write_bytes("# configuración é\nlog_level: WARNING\n".encode("latin-1"))


def _latin1_knowledge(folder: Path) -> None:
    fiche = sorted((folder / "knowledge" / "fiches").glob("*.md"))[0]
    fiche.write_bytes(fiche.read_text(encoding="utf-8").encode("latin-1", errors="replace"))


def _no_knowledge(folder: Path) -> None:
    shutil.rmtree(folder / "knowledge")


def _broken_diagnostic(folder: Path) -> None:
    (folder / "knowledge" / "diagnostic.yaml").write_text("steps: [\n  - id: x\n", encoding="utf-8")


def _not_sqlite(folder: Path) -> None:
    (folder / "run.db").write_bytes(b"this is not a database, just some text\n" * 100)


def _mysql(folder: Path) -> None:
    _config(folder, "database:\n  url: mysql://root@127.0.0.1/catabot\n")


def _webhook_secret(folder: Path) -> None:
    _config(
        folder,
        f"database:\n  url: sqlite+aiosqlite:///{folder / 'run.db'}\n"
        "telegram:\n  webhook_url: https://example.org/telegram\n  webhook_secret: 'pass word!'\n",
    )


FAILURES: dict[str, tuple[Setup, tuple[str, ...]]] = {
    "non-UTF-8 config.yaml": (_latin1_config, ("config.yaml", "UTF-8")),
    "non-UTF-8 knowledge file": (_latin1_knowledge, ("knowledge/fiches/", "UTF-8")),
    "missing knowledge/": (_no_knowledge, ("knowledge", "not found")),
    "broken diagnostic.yaml": (_broken_diagnostic, ("diagnostic.yaml:",)),
    "database file that is not SQLite": (_not_sqlite, ("run.db", "not a SQLite database")),
    "unsupported database URL": (_mysql, ("database.url", "mysql")),
    "webhook secret Telegram refuses": (_webhook_secret, ("telegram.webhook_secret", "A-Z")),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_a_startup_failure_is_one_line_and_exit_2(tmp_path: Path, case: str) -> None:
    setup, expected = FAILURES[case]
    config = _config(tmp_path)
    _copy_knowledge(tmp_path)
    setup(tmp_path)
    code, stderr = await _run(_env(config))
    _one_line(stderr, *expected)
    assert code == 2, stderr


async def test_a_read_only_database_is_one_line_and_exit_2(tmp_path: Path) -> None:
    database = tmp_path / "run.db"
    sqlite3.connect(database).close()
    url = f"sqlite+aiosqlite:///file:{database}?mode=ro&uri=true"
    config = _config(tmp_path, f"database:\n  url: '{url}'\n")
    _copy_knowledge(tmp_path)
    code, stderr = await _run(_env(config))
    _one_line(stderr, "read-only")
    assert code == 2, stderr


def _truncate_vectors(index: Path) -> None:
    vectors = index / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:1000])


def _garbage_chunks(index: Path) -> None:
    (index / "chunks.json").write_text('[{"id": 1}, "garbage"', encoding="utf-8")


def _list_manifest(index: Path) -> None:
    (index / "manifest.json").write_text("[]", encoding="utf-8")


@pytest.mark.parametrize("damage", [_truncate_vectors, _garbage_chunks, _list_manifest])
async def test_an_unreadable_index_is_rebuilt_and_the_bot_serves(tmp_path: Path, damage: Setup) -> None:
    config = _config(tmp_path)
    _copy_knowledge(tmp_path)
    env = _env(config)
    subprocess.run([sys.executable, "-m", "bot", "index"], env=env, cwd=ROOT, check=True, capture_output=True)
    damage(tmp_path / "index")
    code, stderr = await _run(env, lambda fake: fake.calls_to("getUpdates") != [])
    assert code == 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "Rebuilding the index" in stderr


REJECTED = "123456789:AAE-rejected_Secret-Token_0123456789abcdef"


async def test_a_rejected_token_is_one_line_and_never_printed(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _copy_knowledge(tmp_path)
    code, stderr = await _run(_env(config, TELEGRAM_BOT_TOKEN=REJECTED))
    assert code == 2
    assert stderr.strip() == "catabot: TELEGRAM_BOT_TOKEN: rejected by Telegram"


async def test_the_token_never_appears_in_debug_logs(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _copy_knowledge(tmp_path)
    code, stderr = await _run(_env(config, TELEGRAM_BOT_TOKEN=REJECTED), None, "--verbose")
    assert code == 2
    assert "Set Bot API URL" in stderr, "DEBUG logs were shown"
    assert "InvalidToken" in stderr, "the traceback is logged at DEBUG, redacted"
    assert REJECTED not in stderr and REJECTED.partition(":")[2] not in stderr
    assert stderr.splitlines()[-1] == "catabot: TELEGRAM_BOT_TOKEN: rejected by Telegram"
