"""Follow-up questions end to end through Telegram, with the real model: an elliptic question is read with the
previous one of the chat, a new topic is not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from bot.config import load_config
from bot.messages import text
from bot.text import normalize_for_match
from tests.botkit import ADMIN, running_bot
from tests.conftest import ROOT

pytestmark = [pytest.mark.model, pytest.mark.slow]

MISSIONS = ("incubation", "essaimage", "accompagnement de partenariats")


async def test_an_elliptic_question_leans_on_the_previous_one_and_a_new_topic_stands_alone(
    tmp_path: Path,
) -> None:
    config = load_config(ROOT / "config.yaml", env={})
    database = dataclasses.replace(config.database, url=f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}")
    async with running_bot(dataclasses.replace(config, admins=(ADMIN,), database=database)) as env:
        first = await env.say(31, "C'est quoi le dialogue territorial ?")
        assert "dialogue territorial" in normalize_for_match(first.text)
        # Garbage right after a question leans on nothing: the same polite reply as out of the blue.
        unclear = text("question_unclear", "fr")
        assert (await env.say(31, "²")).text == (await env.say(34, "²")).text == unclear

        follow_up = normalize_for_match((await env.say(31, "et pour les accompagnements ?")).text)
        assert all(mission in follow_up for mission in MISSIONS), follow_up
        # Out of the blue, the same words do not get the missions: the previous question made the change.
        alone = normalize_for_match((await env.say(32, "et pour les accompagnements ?")).text)
        assert not all(mission in alone for mission in MISSIONS)

        new_topic = await env.say(31, "Qu'est-ce que le Fonds ODD 17 ?")
        fresh = await env.say(33, "Qu'est-ce que le Fonds ODD 17 ?")
        assert "fonds odd 17" in normalize_for_match(new_topic.text)
        assert new_topic.text == fresh.text  # the earlier questions of the chat do not pollute it
        assert env.fake.invalid_requests == []
