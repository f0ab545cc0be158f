"""The bot as it runs for real: webhook mode, `catabot run` stopped by SIGTERM, restarts, the sandbox."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.app import open_services
from bot.telegram.app import ALLOWED_UPDATES, build_application
from bot.telegram.fake_api import FakeTelegram
from tests.botkit import bot_config, running_bot
from tests.conftest import ROOT, write_config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_webhook_mode_with_secret(tmp_path: Path, knowledge_copy: Path) -> None:
    config = bot_config(tmp_path, knowledge_copy)
    services = await open_services(config, say=lambda _: None)
    port = _free_port()
    url = f"http://127.0.0.1:{port}/telegram"
    async with FakeTelegram() as fake:
        app = build_application(fake.token, services, api_root=fake.api_root, rate_limit=False, deliver=False)
        async with app:
            await app.post_init(app)  # type: ignore[misc]
            await app.start()
            assert app.updater is not None
            await app.updater.start_webhook(
                listen="127.0.0.1", port=port, url_path="telegram", webhook_url=url,
                secret_token="s3cret", allowed_updates=ALLOWED_UPDATES,
            )  # fmt: skip
            await fake.user_sends(60, "/start")
            await fake.wait_for(lambda: len(fake.sent_to(60)) == 1)
            assert "Réseau des catalyseurs" in fake.sent_to(60)[0].text
            async with httpx.AsyncClient() as client:
                forged = await client.post(url, json={"update_id": 999, "message": {}})
            assert forged.status_code == 403
            await app.updater.stop()
            await app.stop()
        assert fake.invalid_requests == []
    await services.close()


async def test_settings_survive_a_restart(tmp_path: Path, knowledge_copy: Path) -> None:
    config = bot_config(tmp_path, knowledge_copy)
    async with running_bot(config) as first:
        choice = await first.say(70, "/langue")
        sent = len(first.fake.sent_to(70))
        await first.click(70, choice, "lang:en")
        await first.fake.wait_for(lambda: len(first.fake.sent_to(70)) > sent)
        await first.say(70, "Quels sont les quatre métiers ?")
    async with running_bot(config) as second:
        welcome = await second.say(70, "/start")
        assert welcome.text.startswith("Hello!")
        assert (await second.services.database.storage.questions.stats()).questions == 1


def _subprocess_env(tmp_path: Path, knowledge: Path, **extra: str) -> dict[str, str]:
    config = write_config(tmp_path, knowledge=knowledge)
    with config.open("a", encoding="utf-8") as out:
        out.write(f"database:\n  url: sqlite+aiosqlite:///{tmp_path / 'run.db'}\n")
    env = {k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_API_BASE")}
    return {**env, "CATABOT_CONFIG": str(config), **extra}


async def test_catabot_run_serves_and_stops_cleanly_on_sigterm(tmp_path: Path, knowledge_copy: Path) -> None:
    async with FakeTelegram() as fake:
        env = _subprocess_env(
            tmp_path, knowledge_copy, TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_BASE=fake.api_root
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            await fake.wait_for(lambda: fake.calls_to("getUpdates") != [], timeout=60)
            await fake.user_sends(80, "Combien de catalyseurs dans le réseau ?")
            await fake.wait_for(lambda: len(fake.sent_to(80)) == 1, timeout=30)
            assert "350" in fake.sent_to(80)[0].text
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
        finally:
            if process.returncode is None:
                process.kill()
        assert process.returncode == 0, stderr.decode()
        assert fake.invalid_requests == []
        assert fake.token not in stderr.decode(), "the token never appears in the logs"


def test_sandbox_chat_runs_the_real_handlers(tmp_path: Path, knowledge_copy: Path) -> None:
    env = _subprocess_env(tmp_path, knowledge_copy)
    script = "/start\n1\nQu'est-ce qu'un tiers-lieu ?\n/quitter\n"
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], input=script, capture_output=True, text=True,
        cwd=ROOT, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Réseau des catalyseurs territoriaux" in out
    assert "1. ❓ Poser une question" in out
    assert "Écrivez votre question" in out, "button 1 was pressed"
    assert "Source : " in out and "(https://" in out
    assert "Pas de TELEGRAM_BOT_TOKEN" in result.stderr


@pytest.mark.parametrize("bad", ["retrieval:\n  leads: many\n"])
def test_a_broken_config_stops_the_bot_with_the_key_named(tmp_path: Path, bad: str) -> None:
    (tmp_path / "config.yaml").write_text(bad, encoding="utf-8")
    env = {**os.environ, "CATABOT_CONFIG": str(tmp_path / "config.yaml")}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "retrieval.leads: expected an integer" in result.stderr
