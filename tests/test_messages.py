from __future__ import annotations

import re

from bot.messages import LANGUAGES, catalogue, text


def test_both_catalogues_have_the_same_keys_and_placeholders() -> None:
    french, english = catalogue("fr"), catalogue("en")
    assert set(french) == set(english)
    for key, value in french.items():
        assert set(re.findall(r"{(\w+)}", value)) == set(re.findall(r"{(\w+)}", english[key])), key


def test_unknown_language_falls_back_to_french() -> None:
    assert text("welcome", "de") == text("welcome", "fr")
    assert set(LANGUAGES) == {"fr", "en"}
