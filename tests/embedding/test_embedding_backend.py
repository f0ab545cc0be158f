"""The serving backend: precision from the processor, the check against torch, the question cache, the
index following the backend, and a serving path without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from bot.config import Config, load_config
from bot.embedding.base import Vectors, concurrency
from bot.embedding.cache import QueryCache
from bot.embedding.convert import agreement, probe_texts
from bot.embedding.fake import FakeEmbedder
from bot.embedding.install import ModelUnavailable, find_model, install_model, load_embedder
from bot.embedding.openvino_embedder import candidate_precisions, choose_precision, cpu_flags
from bot.retrieval.index import build_index, stale_reason
from tests.conftest import ROOT, write_config

CPUINFO = "processor\t: {n}\nmodel name\t: Test CPU\nflags\t\t: fpu sse2 avx2 avx512f {extra}\n\n"


def _cpuinfo(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text("".join(CPUINFO.format(n=n, extra=extra) for n in range(2)), encoding="utf-8")
    return path


def test_bf16_needs_amx_or_a_timing_on_this_processor_else_fp32(tmp_path: Path) -> None:
    with_amx = cpu_flags(_cpuinfo(tmp_path, "avx512_bf16 amx_tile amx_bf16"))
    assert "amx_bf16" in with_amx
    assert candidate_precisions("auto", with_amx) == ("bf16",)
    assert choose_precision("auto", with_amx) == "bf16"
    without_bf16 = cpu_flags(_cpuinfo(tmp_path, "avx512_vnni"))
    assert candidate_precisions("auto", without_bf16) == ("fp32",)
    assert choose_precision("auto", without_bf16, {"faster": {"choice": "bf16", "flags": []}}) == "fp32"
    assert choose_precision("auto", cpu_flags(tmp_path / "missing")) == "fp32"
    # AVX-512 bf16 without AMX: both are installed and timed; fp32 until the timing says otherwise.
    avx512_bf16 = cpu_flags(_cpuinfo(tmp_path, "avx512_bf16 avx512_vnni"))
    assert candidate_precisions("auto", avx512_bf16) == ("fp32", "bf16")
    assert choose_precision("auto", avx512_bf16) == "fp32"
    timed = {"faster": {"choice": "bf16", "ms": {"fp32": 300.0, "bf16": 200.0}, "flags": ["avx512_bf16"]}}
    assert choose_precision("auto", avx512_bf16, timed) == "bf16"
    assert choose_precision("auto", with_amx | {"avx512_bf16"}, timed) == "bf16"
    timed_elsewhere = {"faster": {"choice": "bf16", "flags": ["amx_bf16", "avx512_bf16"]}}
    assert choose_precision("auto", avx512_bf16, timed_elsewhere) == "fp32"
    assert choose_precision("bf16", without_bf16) == "bf16"  # the configured precision wins
    assert choose_precision("fp32", with_amx, timed) == "fp32"


def test_a_conversion_that_drifts_is_refused_and_an_exact_one_accepted() -> None:
    rng = np.random.default_rng(0)

    def unit(rows: int) -> Vectors:
        vectors = rng.normal(size=(rows, 32)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    questions, passages = unit(16), unit(24)
    exact = agreement((questions, passages), (questions.copy(), passages.copy()))
    assert exact.problems() == [] and exact.top1 == 1.0 and exact.top5_overlap == 1.0
    noisy = [v + rng.normal(scale=0.3, size=v.shape).astype(np.float32) for v in (questions, passages)]
    noisy = [v / np.linalg.norm(v, axis=1, keepdims=True) for v in noisy]
    drifted = agreement((questions, passages), (noisy[0], noisy[1]))
    assert any("minimum cosine" in problem for problem in drifted.problems())
    assert drifted.min_cosine < 0.99


class CountingEmbedder(FakeEmbedder):
    def __init__(self, backend: str = "fake") -> None:
        super().__init__(64)
        self.queries: list[str] = []
        self._backend = backend

    @property
    def backend(self) -> str:
        return self._backend

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        self.queries += list(texts)
        return super().embed_queries(texts)


def test_a_repeated_question_skips_the_encoder_and_gets_the_same_vector() -> None:
    inner = CountingEmbedder()
    cache = QueryCache(inner, size=2)
    first = cache.embed_queries(["Comment rejoindre le réseau ?", "Un tiers-lieu ?"])
    again = cache.embed_queries(["  Comment   rejoindre le réseau ? ", "Comment rejoindre le réseau ?"])
    assert inner.queries == ["Comment rejoindre le réseau ?", "Un tiers-lieu ?"]
    np.testing.assert_array_equal(again[0], first[0])
    np.testing.assert_array_equal(again[1], first[0])
    cache.embed_queries(["Une troisième question"])  # the cache keeps 2: the oldest one is forgotten
    cache.embed_queries(["Un tiers-lieu ?"])
    assert inner.queries[-2:] == ["Une troisième question", "Un tiers-lieu ?"]
    assert (cache.name, cache.backend, cache.dimension) == (inner.name, "fake", 64)


def test_changing_backend_or_precision_rebuilds_the_index(fake_config: Config) -> None:
    knowledge, index = fake_config.path(fake_config.knowledge_dir), fake_config.path(fake_config.index_dir)
    build_index(knowledge, index, FakeEmbedder(64))
    model = FakeEmbedder(64).name
    assert stale_reason(index, knowledge, model, backend="fake", precision="fp32") is None
    reason = stale_reason(index, knowledge, model, backend="openvino", precision="fp32")
    assert reason is not None and "backend" in reason
    reason = stale_reason(index, knowledge, model, backend="fake", precision="bf16")
    assert reason is not None and "precision" in reason
    other = CountingEmbedder(backend="openvino")
    report = build_index(knowledge, index, other)
    assert report.embedded == report.chunks  # no vector of the other backend is reused
    manifest = json.loads((index / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["backend"], manifest["precision"]) == ("openvino", "fp32")


def test_openvino_demanded_without_a_conversion_says_how_to_install(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "modules.json").write_text("[]", encoding="utf-8")
    (tmp_path / "cache").mkdir()
    config = load_config(
        write_config(tmp_path, model=str(model)),
        env={"CATABOT_EMBEDDING_BACKEND": "openvino", "CATABOT_EMBEDDING_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert find_model(config) == model
    with pytest.raises(ModelUnavailable, match="catabot model install"):
        load_embedder(config)


@pytest.mark.model
def test_the_converted_model_encodes_like_torch() -> None:
    config = load_config(ROOT / "config.yaml", env={"CATABOT_EMBEDDING_BACKEND": "openvino"})
    install_model(config)  # converts and checks only when not done yet
    served = load_embedder(config)
    assert served.backend == "openvino"
    # torch stays available as a configured fallback
    torch_model = load_embedder(load_config(ROOT / "config.yaml", env={"CATABOT_EMBEDDING_BACKEND": "torch"}))
    assert (torch_model.backend, torch_model.precision) == ("torch", "fp32")
    questions, passages = probe_texts()
    texts = [*questions[:6], "Combien de catalyseurs en Bretagne ? " * 20]  # a long one, padded batch
    cosines = np.sum(served.embed_queries(texts) * torch_model.embed_queries(texts), axis=1)
    assert cosines.min() > 0.999
    cosines = np.sum(served.embed_passages(passages) * torch_model.embed_passages(passages), axis=1)
    assert cosines.min() > 0.999


@pytest.mark.model
def test_the_serving_path_does_not_import_torch() -> None:
    script = (
        "import sys\n"
        "from bot.config import load_config\n"
        "from bot.app import open_searcher\n"
        "import bot.telegram\n"
        f"searcher = open_searcher(load_config({str(ROOT / 'config.yaml')!r}), say=lambda _: None)\n"
        "answer = searcher.search('Comment rejoindre le réseau ?')\n"
        "print(searcher.embedder.backend, answer.best is not None,\n"
        "      sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT, timeout=600
    )
    assert result.stdout.split() == ["openvino", "True", "[]"]


@pytest.mark.model
def test_batches_encoded_at_once_on_two_streams_get_the_vectors_of_one_at_a_time() -> None:
    config = load_config(
        ROOT / "config.yaml", env={"CATABOT_EMBEDDING_BACKEND": "openvino", "CATABOT_EMBEDDING_STREAMS": "2"}
    )
    install_model(config)
    served = load_embedder(config)
    assert concurrency(served) == 2
    questions, passages = probe_texts()
    batches = [questions[:8], questions[8:], passages[:8]]
    alone = [served.embed_queries(batch) for batch in batches]
    with ThreadPoolExecutor(3) as pool:  # three batches for two streams: one waits for a free stream
        together = list(pool.map(served.embed_queries, batches))
    for one, other in zip(alone, together, strict=True):
        assert np.sum(one * other, axis=1).min() > 0.99999
