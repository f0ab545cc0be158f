"""The embedding backends side by side on this machine: torch fp32, OpenVINO fp32 and bf16.

    python -m benchmarks.backends [--rounds 6] [--cold 3] [--json OUT]

One worker process per backend loads the model (queries on `embedding.threads`, 1 by default), builds the
index into a temporary folder (the build rate, every core) and evaluates both eval files with it; then the
workers time text in -> normalised vectors out for batches of 1, 8 and 50 questions in interleaved rounds
(the machine may be shared: each round runs every backend once, and the ratios to torch are per round).
Quality against torch: minimum cosine and dense top-10 overlap of the question and passage vectors.
Cold start: fresh `catabot ask` processes per backend, interleaved, on the index each worker built.
Run `catabot model install` for both precisions first (CATABOT_EMBEDDING_PRECISION=bf16 for the second).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EVAL_FILES = {"dev": ROOT / "eval" / "dev.jsonl", "calibration": ROOT / "eval" / "calibration.jsonl"}
OPTIONS = ("torch-fp32", "openvino-fp32", "openvino-bf16")
BATCHES = {1: 20, 8: 4, 50: 2}  # batch size: calls per round
COLD_QUESTION = "Quels sont les quatre métiers ?"


def option_env(option: str, index_dir: Path) -> dict[str, str]:
    backend, precision = option.split("-")
    return {
        **os.environ,
        "CATABOT_EMBEDDING_BACKEND": backend,
        "CATABOT_EMBEDDING_PRECISION": precision,
        "CATABOT_EMBEDDING_QUERY_CACHE": "0",
        "CATABOT_INDEX_DIR": str(index_dir / option),
    }


def questions() -> list[str]:
    lines = [line for path in EVAL_FILES.values() for line in path.read_text("utf-8").splitlines()]
    return [json.loads(line)["question"] for line in lines if line.strip()]


def rss_mb() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def worker(option: str, index_dir: Path) -> None:
    """Runs in its own process: answers the parent's commands ("round", "rss") with JSON lines."""
    from bot.config import load_config
    from bot.embedding.install import load_embedder
    from bot.retrieval.evaluate import evaluate, load_cases
    from bot.retrieval.index import build_index, load_index
    from bot.retrieval.search import Searcher

    config = load_config(ROOT / "config.yaml", env=option_env(option, index_dir))
    start = time.perf_counter()
    embedder = load_embedder(config)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    built = build_index(config.path(config.knowledge_dir), config.path(config.index_dir), embedder)
    build_s = time.perf_counter() - start
    searcher = Searcher(load_index(config.path(config.index_dir)), embedder, config.retrieval)
    metrics = {
        name: {mode: dataclasses.asdict(m) for mode, m in evaluate(searcher, load_cases(path)).items()}
        for name, path in EVAL_FILES.items()
    }
    texts = [searcher.check_question(q) for q in questions()]
    np.save(index_dir / f"{option}-queries.npy", embedder.embed_queries(texts))
    ready = {"load_s": load_s, "build_s": build_s, "passages": built.embedded, "metrics": metrics}
    print(json.dumps(ready), flush=True)
    for command in sys.stdin:
        if command.strip() == "round":
            times: dict[str, Any] = {"answer_ms": []}
            for question in texts[: BATCHES[1]]:  # a warm single answer: searcher.search end to end
                start = time.perf_counter()
                searcher.search(question)
                times["answer_ms"].append((time.perf_counter() - start) * 1000)
            for size, calls in BATCHES.items():
                samples = []
                for call in range(calls):
                    batch = [texts[(call * size + k) % len(texts)] for k in range(size)]
                    start = time.perf_counter()
                    embedder.embed_queries(batch)
                    samples.append((time.perf_counter() - start) * 1000)
                times[str(size)] = float(np.median(samples))
            print(json.dumps(times), flush=True)
        else:
            print(json.dumps({"rss_mb": rss_mb()}), flush=True)


def quality(index_dir: Path, option: str) -> tuple[float, float]:
    """(minimum cosine, mean dense top-10 overlap) of this option's vectors against torch fp32's."""
    ref_q, got_q = (np.load(index_dir / f"{o}-queries.npy") for o in ("torch-fp32", option))
    ref_p, got_p = (np.load(index_dir / o / "vectors.npy") for o in ("torch-fp32", option))
    cosine = min(float(np.sum(ref_q * got_q, axis=1).min()), float(np.sum(ref_p * got_p, axis=1).min()))
    top = [np.argsort(-(q @ p.T), axis=1)[:, :10] for q, p in ((ref_q, ref_p), (got_q, got_p))]
    overlap = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(*top, strict=True)]))
    return cosine, overlap


def cold_start(option: str, index_dir: Path) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MB, CPU seconds) of one `catabot ask` process on this option. On a shared
    machine the CPU seconds are the better guide to the wall time on a quiet one."""
    command = [str(Path(sys.executable).with_name("catabot")), "ask", COLD_QUESTION]
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, env=option_env(option, index_dir), stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"catabot ask failed on {option}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def cpu_line() -> str:
    from bot.config import load_config
    from bot.embedding.install import cache_folder
    from bot.embedding.openvino_embedder import choose_precision, converted_folder, cpu_flags, read_settings

    flags = cpu_flags()
    settings = read_settings(converted_folder(cache_folder(load_config(ROOT / "config.yaml"))))
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), "?")  # fmt: skip
    shown = " ".join(sorted(f for f in flags if "bf16" in f or f.startswith(("amx", "avx512f", "avx2"))))
    precision = choose_precision("auto", flags, settings)
    return f"{model}, {os.cpu_count()} cores, flags: {shown}; auto precision: {precision}"


def ask(process: subprocess.Popen[str], command: str | None) -> dict[str, Any]:
    """Send a command to a worker (None: just read) and return its JSON answer."""
    assert process.stdin is not None and process.stdout is not None
    if command is not None:
        process.stdin.write(command + "\n")
        process.stdin.flush()
    answer: dict[str, Any] = json.loads(process.stdout.readline())
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backends", description=__doc__)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--index-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.index_dir)
        return 0
    results: dict[str, dict[str, Any]] = {o: {"rounds": []} for o in OPTIONS}
    with tempfile.TemporaryDirectory(prefix="catabot-backends-") as tmp:
        index_dir = Path(tmp)
        workers = {}
        for option in OPTIONS:  # one at a time: index builds use every core
            command = [sys.executable, "-m", "benchmarks.backends", "--worker", option, "--index-dir", tmp]
            pipes = {"stdin": subprocess.PIPE, "stdout": subprocess.PIPE}
            workers[option] = subprocess.Popen(command, cwd=ROOT, text=True, **pipes)  # type: ignore[call-overload]
            results[option] |= ask(workers[option], None)
            print(f"{option}: ready", file=sys.stderr)
        for _ in range(args.rounds):
            for option, process in workers.items():
                results[option]["rounds"].append(ask(process, "round"))
        for option, process in workers.items():
            results[option] |= ask(process, "rss")
            process.communicate()
        for option in OPTIONS:
            results[option]["min_cosine"], results[option]["top10_overlap"] = quality(index_dir, option)
        for _ in range(args.cold):
            for option in OPTIONS:
                results[option].setdefault("cold", []).append(cold_start(option, index_dir))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    return 0


def dots(metrics: dict[str, float], *names: str) -> str:
    return " · ".join(f"{metrics[name]:.3f}" for name in names)


def table(results: dict[str, dict[str, Any]]) -> str:
    reference = results["torch-fp32"]["rounds"]
    lines = [
        f"{time.strftime('%Y-%m-%d')}, {cpu_line()}, load average {os.getloadavg()[0]:.1f}",
        "",
        "| backend | single answer p50 · p95 | batch 1 | batch 8 | batch 50 | min cos / top-10 "
        "| dev hit@3 · MRR | calibration hit@3 · MRR · answered · abstention "
        "| warm RSS | cold start · peak RSS | index build |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    reference_p95 = float(np.percentile([ms for one in reference for ms in one["answer_ms"]], 95))
    for option, r in results.items():
        answers = [ms for one in r["rounds"] for ms in one["answer_ms"]]
        p50, p95 = float(np.percentile(answers, 50)), float(np.percentile(answers, 95))
        cells = [f"{reference_p95 / p95:.1f}× ({p50:.0f} · {p95:.0f} ms)"]
        for size in ("1", "8", "50"):
            ms = float(np.median([one[size] for one in r["rounds"]]))
            ratio = float(
                np.median([ref[size] / one[size] for ref, one in zip(reference, r["rounds"], strict=True)])
            )
            cells.append(f"{ratio:.1f}× ({ms:.0f} ms)")
        dev, cal = r["metrics"]["dev"]["hybrid"], r["metrics"]["calibration"]["hybrid"]
        cold, cpu = (float(np.median([c[i] for c in r["cold"]])) for i in (0, 2))
        peak = max(c[1] for c in r["cold"])
        lines.append(
            f"| {option} | {' | '.join(cells)} | {r['min_cosine']:.5f} / {r['top10_overlap']:.3f} "
            f"| {dots(dev, 'hit_at_3', 'mrr_at_10')} "
            f"| {dots(cal, 'hit_at_3', 'mrr_at_10', 'answered', 'abstention')} | {r['rss_mb']:.0f} MB "
            f"| {cold:.1f} s ({cpu:.1f} s CPU) · {peak:.0f} MB "
            f"| {r['passages'] / r['build_s']:.0f} passages/s |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
