"""Every text shown to users, per language (`fr.yaml`, `en.yaml`): never string literals in adapters.

An entry is either a text or, when it depends on a number, its plural forms as CLDR names them
(`one`, `other`, and `two`/`few`/`many` for languages that have them); `plural()` picks the form with
Babel's CLDR rules (French: 0 and 1 are « one »; English: only 1 is). A `zero` form, when given, is used for
exactly 0 in every language (« Personne… » rather than « 0 personne… »).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from babel import Locale

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
PLURAL_FORMS = ("zero", "one", "two", "few", "many", "other")
_FOLDER = Path(__file__).parent

Entry = str | dict[str, str]


@lru_cache(maxsize=len(LANGUAGES))
def catalogue(language: str) -> dict[str, Entry]:
    """Every entry of `language`'s file; `ValueError` naming the file and key of a badly shaped entry."""
    path = _FOLDER / f"{language}.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of keys to texts")
    for key, value in data.items():
        plural_ok = (
            isinstance(value, dict)
            and "other" in value
            and all(k in PLURAL_FORMS and isinstance(v, str) for k, v in value.items())
        )
        if not isinstance(value, str) and not plural_ok:
            raise ValueError(f"{path}: {key}: expected a text or plural forms ({', '.join(PLURAL_FORMS)})")
    return data


def _chosen(language: str) -> str:
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def text(key: str, language: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The message `key` in `language` (French when the language is unknown), with `values` filled in.

    A plural entry takes its form from a `count` value (`plural()` is the explicit way to say so).
    """
    entry = catalogue(_chosen(language))[key]
    if isinstance(entry, dict):
        return plural(key, language, values.pop("count"), **values)
    return entry.format(**values)


def plural(key: str, language: str, count: int, /, **values: Any) -> str:
    """The form of plural entry `key` that suits `count` in `language`, `count` and `values` filled in."""
    chosen = _chosen(language)
    entry = catalogue(chosen)[key]
    if isinstance(entry, str):
        return entry.format(count=count, **values)
    form = "zero" if count == 0 and "zero" in entry else Locale.parse(chosen).plural_form(abs(count))
    return entry.get(form, entry["other"]).format(count=count, **values)


def text_or(key: str, language: str, default: str, /, **values: Any) -> str:
    """The message `key` when the catalogue has it, else `default` (for texts named by configuration)."""
    return text(key, language, **values) if key in catalogue(_chosen(language)) else default
