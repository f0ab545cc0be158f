"""The serving embedder: a model converted to OpenVINO by `catabot model install`, run with `tokenizers` and
the OpenVINO runtime only. Neither torch nor transformers is imported, which is where a torch process spends
its start-up seconds and most of its memory.

A converted folder holds `openvino_model.xml`/`.bin` (token ids in, mean-pooled L2-normalised vectors out),
`tokenizer.json`, and `embedder.json` (prompts, padding, dimension, the precisions checked against torch).
"""

from __future__ import annotations

import json
import logging
import os
import queue
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bot.embedding.base import Vectors

log = logging.getLogger(__name__)

SETTINGS = "embedder.json"
MODEL_XML = "openvino_model.xml"
_HINTS = {"fp32": "f32", "bf16": "bf16"}


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The processor's feature flags (Linux `/proc/cpuinfo`), or an empty set where they cannot be read."""
    try:
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("flags"):
                return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def candidate_precisions(setting: str, flags: Collection[str]) -> tuple[str, ...]:
    """The precisions worth installing on a processor with these flags: the configured one, or for "auto"
    bf16 where it has AMX (`amx_bf16`), both where it has AVX-512 bf16 only (`avx512_bf16`: the faster,
    timed by `catabot model install`, is kept), fp32 where it has neither (bf16 is emulated, slower)."""
    if setting != "auto":
        return (setting,)
    if "amx_bf16" in flags:
        return ("bf16",)
    return ("fp32", "bf16") if "avx512_bf16" in flags else ("fp32",)


def bf16_flags(flags: Collection[str]) -> list[str]:
    """The flags that decide the precision, as recorded with a timing."""
    return sorted(flag for flag in flags if flag in ("amx_bf16", "avx512_bf16"))


def choose_precision(setting: str, flags: Collection[str], settings: dict[str, Any] | None = None) -> str:
    """The precision to serve, "bf16" or "fp32": the only candidate, or the faster one timed on this
    processor (recorded in the converted folder's `settings`), else fp32."""
    candidates = candidate_precisions(setting, flags)
    faster = (settings or {}).get("faster") or {}
    if (
        len(candidates) > 1
        and faster.get("flags") == bf16_flags(flags)
        and faster.get("choice") in candidates
    ):
        return str(faster["choice"])
    return candidates[0]


def converted_folder(model_cache: Path) -> Path:
    """Where the OpenVINO conversion of the model cached in `model_cache` lives."""
    return model_cache / "openvino"


def passage_prompt(prompts: dict[str, str]) -> str:
    """The prefix put before passages: sentence-transformers' "document" prompt, or "passage"."""
    return prompts.get("document", prompts.get("passage", ""))


def source_stamp(folder: Path) -> dict[str, list[int]]:
    """Size and modification time of the model folder's files: a conversion is valid while they match."""
    return {
        path.name: [path.stat().st_size, path.stat().st_mtime_ns]
        for path in sorted(folder.iterdir())
        if path.is_file()
    }


def read_settings(folder: Path) -> dict[str, Any] | None:
    """The converted folder's `embedder.json`, or None when the folder holds no finished conversion."""
    try:
        settings = json.loads((folder / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(settings, dict) or not (folder / MODEL_XML).is_file():
        return None
    return settings


class OpenVinoEmbedder:
    """Encodes at `precision` ("fp32" or "bf16") on `threads` CPU threads for questions, on every core for
    passages (index builds). Raises ValueError when `folder` holds no finished conversion.

    `streams` (≥ 1) question batches can be encoded at once, each on its own `threads` (OpenVINO's CPU
    streams: measured here, two batches of 32 on two streams took 604 ms, one alone 632 ms, while on one
    stream the second waited for the first: 1,216 ms). `concurrency` says how many; a lone batch is no faster.
    """

    def __init__(
        self,
        name: str,
        folder: Path,
        *,
        precision: str = "fp32",
        batch_size: int = 32,
        threads: int = 1,
        streams: int = 1,
    ) -> None:
        import openvino as ov
        from tokenizers import Tokenizer

        settings = read_settings(folder)
        if settings is None:
            raise ValueError(f"{folder} holds no converted model; run `catabot model install`")
        self.name, self.backend, self.precision = name, "openvino", precision
        self.dimension = int(settings["dimension"])
        self._batch_size = batch_size
        self._prompts: dict[str, str] = settings["prompts"]
        self._folder = folder
        self._core = ov.Core()
        self._query_threads = threads if threads > 0 else os.cpu_count() or 1
        self.concurrency = max(1, streams)
        self._queries = self._compile(self._query_threads, self.concurrency)
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()  # one per stream: a batch takes one
        for _ in range(self.concurrency):
            self._requests.put(self._queries.create_infer_request())
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(settings["max_seq_length"]))
        self._tokenizer.enable_padding(pad_id=int(settings["pad_id"]), pad_token=str(settings["pad_token"]))
        log.debug("loaded %s from %s (%s, dimension %d)", name, folder, self.precision, self.dimension)

    def _compile(self, threads: int, streams: int = 1) -> Any:
        """The model on `streams` CPU streams of `threads` threads each."""
        config = {
            "INFERENCE_PRECISION_HINT": _HINTS[self.precision],
            "INFERENCE_NUM_THREADS": threads * streams,
            "NUM_STREAMS": streams,
            "PERFORMANCE_HINT": "LATENCY" if streams == 1 else "THROUGHPUT",
        }
        return self._core.compile_model(str(self._folder / MODEL_XML), "CPU", config)

    def _encode(self, requests: queue.SimpleQueue[Any], texts: Sequence[str], prefix: str) -> Vectors:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        # Longest first, as sentence-transformers does: texts of similar length share a batch, less padding.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            encodings = self._tokenizer.encode_batch([prefix + texts[i] for i in rows])
            inputs = {
                "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            }
            request = requests.get()  # waits while every stream is at work
            try:
                out[rows] = request.infer(inputs)[0]
            finally:
                requests.put(request)
        return out

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(self._requests, texts, self._prompts.get("query", ""))

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        # Index builds have the machine to themselves: every core, on a model compiled for the build only
        # (a second compiled copy would stay in memory for nothing).
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        build: queue.SimpleQueue[Any] = queue.SimpleQueue()
        build.put(self._compile(os.cpu_count() or 1).create_infer_request())
        return self._encode(build, texts, passage_prompt(self._prompts))
