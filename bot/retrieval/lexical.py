"""French lexical search: accents folded, stop words removed, Snowball stemming, BM25 (bm25s)."""

from __future__ import annotations

import difflib
import itertools
import logging
import math
import re
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import numpy.typing as npt
import Stemmer

from bot.text import clean_text, fold_accents

# bm25s sets its own logger to DEBUG on import; let the application's logging level decide instead.
logging.getLogger("bm25s").setLevel(logging.NOTSET)

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _stop_words() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_FRENCH

    extra = Path(__file__).with_name("stopwords.txt").read_text(encoding="utf-8")
    words = set(STOPWORDS_FRENCH) | {
        w for line in extra.splitlines() if not line.startswith("#") for w in line.split()
    }
    return frozenset(fold_accents(w) for w in words)


_LOCAL = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    """This thread's stemmer (PyStemmer's are not thread-safe, and searches run on several threads)."""
    stemmer: Stemmer.Stemmer | None = getattr(_LOCAL, "stemmer", None)
    if stemmer is None:
        stemmer = _LOCAL.stemmer = Stemmer.Stemmer("french")
    return stemmer


def tokenize(text: str) -> list[str]:
    """Content words of `text`, folded then stemmed: « Expérimentations collectives » → experiment, collect.

    Accents are folded before stemming, on questions and passages alike, so a word typed without its
    accents (« neutralite », « collectivites ») gets the same token as the accented one.
    """
    stop = _stop_words()
    words = [w for w in _WORD.findall(fold_accents(clean_text(text).lower())) if w not in stop and len(w) > 1]
    # Snowball leaves the -eux plural of -eu nouns (lieux, enjeux) apart from its singular.
    return [s[:-1] if s.endswith("eux") else s for s in _stemmer().stemWords(words)]


@lru_cache(maxsize=1)
def framing_tokens() -> frozenset[str]:
    """Tokens of the verbs that frame a question without giving its topic (framing.txt: devenir, rejoindre,
    adhérer, commencer, se lancer…), left out of the answer/abstain evidence."""
    lines = Path(__file__).with_name("framing.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(t for line in lines if not line.startswith("#") for t in tokenize(line))


@lru_cache(maxsize=4096)
def _closest_cached(token: str, vocabulary: frozenset[str]) -> str:
    found = difflib.get_close_matches(token, vocabulary, n=1, cutoff=0.88)
    return found[0] if found else token


def _closest(token: str, vocabulary: frozenset[str]) -> str:
    return _closest_cached(token, vocabulary)


# Letters two tokens share to be cognates across languages (catalyst/catalyseur, observatory/observatoire).
COGNATE_PREFIX = 5


def cognate_key(token: str) -> str:
    return token[:COGNATE_PREFIX]


@dataclass(frozen=True)
class Overlap:
    """Shares (0–1) of the question's words: held by the passage (`coverage`), known to the base at all
    (`known`), and held by the passage weighted by rarity in the base, an unknown word weighing most
    (`topical`). `missing`: how rare (0–1, 1 = no passage has it) the rarest question word the passage
    lacks is; `phrase`: 1 when the passage holds the question's key phrase (its two neighbouring words that
    are rarest together: « convention collective », « loi 1901 ») as neighbours, else 0."""

    coverage: float
    known: float
    topical: float
    missing: float = 0.0
    phrase: float = 1.0


def _neighbours(tokens: Sequence[str]) -> frozenset[tuple[str, str]]:
    """Pairs of tokens at most one content word apart, in text order."""
    return frozenset(itertools.pairwise(tokens)) | frozenset(zip(tokens, tokens[2:], strict=False))


class LexicalIndex:
    def __init__(self, texts: Sequence[str]) -> None:
        self._size = len(texts)
        self._bm25 = bm25s.BM25()
        corpus = [tokenize(t) or ["∅"] for t in texts]
        self.token_sets = [frozenset(tokens) for tokens in corpus]
        self._vocabulary = frozenset(token for tokens in corpus for token in tokens)
        self._document_frequency = Counter(token for tokens in self.token_sets for token in tokens)
        self._cognate_sets = [frozenset(map(cognate_key, tokens)) for tokens in self.token_sets]
        self._cognate_frequency = Counter(key for keys in self._cognate_sets for key in keys)
        self._pairs = [_neighbours(tokens) for tokens in corpus]
        self._cognate_pairs = [_neighbours([cognate_key(t) for t in tokens]) for tokens in corpus]
        self._bm25.index(corpus, show_progress=False)

    def __len__(self) -> int:
        return self._size

    def idf(self, token: str) -> float:
        """How rare `token` is in the passages: ln((N + 1) / (df + 1)); a token no passage holds is rarest."""
        return math.log((self._size + 1) / (self._document_frequency.get(token, 0) + 1))

    def correct(self, tokens: Sequence[str]) -> list[str]:
        """Tokens the passages never use replaced by a close one they do (« catalyzeur » → catalyseur)."""
        return [t if t in self._vocabulary or len(t) < 7 else _closest(t, self._vocabulary) for t in tokens]

    def known(self, tokens: Sequence[str]) -> list[str]:
        return [t for t in tokens if t in self._vocabulary]

    def overlap(self, tokens: Sequence[str], chunk: int, *, cognates: bool = False) -> Overlap:
        """How far passage `chunk` and the whole base hold the question's `tokens` (see `Overlap`).

        With `cognates` (a question in another language than French), tokens are compared by their first
        `COGNATE_PREFIX` letters, so "catalysts" meets catalyseur and "observatory" observatoire, while
        "salary" finds nothing where the base never speaks of a salaire. Framing verbs (`framing_tokens`:
        « devenir », « rejoindre »…) are left out when the question has other words: « devenir » is not the
        point of « comment devenir catalyseur ? », and is rare in the base, so it would weigh as a topic.
        """
        framing = framing_tokens()
        tokens = [t for t in tokens if t not in framing] or list(tokens)
        if cognates:
            ordered = list(dict.fromkeys(cognate_key(t) for t in tokens))
            passage, frequency = self._cognate_sets[chunk], self._cognate_frequency
            pairs = self._cognate_pairs[chunk]
        else:
            ordered = list(dict.fromkeys(tokens))
            passage, frequency = self.token_sets[chunk], self._document_frequency
            pairs = self._pairs[chunk]
        words = set(ordered)
        if not words:
            return Overlap(0.0, 0.0, 0.0)
        rarest = math.log(self._size + 1)
        weights = {w: math.log((self._size + 1) / (frequency.get(w, 0) + 1)) for w in words}
        total = sum(weights.values())
        key = max(itertools.pairwise(ordered), key=lambda p: weights[p[0]] + weights[p[1]], default=None)
        return Overlap(
            coverage=len(words & passage) / len(words),
            known=sum(1 for w in words if frequency.get(w, 0)) / len(words),
            topical=sum(v for w, v in weights.items() if w in passage) / total if total else 0.0,
            missing=max((v for w, v in weights.items() if w not in passage), default=0.0) / rarest,
            phrase=float(key is None or key in pairs or key[::-1] in pairs),
        )

    def scores(self, tokens: Sequence[str]) -> npt.NDArray[np.float32]:
        """BM25 score of every chunk for these query tokens (zeros when no token is known)."""
        known = self.known(tokens)
        if not known:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(known), dtype=np.float32)
