"""Retrieval benchmarks on this machine: warm query latency (and where it goes), a synthetic corpus of
100,000 passages, the index build rate, the cold start to a first answer, and peak memory.

    python -m benchmarks.retrieval [--quick] [--json OUT]

Run it from the repository root, with the model installed and the index built (`catabot index`).
It prints a Markdown table with the targets beside the results; it asserts nothing. The machine may be
shared: the "others' CPU" column of the latency rows says how busy the other processes were meanwhile.
"""

from __future__ import annotations

import argparse
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
import torch

from bot.app import open_searcher
from bot.config import Config, load_config
from bot.embedding.base import Embedder, Vectors
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
    measure: str
    result: str
    target: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class OtherLoad:
    """CPU time used by other processes (and stolen by the hypervisor) since creation, as a share of
    all cores: 0 on a quiet machine, 0.5 when one of two cores was busy elsewhere."""

    def __init__(self) -> None:
        self._me = psutil.Process()
        self._start = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        t = psutil.cpu_times()
        busy = sum(getattr(t, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal"))
        own = self._me.cpu_times()
        return busy, own.user + own.system, time.monotonic()

    def share(self) -> float:
        (busy0, own0, t0), (busy1, own1, t1) = self._start, self._sample()
        return max(0.0, ((busy1 - busy0) - (own1 - own0)) / ((t1 - t0) * (psutil.cpu_count() or 1)))


class PrecomputedEmbedder:
    """Query vectors computed beforehand, to time the search without the model."""

    def __init__(self, name: str, vectors: dict[str, Vectors]) -> None:
        self._name, self._vectors = name, vectors
        self._dimension = len(next(iter(vectors.values())))

    @property
    def name(self) -> str:
        return self._name  # the real model's name: the answer calibration is looked up by it

    @property
    def dimension(self) -> int:
        return self._dimension

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return np.stack([self._vectors[t] for t in texts])

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        raise NotImplementedError


def load_questions() -> list[str]:
    return [
        json.loads(line)["question"]
        for path in QUESTION_FILES
        if path.exists()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


def time_calls(fn: Callable[[str], object], questions: Sequence[str], n: int) -> list[float]:
    """Milliseconds of `n` calls cycling through the questions, after WARMUP untimed calls."""
    for i in range(WARMUP):
        fn(questions[i % len(questions)])
    samples: list[float] = []
    for i in range(n):
        question = questions[i % len(questions)]
        start = time.perf_counter()
        fn(question)
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def latency(
    section: str,
    measure: str,
    fn: Callable[[str], object],
    questions: Sequence[str],
    n: int,
    target: str = "",
) -> Row:
    load = OtherLoad()
    samples = time_calls(fn, questions, n)
    p50, p95 = (float(np.percentile(samples, q)) for q in (50, 95))
    data = {"p50_ms": p50, "p95_ms": p95, "max_ms": max(samples), "n": n, "others_cpu": load.share()}
    result = (
        f"p50 {p50:.2f} · p95 {p95:.2f} · max {max(samples):.1f} ms (others' CPU {data['others_cpu']:.0%})"
    )
    return Row(section, measure, result, target, data)


def value(section: str, measure: str, number: float, unit: str, target: str = "", digits: int = 1) -> Row:
    return Row(section, measure, f"{number:.{digits}f} {unit}", target, {"value": number, "unit": unit})


def rss_mb() -> float:
    gc.collect()
    return float(psutil.Process().memory_info().rss) / MB


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def query_vectors(searcher: Searcher, questions: Sequence[str]) -> dict[str, Vectors]:
    """The real query vectors, keyed by the normalised text the searcher embeds."""
    texts = sorted({searcher.check_question(q) for q in questions})
    return dict(zip(texts, searcher.embedder.embed_queries(texts), strict=True))


def warm_rows(searcher: Searcher, questions: Sequence[str], n: int) -> list[Row]:
    """1. Warm latency of `search`, then its parts: query embedding (tokenizer, transformer) and the rest."""
    embedder = searcher.embedder
    rows = [latency("1 warm", "search(q), end to end", searcher.search, questions, n, "p95 ≤ 40 ms")]
    rows.append(value("5 memory", "peak RSS, warm-query process", peak_rss_mb(), "MB"))
    rows.append(
        latency(
            "1 warm", "  query embedding (embed_queries)", lambda q: embedder.embed_queries([q]), questions, n
        )
    )
    model = getattr(embedder, "_model", None)  # the SentenceTransformer, read only, to split its time
    if model is not None and hasattr(model, "preprocess"):
        prompt = (model.prompts or {}).get("query")
        features = {q: model.preprocess([q], prompt=prompt) for q in set(questions)}

        def forward(question: str) -> object:
            with torch.inference_mode():
                return model(features[question])

        tokens = [int(f["input_ids"].shape[1]) for f in features.values()]
        rows.append(
            latency("1 warm", "    tokenizer", lambda q: model.preprocess([q], prompt=prompt), questions, n)
        )
        rows.append(latency("1 warm", "    transformer forward", forward, questions, n))
        rows.append(value("1 warm", "    query length (mean, with prompt)", float(np.mean(tokens)), "tokens"))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            embed_one = latency(
                "1 warm",
                "  query embedding, 1 torch thread",
                lambda q: embedder.embed_queries([q]),
                questions,
                n,
            )
        finally:
            torch.set_num_threads(threads)
        rows.append(embed_one)
    searcher.embedder = PrecomputedEmbedder(embedder.name, query_vectors(searcher, questions))
    try:
        rows.append(
            latency(
                "1 warm", "  rest of search (BM25, FAISS, fusion, excerpt)", searcher.search, questions, n
            )
        )
    finally:
        searcher.embedder = embedder
    return rows


def synthetic_index(real: Index, size: int, dimension: int, model: str, seed: int = 0) -> Index:
    """`size` passages of 30-80 words drawn from the real passages' words (frequent words stay frequent),
    four per resource, with random unit vectors."""
    rng = np.random.default_rng(seed)
    words = [w for chunk in real.chunks for w in re.findall(r"[^\W\d_]{2,}", chunk.text)]
    lengths = rng.integers(30, 81, size=size).tolist()
    picks = rng.integers(0, len(words), size=sum(lengths)).tolist()
    chunks: list[Chunk] = []
    start = 0
    for i, length in enumerate(lengths):
        sentence = " ".join(words[j] for j in picks[start : start + length])
        start += length
        resource_id = f"synthetic-{i // 4}"
        chunks.append(
            Chunk(
                id=f"{resource_id}#{i % 4}",
                resource_id=resource_id,
                title=" ".join(sentence.split()[:5]).capitalize(),
                heading="",
                text=sentence[0].upper() + sentence[1:] + ".",
                url=f"https://example.org/{resource_id}",
                type="fiche",
                roles=(),
                tags=(),
            )
        )
    vectors = rng.standard_normal((size, dimension), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {"model": model, "dimension": dimension, "chunks": size, "synthetic": True}
    return Index(chunks, vectors, manifest)


def synthetic_rows(real: Searcher, questions: Sequence[str], size: int, n: int) -> list[Row]:
    """2. The searcher, FAISS flat vs HNSW and BM25 on `size` synthetic passages, with the real embedder."""
    section, label = "2 synthetic", f"{size:,}"
    before = rss_mb()
    start = time.perf_counter()
    index = synthetic_index(real.index, size, real.embedder.dimension, real.embedder.name)
    searcher = Searcher(index, real.embedder, real.config)
    load_s = time.perf_counter() - start
    memory = rss_mb() - before
    vectors = query_vectors(searcher, questions)
    query = {q: vectors[searcher.check_question(q)].reshape(1, -1) for q in questions}
    depth = real.config.candidates
    rows = [
        value(
            section,
            f"corpus: {label} passages, 30-80 words, dimension {index.vectors.shape[1]}",
            size,
            "passages",
            digits=0,
        ),
        value(section, "building Index + Searcher (FAISS, BM25, token sets)", load_s, "s"),
        value(section, "memory of the index (RSS growth)", memory, "MB", digits=0),
        value(
            section,
            "  of which vectors (kept twice: numpy + FAISS)",
            2 * index.vectors.nbytes / MB,
            "MB",
            digits=0,
        ),
        latency(section, "search(q), end to end", searcher.search, questions, n, "p95 ≤ 100 ms"),
    ]
    searcher.embedder = PrecomputedEmbedder(real.embedder.name, vectors)
    rows.append(latency(section, "  rest of search (without the embedding)", searcher.search, questions, n))
    searcher.embedder = real.embedder
    rows.append(
        latency(
            section,
            "  BM25 alone (tokenize + scores)",
            lambda q: index.lexical.scores(tokenize(q)),
            questions,
            n,
        )
    )
    rows.append(
        Row(section, "dense index used by bot/retrieval/index.py", type(index.dense).__name__ + " (exact)")
    )
    rows.append(
        latency(
            section,
            f"  {type(index.dense).__name__} search alone, k={depth}",
            lambda q: index.dense.search(query[q], depth),
            questions,
            n,
        )
    )
    rows += hnsw_rows(section, index, query, questions, n, depth)
    return rows


def hnsw_rows(
    section: str, index: Index, query: dict[str, Vectors], questions: Sequence[str], n: int, depth: int
) -> list[Row]:
    """faiss.IndexHNSWFlat on the same vectors: build time, search time, memory, recall@10 vs exact."""
    hnsw = faiss.IndexHNSWFlat(index.vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
    start = time.perf_counter()
    hnsw.add(index.vectors)
    build_s = time.perf_counter() - start
    hnsw.hnsw.efSearch = HNSW_EF_SEARCH
    unique = sorted(set(questions))
    exact = index.dense.search(np.vstack([query[q] for q in unique]), 10)[1]
    approx = hnsw.search(np.vstack([query[q] for q in unique]), 10)[1]
    recall = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]))
    name = f"IndexHNSWFlat M={HNSW_M} efSearch={HNSW_EF_SEARCH}"
    return [
        latency(
            section, f"  {name} search alone, k={depth}", lambda q: hnsw.search(query[q], depth), questions, n
        ),
        value(section, f"  {name} recall@10 vs exact", recall, "", digits=3),
        value(section, f"  {name} build time", build_s, "s"),
        value(section, f"  {name} size", len(faiss.serialize_index(hnsw)) / MB, "MB", digits=0),
    ]


def build_rows(config: Config, embedder: Embedder) -> list[Row]:
    """3. Building the real index from scratch into a temporary folder, then again with nothing changed."""
    knowledge = config.path(config.knowledge_dir)
    with tempfile.TemporaryDirectory(prefix="catabot-bench-") as tmp:
        start = time.perf_counter()
        full = build_index(knowledge, Path(tmp), embedder)
        full_s = time.perf_counter() - start
        start = time.perf_counter()
        again = build_index(knowledge, Path(tmp), embedder)
        again_s = time.perf_counter() - start
    return [
        value("3 build", f"full build: {full.embedded} passages embedded", full_s, "s"),
        value("3 build", "  embedding rate", full.embedded / full_s, "passages/s"),
        value("3 build", f"incremental rebuild, nothing changed ({again.embedded} embedded)", again_s, "s"),
    ]


def cold_start_rows(runs: int) -> list[Row]:
    """4-5. Wall time and peak RSS of fresh `catabot ask` processes (the index already built)."""
    script = Path(sys.executable).with_name("catabot")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    walls: list[float] = []
    peaks: list[float] = []
    for _ in range(runs):
        with tempfile.TemporaryFile() as out:
            start = time.perf_counter()
            process = subprocess.Popen([*command, "ask", COLD_QUESTION], cwd=ROOT, stdout=out, stderr=out)
            _, status, usage = os.wait4(process.pid, 0)  # wait4: this child's own peak RSS
            walls.append(time.perf_counter() - start)
            process.returncode = os.waitstatus_to_exitcode(status)
            peaks.append(usage.ru_maxrss / 1024)
            if process.returncode != 0:
                out.seek(0)
                print(
                    f"cold start failed ({process.returncode}):\n{out.read().decode()[-2000:]}",
                    file=sys.stderr,
                )
    wall = float(np.median(walls))
    return [
        Row(
            "4 cold start",
            f'`catabot ask "{COLD_QUESTION}"`, median of {runs}',
            f"{wall:.2f} s (runs: " + ", ".join(f"{w:.2f}" for w in walls) + ")",
            "",
            {"median_s": wall, "runs_s": walls},
        ),
        value("5 memory", "peak RSS, cold-start process", max(peaks), "MB"),
    ]


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo")
    models = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    return {
        "cores": os.cpu_count(),
        "cpu": models[0] if models else platform.processor(),
        "python": platform.python_version(),
        "torch": f"{torch.__version__}, {torch.get_num_threads()} threads",
        "faiss": f"{faiss.__version__}, {faiss.omp_get_max_threads()} OpenMP threads",
        "numpy": np.__version__,
        "load average": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def markdown(info: dict[str, Any], rows: Sequence[Row]) -> str:
    lines = [f"- {key}: {val}" for key, val in info.items()]
    lines += ["", "| Section | Measure | Result | Target |", "|---|---|---|---|"]
    for r in rows:
        depth = (len(r.measure) - len(r.measure.lstrip())) // 2  # sub-measures are indented
        lines.append(f"| {r.section} | {'↳ ' * depth}{r.measure.strip()} | {r.result} | {r.target} |")
    return "\n".join(lines)


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.retrieval", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast smoke run")
    parser.add_argument("--json", type=Path, metavar="OUT", help="also write the results as JSON")
    args = parser.parse_args(argv)
    queries, synthetic_size, cold_runs = (50, 10_000, 1) if args.quick else (200, 100_000, 3)
    questions = load_questions()
    config = load_config()
    knowledge, index_dir = config.path(config.knowledge_dir), config.path(config.index_dir)
    reason = stale_reason(index_dir, knowledge, config.embedding.model)
    if reason is not None:
        print(f"note: the index is stale ({reason}); the first `catabot ask` rebuilds it.", file=sys.stderr)
    say(f"{len(questions)} questions; cold start x{cold_runs}")
    rows = cold_start_rows(cold_runs)
    say("loading the model and the index in this process")
    start = time.perf_counter()
    searcher = open_searcher(config, say=say)
    rows.append(
        value("4 cold start", "in-process open_searcher (model + index)", time.perf_counter() - start, "s")
    )
    info = machine_info()
    say(f"warm queries x{queries}")
    rows += warm_rows(searcher, questions, queries)
    say("index build")
    rows += build_rows(config, searcher.embedder)
    say(f"synthetic corpus of {synthetic_size:,} passages")
    rows += synthetic_rows(searcher, questions, synthetic_size, queries)
    rows.append(
        value("5 memory", "peak RSS, this whole benchmark (incl. synthetic corpus)", peak_rss_mb(), "MB")
    )
    info["load average at the end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    rows.sort(key=lambda r: r.section[0])  # stable: keeps the order within a section
    print(markdown(info, rows))
    if args.json:
        payload = {"quick": args.quick, "machine": info, "rows": [asdict(r) for r in rows]}
        args.json.write_text(json.dumps(payload, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
