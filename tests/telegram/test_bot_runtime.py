"""The bot as it runs for real: webhook mode, `catabot run` stopped by SIGTERM, restarts, the sandbox."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.app import open_services
from bot.testing import FakeTelegram
from bot.testing.harness import Webhook, running_application
from tests.botkit import bot_config, running_bot
from tests.conftest import ROOT, write_config


async def test_webhook_mode_with_secret(tmp_path: Path, knowledge_copy: Path) -> None:
    config = bot_config(tmp_path, knowledge_copy)
    services = await open_services(config, say=lambda _: None)
    webhook = Webhook(secret="s3cret")
    async with FakeTelegram() as fake:
        async with running_application(fake, services, webhook=webhook):
            await fake.user_sends(60, "/start")
            await fake.wait_for(lambda: len(fake.sent_to(60)) == 1)
            assert "Réseau des catalyseurs" in fake.sent_to(60)[0].text
            async with httpx.AsyncClient() as client:
                forged = await client.post(webhook.url, json={"update_id": 999, "message": {}})
            assert forged.status_code == 403
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


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["polling", "webhook"])
async def test_catabot_run_serves_and_stops_cleanly_on_sigterm(
    tmp_path: Path, knowledge_copy: Path, mode: str
) -> None:
    hook = Webhook()
    webhook_env = {
        "CATABOT_TELEGRAM_WEBHOOK_URL": hook.url,
        "CATABOT_TELEGRAM_WEBHOOK_PORT": str(hook.port),
        "CATABOT_TELEGRAM_WEBHOOK_SECRET": hook.secret,
    }
    async with FakeTelegram() as fake:
        env = _subprocess_env(
            tmp_path, knowledge_copy, TELEGRAM_BOT_TOKEN=fake.token, TELEGRAM_API_BASE=fake.api_root,
            **(webhook_env if mode == "webhook" else {}),
        )  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "run", cwd=ROOT, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            listening = "setWebhook" if mode == "webhook" else "getUpdates"
            await fake.wait_for(lambda: fake.calls_to(listening) != [], timeout=60)
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


@pytest.mark.slow
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


@pytest.mark.slow
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


NO_FAKE_IN_PRODUCTION = """
import sys
from telegram.ext import Application

started = []
Application.run_polling = lambda self, **kwargs: started.append("polling")
Application.run_webhook = lambda self, **kwargs: started.append("webhook")
import bot.cli

assert bot.cli.main(["run"]) == 0 and started == ["polling"], started
print(sorted(name for name in sys.modules if name.split(".")[:2] == ["bot", "testing"]))
"""


@pytest.mark.slow
def test_catabot_run_with_a_token_never_imports_bot_testing(tmp_path: Path, knowledge_copy: Path) -> None:
    env = _subprocess_env(tmp_path, knowledge_copy, TELEGRAM_BOT_TOKEN="123456:TEST")
    result = subprocess.run(
        [sys.executable, "-c", NO_FAKE_IN_PRODUCTION], capture_output=True, text=True, cwd=ROOT, env=env,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", f"bot.testing modules loaded by `catabot run`: {result.stdout}"
