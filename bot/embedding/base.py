from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, with the model's query and passage prompts."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    @property
    def backend(self) -> str:
        """What runs the model: "openvino", "torch" or "fake"; recorded in the index manifest."""
        ...

    @property
    def precision(self) -> str:
        """The inference precision, "fp32" or "bf16"; recorded in the index manifest."""
        ...

    def embed_queries(self, texts: Sequence[str]) -> Vectors: ...

    def embed_passages(self, texts: Sequence[str]) -> Vectors: ...


def concurrency(embedder: Embedder) -> int:
    """How many calls to `embed_queries` the embedder runs side by side (its `concurrency`, ≥ 1); 1 for an
    embedder that does not say (one call at a time)."""
    return max(1, int(getattr(embedder, "concurrency", 1)))
