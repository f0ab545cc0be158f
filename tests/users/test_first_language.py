"""A newcomer's language: the one their Telegram speaks, recorded only when it is not French (an absent user
reads as French, so a burst of French newcomers writes nothing before their replies)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.storage import open_database
from bot.users import UserService


@pytest.mark.parametrize(
    ("hint", "language", "recorded"),
    [
        ("en-US", "en", True),
        ("fr-FR", "fr", False),
        ("fr", "fr", False),
        (None, "fr", False),
        ("", "fr", False),
    ],
)
async def test_a_newcomer_speaks_their_telegram_language_and_only_another_than_french_is_written(
    tmp_path: Path, hint: str | None, language: str, recorded: bool
) -> None:
    async with await open_database(f"sqlite+aiosqlite:///{tmp_path / 'bot.db'}", tmp_path) as db:
        users = UserService(db.storage, admins=())
        assert await users.first_language(7, hint=hint) == language
        stored = await db.storage.users.get_user(7)
        assert (stored is not None) is recorded
        assert stored is None or stored.language == language
