"""Repeated questions skip the encoder: a small LRU cache of question vectors in front of any embedder."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from bot.embedding.base import Embedder, Vectors, concurrency


class QueryCache:
    """An Embedder that remembers the vectors of the last `size` distinct questions (about 1.5 kB each for
    384 dimensions). Questions are keyed by their text with runs of whitespace collapsed; passages are
    never cached (index builds embed each passage once anyway)."""

    def __init__(self, embedder: Embedder, size: int = 1024) -> None:
        self.inner = embedder
        self.size = size
        self._vectors: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def dimension(self) -> int:
        return self.inner.dimension

    @property
    def backend(self) -> str:
        return self.inner.backend

    @property
    def precision(self) -> str:
        return self.inner.precision

    @property
    def concurrency(self) -> int:
        return concurrency(self.inner)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        keys = [" ".join(text.split()) for text in texts]
        out = np.zeros((len(keys), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                vector = self._vectors.get(key)
                if vector is None:
                    missing.setdefault(key, []).append(row)
                else:
                    self._vectors.move_to_end(key)
                    out[row] = vector
        if missing:
            fresh = self.inner.embed_queries(list(missing))
            with self._lock:
                for (key, rows), vector in zip(missing.items(), fresh, strict=True):
                    out[rows] = vector
                    self._vectors[key] = vector.copy()
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self.inner.embed_passages(texts)
