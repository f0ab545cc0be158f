"""Which language a question is written in (py3langid, restricted to languages the embedding model knows).

The knowledge base is French. A question in another language is matched by the multilingual dense model
only: its words cannot be expected in the French passages, so the lexical evidence does not apply to it.
"""

from __future__ import annotations

from functools import lru_cache

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
