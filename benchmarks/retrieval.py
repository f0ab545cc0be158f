"""Retrieval benchmarks on this machine: warm query latency and where it goes, a synthetic corpus of
100,000 passages, the index build rate, the cold start to a first answer, and peak memory.

    python -m benchmarks.retrieval [--quick] [--json OUT]

Run it from the repository root with the model installed and the index built (`catabot index`). It prints
a Markdown table with the targets beside the results and asserts nothing. The machine may be shared: the
"others" figure of a latency row is the CPU share other processes used while it was measured
(0% = quiet machine, 50% = one of two cores busy elsewhere), shown when the row took a second or more.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import psutil

from bot.app import open_searcher
from bot.config import Config, load_config
from bot.embedding.base import Vectors
from bot.embedding.cache import QueryCache
from bot.retrieval.chunker import Chunk
from bot.retrieval.index import Index, build_index, stale_reason
from bot.retrieval.lexical import tokenize
from bot.retrieval.search import Searcher

ROOT = Path(__file__).resolve().parent.parent
QUESTION_FILES = (ROOT / "eval" / "calibration.jsonl", ROOT.parent / "shared" / "eval" / "dev.jsonl")
COLD_QUESTION = "Quels sont les quatre métiers ?"
WARMUP = 10
HNSW_M, HNSW_EF_SEARCH = 32, 64
MB = 1024 * 1024


@dataclass(frozen=True)
class Row:
    section: str
    measure: str  # two leading spaces per level of detail
    result: str
    target: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class OtherLoad:
    """CPU time used by other processes (or stolen by the hypervisor) since creation, per core."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        t = psutil.cpu_times()
        busy = sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
        own = self._me.cpu_times()
        return busy, own.user + own.system, time.monotonic()

    def share(self) -> tuple[float, float]:
        """(share of all cores used by others, seconds elapsed)."""
        (busy0, own0, t0), (busy1, own1, t1) = self._start, self._sample()
        others = (busy1 - busy0) - (own1 - own0)
        return max(0.0, others / ((t1 - t0) * (psutil.cpu_count() or 1))), t1 - t0


@dataclass
class Report:
    questions: Sequence[str]
    n: int
    section: str = ""
    rows: list[Row] = field(default_factory=list)

    def time(self, measure: str, fn: Callable[[str], object], target: str = "") -> Row:
        """p50/p95/max milliseconds of `n` calls cycling through the questions, after WARMUP calls."""
        for i in range(WARMUP):
            fn(self.questions[i % len(self.questions)])
        load, samples = OtherLoad(), []
        for i in range(self.n):
            question = self.questions[i % len(self.questions)]
            start = time.perf_counter()
            fn(question)
            samples.append((time.perf_counter() - start) * 1000)
        others, elapsed = load.share()
        p50, p95, top = float(np.percentile(samples, 50)), float(np.percentile(samples, 95)), max(samples)
        data = {"p50_ms": p50, "p95_ms": p95, "max_ms": top, "n": self.n, "others_cpu": others}
        shown = f", others {others:.0%}" if elapsed >= 1 else ""
        result = f"p50 {p50:.2f} · p95 {p95:.2f} · max {top:.1f} ms{shown}"
        return self.add(Row(self.section, measure, result, target, data))

    def value(self, measure: str, number: float, unit: str, digits: int = 1, target: str = "") -> Row:
        data = {"value": number, "unit": unit}
        return self.add(Row(self.section, measure, f"{number:,.{digits}f} {unit}", target, data))

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row


class PrecomputedEmbedder:
    """Query vectors computed beforehand, to time the search without the model."""

    def __init__(self, name: str, vectors: dict[str, Vectors]) -> None:
        self._name, self._vectors = name, vectors

    @property
    def name(self) -> str:
        return self._name  # the real model's name: the answer calibration is looked up by it

    @property
    def dimension(self) -> int:
        return len(next(iter(self._vectors.values())))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._vectors[t] for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        raise NotImplementedError


def load_questions() -> list[str]:
    lines = [
        line for path in QUESTION_FILES if path.exists() for line in path.read_text("utf-8").splitlines()
    ]
    return [json.loads(line)["question"] for line in lines if line.strip()]


def rss_mb() -> float:
    """Current RSS, after returning freed memory to the system so that differences mean something."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # glibc only
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return float(psutil.Process().memory_info().rss) / MB


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def query_vectors(searcher: Searcher, questions: Sequence[str]) -> dict[str, Vectors]:
    """The real query vectors, keyed by the normalised text the searcher embeds."""
    texts = sorted({searcher.check_question(q) for q in questions})
    return dict(zip(texts, searcher.embedder.embed_queries(texts), strict=True))


def without_model(searcher: Searcher, vectors: dict[str, Vectors]) -> Callable[[str], object]:
    """`searcher.search` with the query vectors looked up instead of computed."""
    precomputed = PrecomputedEmbedder(searcher.embedder.name, vectors)

    def search(question: str) -> object:
        real, searcher.embedder = searcher.embedder, precomputed
        try:
            return searcher.search(question)
        finally:
            searcher.embedder = real

    return search


def warm(report: Report, searcher: Searcher) -> None:
    """1. Warm `search` latency, then its parts: the query embedding (tokenizer, transformer), the rest."""
    report.section = "1 warm"
    embed = searcher.embedder.embed_queries
    report.time("search(q), end to end", searcher.search, "p95 ≤ 40 ms")
    report.rows.append(Row("5 memory", "peak RSS, warm-query process", f"{peak_rss_mb():,.0f} MB"))
    report.time("  query embedding (embed_queries)", lambda q: embed([q]))
    model = getattr(searcher.embedder, "_model", None)  # the SentenceTransformer, only to split its time
    if searcher.embedder.backend == "torch" and model is not None and hasattr(model, "preprocess"):
        import torch

        prompt = (model.prompts or {}).get("query")
        features = {q: model.preprocess([q], prompt=prompt) for q in set(report.questions)}

        def forward(question: str) -> object:
            with torch.inference_mode():
                return model(features[question])

        report.time("    tokenizer", lambda q: model.preprocess([q], prompt=prompt))
        report.time("    transformer forward", forward)
        report.value(
            "    query length with the prompt, mean",
            np.mean([f["input_ids"].shape[1] for f in features.values()]),
            "tokens",
        )
    report.time(
        "  rest of search (BM25, FAISS, fusion, excerpts)",
        without_model(searcher, query_vectors(searcher, report.questions)),
    )


def synthetic_chunks(real: Index, size: int, rng: np.random.Generator) -> list[Chunk]:
    """Passages of 30-80 words drawn from the real passages' words (frequent words stay frequent),
    four per resource."""
    words = [w for chunk in real.chunks for w in re.findall(r"[^\W\d_]{2,}", chunk.text)]
    lengths = rng.integers(30, 81, size=size).tolist()
    picks = rng.integers(0, len(words), size=sum(lengths)).tolist()
    chunks: list[Chunk] = []
    end = 0
    for i, length in enumerate(lengths):
        sentence = " ".join(words[j] for j in picks[end : end + length])
        end += length
        resource_id = f"synthetic-{i // 4}"
        title, text = " ".join(sentence.split()[:5]).capitalize(), sentence[0].upper() + sentence[1:] + "."
        chunks.append(Chunk(
            id=f"{resource_id}#{i % 4}", resource_id=resource_id, title=title, heading="", text=text,
            url=f"https://example.org/{resource_id}", type="fiche", roles=(), tags=(),
        ))  # fmt: skip
    return chunks


def unit_rows(vectors: Vectors) -> Vectors:
    norms: Vectors = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / norms


def synthetic(report: Report, real: Searcher, size: int) -> None:
    """2. The searcher, BM25, FAISS flat and HNSW on `size` synthetic passages, with the real embedder."""
    report.section = "2 synthetic"
    rng = np.random.default_rng(0)
    before, start = rss_mb(), time.perf_counter()
    dimension = real.embedder.dimension
    vectors = unit_rows(rng.standard_normal((size, dimension), dtype=np.float32))
    manifest = {"model": real.embedder.name, "dimension": dimension, "chunks": size, "synthetic": True}
    index = Index(synthetic_chunks(real.index, size, rng), vectors, manifest)
    searcher = Searcher(index, real.embedder, real.config)
    report.value(f"building Index + Searcher for {size:,} passages", time.perf_counter() - start, "s")
    report.value("  memory of the index (RSS growth)", rss_mb() - before, "MB", 0)
    report.value("    of which the vectors, held twice (numpy + FAISS)", 2 * vectors.nbytes / MB, "MB", 0)
    report.time("search(q), end to end", searcher.search, "p95 ≤ 100 ms")
    queries = query_vectors(searcher, report.questions)
    report.time("  rest of search (without the embedding)", without_model(searcher, queries))
    report.time("  BM25 alone (tokenize + scores)", lambda q: index.lexical.scores(tokenize(q)))
    one = {q: queries[searcher.check_question(q)].reshape(1, -1) for q in report.questions}
    depth = real.config.candidates
    kind = type(index.dense).__name__
    report.add(
        Row(report.section, "dense index of bot/retrieval/index.py", f"{kind} (exact), searched twice")
    )
    hnsw(report, "random unit vectors", vectors, one, depth)
    # Random vectors in 384 dimensions are nearly equidistant, the worst case for a graph index. Real e5
    # vectors share a narrow cone: mixtures of three real passage vectors plus noise come closer to them.
    picks = rng.integers(0, len(real.index.vectors), size=(size, 3))
    weights = rng.dirichlet(np.ones(3), size=size).astype(np.float32)
    mixed: Vectors = np.zeros((size, dimension), dtype=np.float32)
    for k in range(3):
        mixed += weights[:, k, None] * real.index.vectors[picks[:, k]]
    mixed = unit_rows(
        mixed + rng.standard_normal(mixed.shape, dtype=np.float32) * np.float32(0.2 / dimension**0.5)
    )
    hnsw(report, "e5-like mixtures of real vectors", mixed, one, depth)


def hnsw(report: Report, label: str, vectors: Vectors, one: dict[str, Vectors], depth: int) -> None:
    """faiss.IndexHNSWFlat vs the exact IndexFlatIP on these vectors: build, search time, recall@10, size."""
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    graph = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    start = time.perf_counter()
    graph.add(vectors)
    build_s = time.perf_counter() - start
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    queries = np.vstack(list({q.tobytes(): q for q in one.values()}.values()))
    exact, approx = flat.search(queries, 10)[1], graph.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    report.time(f"  {label}: IndexFlatIP search alone, k={depth}", lambda q: flat.search(one[q], depth))
    hnsw_name = f"IndexHNSWFlat (M={HNSW_M}, efSearch={HNSW_EF_SEARCH})"
    report.time(f"  {label}: {hnsw_name} search alone, k={depth}", lambda q: graph.search(one[q], depth))
    report.value("    recall@10 vs exact", float(recall), "", 3)
    report.value("    build time", build_s, "s")
    report.value("    size", len(faiss.serialize_index(graph)) / MB, "MB", 0)


def build(report: Report, config: Config, searcher: Searcher) -> None:
    """3. Building the real index from scratch into a temporary folder, then again with nothing changed."""
    report.section = "3 build"
    knowledge = config.path(config.knowledge_dir)
    with tempfile.TemporaryDirectory(prefix="catabot-bench-") as tmp:
        start = time.perf_counter()
        full = build_index(knowledge, Path(tmp), searcher.embedder)
        full_s = time.perf_counter() - start
        start = time.perf_counter()
        again = build_index(knowledge, Path(tmp), searcher.embedder)
        again_s = time.perf_counter() - start
    report.value(f"full build, {full.embedded} passages embedded", full_s, "s")
    report.value("  embedding rate", full.embedded / full_s, "passages/s")
    report.value(f"incremental rebuild, nothing changed ({again.embedded} embedded)", again_s, "s")


def cold_start(report: Report, runs: int) -> None:
    """4-5. Wall time and peak RSS of fresh `catabot ask` processes (the index already built)."""
    script = Path(sys.executable).with_name("catabot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    walls: list[float] = []
    peaks: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:
            start = time.perf_counter()
            process = subprocess.Popen([*command, "ask", COLD_QUESTION], cwd=ROOT, stdout=out, stderr=out)
            _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
            walls.append(time.perf_counter() - start)
            process.returncode = os.waitstatus_to_exitcode(status)
            peaks.append(usage.ru_maxrss / 1024)
            if process.returncode != 0:
                out.seek(0)
                print(f"cold start failed:\n{out.read().decode()[-2000:]}", file=sys.stderr)
    median = float(np.median(walls))
    runs_text = ", ".join(f"{w:.2f}" for w in walls)
    report.add(
        Row(
            "4 cold start",
            f'`catabot ask "{COLD_QUESTION}"`, median of {runs}',
            f"{median:.2f} s (runs: {runs_text})",
            "",
            {"median_s": median, "runs_s": walls},
        )
    )
    report.add(
        Row("5 memory", "peak RSS, cold-start process", f"{max(peaks):,.0f} MB", "", {"peaks_mb": peaks})
    )


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.exists() else []
    models = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    flags = next((line for line in lines if line.startswith("flags")), "").split()
    return {
        "cores": os.cpu_count(),
        "cpu": (models[0] if models else platform.processor())
        + (" (avx512_bf16)" if "avx512_bf16" in flags else ""),
        "python": platform.python_version(),
        "faiss": f"{faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads",
        "OMP_NUM_THREADS, OMP_WAIT_POLICY": ", ".join(
            os.environ.get(v, "-") for v in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")
        ),
        "load average at the start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def markdown(info: dict[str, Any], rows: Sequence[Row]) -> str:
    lines = [f"- {key}: {val}" for key, val in info.items()]
    lines += ["", "| Section | Measure | Result | Target |", "|---|---|---|---|"]
    for r in rows:
        depth = (len(r.measure) - len(r.measure.lstrip())) // 2
        lines.append(f"| {r.section} | {'↳ ' * depth}{r.measure.strip()} | {r.result} | {r.target} |")
    return "\n".join(lines)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.retrieval", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--quick", action="store_true", help="10k synthetic passages, 50 queries, 1 cold start"
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args(argv)
    queries, size, cold_runs = (50, 10_000, 1) if args.quick else (200, 100_000, 3)
    config = load_config()
    reason = stale_reason(
        config.path(config.index_dir), config.path(config.knowledge_dir), config.embedding.model
    )
    if reason is not None:
        say(f"note: the index is stale ({reason}): the first cold start rebuilds it")
    report = Report(load_questions(), queries)
    info = machine_info()
    say(f"{len(report.questions)} questions; cold start x{cold_runs}")
    cold_start(report, cold_runs)
    say("loading the model and the index in this process")
    start = time.perf_counter()
    searcher = open_searcher(config, say=say)
    embedder = searcher.embedder
    info["embedding"] = f"{embedder.backend} {embedder.precision}, {config.embedding.threads} query thread(s)"
    report.section = "4 cold start"
    report.value("in-process open_searcher (model + index)", time.perf_counter() - start, "s")
    if isinstance(embedder, QueryCache):  # time the encoder itself; the cache gets its own row
        report.section = "1 warm"
        embedder.embed_queries([searcher.check_question(q) for q in report.questions])  # all asked before
        report.time("search(q), a question asked before (query cache)", searcher.search)
        searcher.embedder = embedder.inner
    say(f"warm queries x{queries}")
    warm(report, searcher)
    say(f"synthetic corpus of {size:,} passages")
    synthetic(report, searcher, size)
    say("index build")
    build(report, config, searcher)
    report.add(
        Row(
            "5 memory",
            "peak RSS, this whole benchmark (with the synthetic corpus)",
            f"{peak_rss_mb():,.0f} MB",
        )
    )
    info["load average at the end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    rows = sorted(report.rows, key=lambda r: r.section[0])  # stable: keeps the order within a section
    print(markdown(info, rows))
    if args.json:
        payload = {"quick": args.quick, "machine": info, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
