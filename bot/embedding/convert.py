"""Convert a sentence-transformers model to OpenVINO, offline, and refuse a conversion that drifts from torch.

Used by `catabot model install` only: this module imports torch; the converted model is served without it
(bot/embedding/openvino_embedder.py). The check encodes the probe set (probe.json: questions and passages)
with both models and compares the vectors (minimum cosine) and the passages each ranks first.
"""

from __future__ import annotations

import json
import shutil
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from bot.embedding.base import Vectors
from bot.embedding.openvino_embedder import (
    MODEL_XML,
    SETTINGS,
    OpenVinoEmbedder,
    passage_prompt,
    read_settings,
)

# Thresholds: bf16 inference measured 0.99998 minimum cosine on this probe set, fp32 0.9999999.
MIN_COSINE = 0.999
MIN_TOP1 = 0.9  # share of probe questions whose best passage is the same for both models
MIN_TOP5_OVERLAP = 0.9  # mean share of the 5 best passages both models have in common
_TIMING_ROUNDS = 5


class ConversionRejected(ValueError):
    """The model cannot be converted, or the conversion does not encode like the original."""


@dataclass(frozen=True)
class Agreement:
    """How a converted model agrees with the original on the probe set: each value within 0..1."""

    min_cosine: float
    top1: float
    top5_overlap: float

    def problems(self) -> list[str]:
        checks = [
            (self.min_cosine >= MIN_COSINE, f"minimum cosine {self.min_cosine:.5f} < {MIN_COSINE}"),
            (self.top1 >= MIN_TOP1, f"same best passage for {self.top1:.0%} of questions < {MIN_TOP1:.0%}"),
            (self.top5_overlap >= MIN_TOP5_OVERLAP,
             f"top-5 overlap {self.top5_overlap:.2f} < {MIN_TOP5_OVERLAP}"),
        ]  # fmt: skip
        return [message for ok, message in checks if not ok]


def probe_texts() -> tuple[list[str], list[str]]:
    """(questions, passages) of the probe set shipped with the package."""
    data = json.loads(resources.files("bot.embedding").joinpath("probe.json").read_text(encoding="utf-8"))
    return list(data["questions"]), list(data["passages"])


def agreement(reference: tuple[Vectors, Vectors], converted: tuple[Vectors, Vectors]) -> Agreement:
    """Compare (question vectors, passage vectors) of the original model with the converted model's."""
    cosines = [np.sum(r * c, axis=1) for r, c in zip(reference, converted, strict=True)]
    ranks = [np.argsort(-(q @ p.T), axis=1, kind="stable") for q, p in (reference, converted)]
    top1 = float(np.mean(ranks[0][:, 0] == ranks[1][:, 0]))
    overlap = [len(set(a[:5]) & set(b[:5])) / 5 for a, b in zip(ranks[0], ranks[1], strict=True)]
    return Agreement(float(min(c.min() for c in cosines)), top1, float(np.mean(overlap)))


def _check_architecture(model: Any) -> None:
    kinds = [type(module).__name__ for module in model]
    pooling = model[1] if len(model) > 1 else None
    mode = getattr(pooling, "pooling_mode", None)  # sentence-transformers 6: "mean" or a tuple of modes
    mean = mode in ("mean", ("mean",)) or getattr(pooling, "pooling_mode_mean_tokens", False) is True
    if kinds != ["Transformer", "Pooling", "Normalize"] or not mean:
        raise ConversionRejected(
            f"only Transformer + mean Pooling + Normalize models are converted, this one is {kinds}; "
            "set embedding.backend: torch"
        )


def _dimension(model: Any) -> int:
    get_dimension = getattr(model, "get_embedding_dimension", None)  # the older name before 5.x
    return int(get_dimension() if get_dimension else model.get_sentence_embedding_dimension())


def _mean_pooled(transformer: Any) -> Any:
    import torch

    class MeanPooled(torch.nn.Module):
        """Token ids and mask in, mean-pooled L2-normalised vectors out (sentence-transformers' modules)."""

        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    return MeanPooled().eval()


def convert_to_openvino(
    name: str, source: Path, dest: Path, precision: str, stamp: dict[str, Any]
) -> Agreement:
    """Convert the model in `source` into `dest` (unless already done from the same `stamp`), check it at
    `precision` ("fp32" or "bf16") against the original and record the check; return the agreement.

    Raises ConversionRejected when it drifts: the precision then stays unverified, which the embedder's
    loader refuses. Weights are stored as float16 whatever the precision: half the disk, and the process
    maps less than half the memory (float32 weights are all paged in at compile time); the fp32 precision
    still computes in float32 (minimum cosine 0.9999999 against torch on the probe set).
    """
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(source), device="cpu", local_files_only=True)
    _check_architecture(model)
    settings = read_settings(dest)
    if settings is None or settings.get("source") != stamp:
        settings = _convert(model, name, dest, stamp)
    questions, passages = probe_texts()
    prompts = settings["prompts"]
    reference = (
        model.encode(questions, prompt=prompts.get("query", ""), normalize_embeddings=True),
        model.encode(passages, prompt=passage_prompt(prompts), normalize_embeddings=True),
    )
    embedder = OpenVinoEmbedder(name, dest, precision=precision)
    result = agreement(reference, (embedder.embed_queries(questions), embedder.embed_passages(passages)))
    if result.problems():
        raise ConversionRejected(
            f"the OpenVINO {precision} conversion of {name} drifts from the original: "
            + "; ".join(result.problems())
        )
    settings["verified"][precision] = asdict(result)
    _write_settings(dest, settings)
    return result


def time_precisions(name: str, folder: Path, precisions: Sequence[str], flags: list[str]) -> dict[str, Any]:
    """Time the converted model at each precision on this processor (each probe question alone, then 8
    together, in interleaved rounds), record the faster with `flags` in its settings and return the record:
    {"choice": precision, "ms": {precision: median milliseconds of a round}, "flags": flags}."""
    questions = probe_texts()[0]
    embedders = {p: OpenVinoEmbedder(name, folder, precision=p) for p in precisions}
    samples: dict[str, list[float]] = {p: [] for p in precisions}
    for _ in range(_TIMING_ROUNDS + 1):  # the first round warms up
        for precision, embedder in embedders.items():
            start = time.perf_counter()
            for question in questions:
                embedder.embed_queries([question])
            embedder.embed_queries(questions[:8])
            samples[precision].append((time.perf_counter() - start) * 1000)
    ms = {p: float(np.median(times[1:])) for p, times in samples.items()}
    faster = {"choice": min(ms, key=ms.__getitem__), "ms": ms, "flags": flags}
    settings = read_settings(folder) or {}
    settings["faster"] = faster
    _write_settings(folder, settings)
    return faster


def _write_settings(folder: Path, settings: dict[str, Any]) -> None:
    text = json.dumps(settings, indent=1, ensure_ascii=False)
    (folder / f"{SETTINGS}.tmp").write_text(text, encoding="utf-8")
    (folder / f"{SETTINGS}.tmp").replace(folder / SETTINGS)


def _convert(model: Any, name: str, dest: Path, stamp: dict[str, Any]) -> dict[str, Any]:
    import openvino as ov
    import torch

    tokenizer: Any = model[0].tokenizer
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        mask = torch.ones(2, 8, dtype=torch.long)
        mask[1, 5:] = 0  # a padded row, so that tracing keeps the attention mask
        example = (torch.ones(2, 8, dtype=torch.long), mask)
        shapes = [("input_ids", [-1, -1], ov.Type.i64), ("attention_mask", [-1, -1], ov.Type.i64)]
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python branches on fixed shapes
            pooled = _mean_pooled(model[0].auto_model)
            converted = ov.convert_model(pooled, example_input=example, input=shapes)
        ov.save_model(converted, str(tmp / MODEL_XML), compress_to_fp16=True)
        del converted
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        settings = {
            "model": name, "dimension": _dimension(model),
            "prompts": {key: value or "" for key, value in (model.prompts or {}).items()},
            "max_seq_length": model.max_seq_length, "pad_id": tokenizer.pad_token_id,
            "pad_token": tokenizer.pad_token, "source": stamp, "verified": {},
        }  # fmt: skip
        _write_settings(tmp, settings)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return settings
