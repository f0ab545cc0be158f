"""Which language a question is written in (py3langid, restricted to languages the embedding model knows).

The knowledge base is French. A question in another language is matched by the multilingual dense model
only: its words cannot be expected in the French passages, so the lexical evidence does not apply to it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from py3langid.langid import MODEL_FILE, LanguageIdentifier

# Languages multilingual-e5 handles well and users of a French network may write in.
LANGUAGES = ("fr", "en", "es", "de", "it", "pt", "nl")
# Short French questions full of names (« Who is Le RAMEAU? ») get low probabilities: below this, French.
_MIN_PROBABILITY = 0.4


@lru_cache(maxsize=1)
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


@lru_cache(maxsize=4096)
def question_language(text: str) -> str:
    """An ISO 639-1 code from LANGUAGES; "fr" unless another language is clearly more likely."""
    language, probability = _identifier().classify(text)
    return str(language) if language != "fr" and probability >= _MIN_PROBABILITY else "fr"


_GLOSSARY_FILE = Path(__file__).with_name("glossary.txt")


@lru_cache(maxsize=1)
def _glossary() -> tuple[re.Pattern[str], dict[str, str]]:
    french: dict[str, str] = {}
    for line in _GLOSSARY_FILE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            names, term = line.split("=", 1)
            french.update({name.strip().lower(): term.strip() for name in names.split(",") if name.strip()})
    longest_first = sorted(french, key=len, reverse=True)
    alternatives = "|".join(map(re.escape, longest_first))
    pattern = re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])", re.IGNORECASE)
    return pattern, french


def in_french_terms(text: str) -> str:
    """`text` with the network's core concepts named in English (« third place », « partnership ») replaced
    by the French terms of the knowledge base (tiers-lieu, partenariat), from `glossary.txt`; a French
    question is returned as is. « What is a third place? » → « What is a tiers-lieu? »."""
    if question_language(text) == "fr":
        return text
    pattern, french = _glossary()
    return pattern.sub(lambda m: french[m.group(0).lower()], text)
