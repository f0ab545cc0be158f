"""Every text shown to users, per language (`fr.yaml`, `en.yaml`): never string literals in adapters."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
_FOLDER = Path(__file__).parent


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, str]:
    data = yaml.safe_load((_FOLDER / f"{language}.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(f"{_FOLDER / (language + '.yaml')}: every entry must be a text")
    return data


def text(key: str, language: str = DEFAULT_LANGUAGE, **values: Any) -> str:
    """The message `key` in `language` (French when the language is unknown), with `values` filled in."""
    chosen = language if language in LANGUAGES else DEFAULT_LANGUAGE
    return catalogue(chosen)[key].format(**values)
