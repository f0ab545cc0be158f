"""The real embedder: any sentence-transformers model, loaded from a local folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.embedding.base import Vectors

log = logging.getLogger(__name__)
LARGE_BATCH = 8


class SentenceTransformerEmbedder:
    def __init__(self, name: str, path: Path, *, batch_size: int = 32, threads: int = 0) -> None:
        import torch
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

        self._torch = torch
        self._small_threads = threads if threads > 0 else torch.get_num_threads()
        self._large_threads = max(os.cpu_count() or 1, self._small_threads)
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

    def _encode(self, texts: Sequence[str], prompt: str) -> Vectors:
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        # A lone short query is steadier on one thread (no waiting for a descheduled sibling thread on a
        # busy machine); batches (index builds, many questions at once) gain from every core.
        self._torch.set_num_threads(self._large_threads if len(texts) >= LARGE_BATCH else self._small_threads)
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
        return self._encode(texts, "query")

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, "document")
