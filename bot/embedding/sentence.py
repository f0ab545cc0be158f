"""The real embedder: any sentence-transformers model, loaded from a local folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.embedding.base import Vectors

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    def __init__(self, name: str, path: Path, *, batch_size: int = 32, threads: int = 0) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self._torch = torch
        self._query_threads = threads if threads > 0 else torch.get_num_threads()
        self._passage_threads = max(os.cpu_count() or 1, self._query_threads)
        self._name = name
        self._batch_size = batch_size
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        get_dimension = getattr(self._model, "get_embedding_dimension", None)
        dimension = get_dimension() if get_dimension else self._model.get_sentence_embedding_dimension()
        if dimension is None:
            raise ValueError(f"model {name} does not say its embedding dimension")
        self._dimension = int(dimension)
        prompts = self._model.prompts or {}
        self._has_prompts = "query" in prompts
        log.debug("loaded %s from %s (dimension %d)", name, path, self._dimension)

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def backend(self) -> str:
        return "torch"

    @property
    def precision(self) -> str:
        return "fp32"

    def _encode(self, texts: Sequence[str], prompt: str, threads: int) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        self._torch.set_num_threads(threads)
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt if self._has_prompts else None,
            batch_size=self._batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        # Questions are encoded while the bot serves other users: on `threads` threads (one by default),
        # torch neither waits for a descheduled sibling thread nor busy-waits against the event loop.
        return self._encode(texts, "query", self._query_threads)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        # Passages are embedded by index builds, which have the machine to themselves: every core.
        return self._encode(texts, "document", self._passage_threads)
