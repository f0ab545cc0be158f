"""Tables of `benchmarks/bot.py`: latency against the encoding floor, where the time goes, the profile."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from benchmarks.bot_profile import CATEGORIES, OTHER
from benchmarks.bot_users import LevelRun, Plan


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def summarise(run: LevelRun) -> dict[str, Any]:
    """One level of one pass: latencies (ms), the floor, batches, loop lag, CPU shares."""
    latencies = [(sent - pushed) * 1000 for pushed, _, sent in run.replies]
    typed = [(p, t, s) for p, t, s in run.replies if t is not None]
    to_typing = [(t - p) * 1000 for p, t, _ in typed if t is not None]
    after_typing = [(s - t) * 1000 for _, t, s in typed if t is not None]
    floor = statistics.median([run.floor_before["encode_ms"], run.floor_after["encode_ms"]])
    batches = run.bot["batches"]
    span = max(run.seconds, 1e-9) * run.cores
    bot_cpu = run.bot["cpu_seconds"]
    p95 = percentile(latencies, 95)
    return {
        "users": run.users,
        "repeat": run.repeat,
        "replies": len(run.replies),
        "missing": run.missing,
        "replies_per_second": len(run.replies) / max(run.seconds, 1e-9),
        "p50_ms": percentile(latencies, 50),
        "p95_ms": p95,
        "max_ms": max(latencies, default=float("nan")),
        "floor_ms": floor,
        "ratio": p95 / floor,
        "typing_p50_ms": percentile(to_typing, 50),
        "typing_p95_ms": percentile(to_typing, 95),
        "after_typing_p50_ms": percentile(after_typing, 50),
        "after_typing_p95_ms": percentile(after_typing, 95),
        "batches": len(batches),
        "mean_batch": statistics.fmean(b[0] for b in batches) if batches else 0.0,
        "max_batch": max((b[0] for b in batches), default=0),
        "search_ms_per_batch": 1000 * sum(b[1] for b in batches) / len(batches) if batches else 0.0,
        "loop_lag_p95_ms": run.bot["loop_lag_p95_ms"],
        "loop_lag_max_ms": run.bot["loop_lag_max_ms"],
        "bot_cpu_ms_per_reply": 1000 * bot_cpu / max(len(run.replies), 1),
        "cpu_bot": bot_cpu / span,
        "cpu_users": run.fake_cpu_seconds / span,
        "cpu_others": max(0.0, (run.all_cpu_seconds - bot_cpu - run.fake_cpu_seconds) / span),
        "batch_sizes": [b[0] for b in batches],
        "profile": run.bot["profile"],
    }


def _spread(rows: Sequence[dict[str, Any]], key: str) -> str:
    values = [r[key] for r in rows]
    middle = statistics.median(values)
    fmt = (lambda v: f"{v:.2f}") if key == "ratio" else (lambda v: f"{v:.0f}")
    if len(values) == 1:
        return fmt(middle)
    return f"{fmt(middle)} ({fmt(min(values))}–{fmt(max(values))})"


def latency_table(rows: Sequence[dict[str, Any]], levels: Sequence[int]) -> list[str]:
    head = (
        "| users | replies/s | p50 ms | p95 ms | floor: encode 50 ms | p95 / floor | push→typing p50/p95 ms "
        "| typing→reply p50/p95 ms | searches (mean batch, ms each) | loop lag p95/max ms "
        "| bot CPU ms/reply | CPU bot / users / others |"
    )
    lines = [head, "|" + "---:|" * head.count(" | ") + "---:|"]
    for n in levels:
        at = [r for r in rows if r["users"] == n]
        if not at:
            continue

        def med(key: str, rows: Sequence[dict[str, Any]] = at) -> float:
            return statistics.median(r[key] for r in rows)

        missing = sum(r["missing"] for r in at)
        lines.append(
            f"| {n}{f' ({missing} missing)' if missing else ''} | {med('replies_per_second'):.1f} "
            f"| {_spread(at, 'p50_ms')} | {_spread(at, 'p95_ms')} | {_spread(at, 'floor_ms')} "
            f"| {_spread(at, 'ratio')} | {med('typing_p50_ms'):.0f} / {med('typing_p95_ms'):.0f} "
            f"| {med('after_typing_p50_ms'):.0f} / {med('after_typing_p95_ms'):.0f} "
            f"| {med('batches'):.0f} ({med('mean_batch'):.1f}, {med('search_ms_per_batch'):.0f}) "
            f"| {med('loop_lag_p95_ms'):.0f} / {med('loop_lag_max_ms'):.0f} "
            f"| {med('bot_cpu_ms_per_reply'):.1f} | {100 * med('cpu_bot'):.0f}% "
            f"/ {100 * med('cpu_users'):.0f}% / {100 * med('cpu_others'):.0f}% |"
        )
    return lines


def profile_tables(rows: Sequence[dict[str, Any]]) -> list[str]:
    profiled = [r for r in rows if r["profile"]]
    if not profiled:
        return []
    names = [name for name, _ in CATEGORIES] + [OTHER]
    head = "| CPU ms per reply | " + " | ".join(f"N = {r['users']}" for r in profiled) + " |"
    lines = [
        "Profile (yappi, CPU time of every thread of the bot process, own time of each function grouped by",
        "library; the profiler inflates every number, compare the shares):",
        "",
        head,
        "|---|" + "---:|" * len(profiled),
    ]
    for name in [*names, "total"]:
        cells = []
        for r in profiled:
            split = r["profile"]
            seconds = split["total_seconds"] if name == "total" else split["by_category"].get(name, 0.0)
            share = seconds / split["total_seconds"] if split["total_seconds"] else 0.0
            cells.append(f"{1000 * seconds / max(r['replies'], 1):.1f} ({100 * share:.0f}%)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    last = profiled[-1]
    lines += ["", f"Hotspots at N = {last['users']} (own CPU ms per reply, calls per reply):", ""]
    for spot in last["profile"]["hotspots"]:
        per = max(last["replies"], 1)
        lines.append(
            f"- {1000 * spot['own_seconds'] / per:.2f} ms, {spot['calls'] / per:.0f} calls: "
            f"`{spot['function']}` ({spot['category']})"
        )
    return lines


def report(
    runs: Sequence[LevelRun],
    plan: Plan,
    invalid: int,
    unexpected: int,
    info: dict[str, str],
    *,
    target_factor: float,
) -> tuple[str, dict[str, Any]]:
    rows = [summarise(run) for run in runs]
    timed = [r for r in rows if r["repeat"] >= 0]
    out = [
        f"## Bot end to end: N users × {plan.rounds} questions each, all at once, {plan.repeats} pass(es)",
        "",
        "The bot alone in its process; the fake Bot API and the users in another. Median over the passes",
        "(min–max in brackets). floor: encoding 50 distinct questions in one call, in the bot's process,",
        "just before and after each level. push→typing: polling, dispatch, the user's upsert and language",
        "before sendChatAction; typing→reply: the search (queue and batch), the question's insert,",
        "rendering, sendMessage. Loop lag: how late a 5 ms sleep wakes up in the bot's loop.",
        "CPU: share of all cores (bot process / users' process with the fake / everything else).",
        "",
        *latency_table(timed, plan.levels),
        "",
    ]
    target = [r for r in timed if r["users"] == max(plan.levels)]
    if target:
        worst = max(r["ratio"] for r in target)
        verdict = "met" if statistics.median(r["ratio"] for r in target) <= target_factor else "MISSED"
        out += [
            f"Target at N = {max(plan.levels)}: p95 ≤ {target_factor} × floor: {verdict} "
            f"(median ratio {statistics.median(r['ratio'] for r in target):.2f}, worst pass {worst:.2f}).",
            "",
        ]
    out += profile_tables(rows)
    if invalid or unexpected:
        out += [
            "",
            f"**Warning: {invalid} request(s) refused by the fake, {unexpected} unexpected replies.**",
        ]
    out += ["", "Machine:", ""] + [f"- {key}: {value}" for key, value in info.items()]
    data = {"rounds": plan.rounds, "repeats": plan.repeats, "target_factor": target_factor, "machine": info}
    data["levels"] = rows
    return "\n".join(out), data
