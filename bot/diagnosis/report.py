"""The result as plain text, shared by the terminal (`catabot diagnose`) and the exported card (PNG, PDF)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.diagnosis.advice import Advice, first_step, reasons
from bot.diagnosis.engine import Diagnosis
from bot.diagnosis.recommend import Recommendation
from bot.diagnosis.texts import say, status_labels


def advice_lines(advice: Advice | None, language: str = "fr") -> list[str]:
    """What to work on first, why, the first step and its source; one line when every métier is present."""
    if advice is None:
        return [say("advice_none", language)]
    key = "advice_priority" if advice.kind == "work" else "advice_priority_check"
    lines = [
        say(key, language, label=advice.metier.label),
        say("advice_why", language, why=" ".join(reasons(advice, language))),
        say("advice_first_step", language, step=first_step(advice, language)),
    ]
    return lines + ([say("advice_source", language, url=advice.source)] if advice.source else [])


def advice_json(advice: Advice | None, language: str = "fr") -> dict[str, Any] | None:
    """`priority` in `catabot diagnose --json`: the métier first, kind ("work" | "check"), why, first step."""
    if advice is None:
        return None
    return {
        "id": advice.metier.id,
        "label": advice.metier.label,
        "kind": advice.kind,
        "score": advice.metier.score,
        "status": advice.metier.status,
        "tied_with": [m.id for m in advice.tied_with],
        "suited_by": advice.suited_by or None,
        "why": reasons(advice, language),
        "first_step": {"text": first_step(advice, language), "source": advice.source or None},
    }


def format_result(
    diagnosis: Diagnosis,
    recommendations: Mapping[str, Sequence[Recommendation]],
    language: str = "fr",
    advice: Advice | None = None,
) -> str:
    """The result as plain text: the advice (when given), then each métier worst first, what it means, what
    to check, what to read."""
    statuses = status_labels(language)
    lines = [say("diagnosis_result", language)]
    if not diagnosis.complete:
        lines.append(say("diagnosis_incomplete", language))
    if diagnosis.context_labels:
        lines.append(" · ".join(diagnosis.context_labels.values()))
    if advice is not None or diagnosis.complete:
        lines += ["", *advice_lines(advice, language)]
    for metier in diagnosis.metiers:
        values = {"label": metier.label, "score": metier.score, "status": statuses[metier.status]}
        key = "diagnosis_score" if metier.score is not None else "diagnosis_score_none"
        lines += ["", say(key, language, **values)]
        if metier.meaning:
            lines.append(f"  {metier.meaning}")
        if metier.unknown:
            lines.append(f"  {say('diagnosis_unknown', language, check_with=metier.check_with)}")
            lines += [f"    – {text}" for text in metier.unknown]
        if recommendations.get(metier.id):
            lines.append(f"  {say('diagnosis_resources', language)}")
            lines += [f"    • {r.title} — {r.url}" for r in recommendations[metier.id]]
    if diagnosis.notes:
        lines.append("")
        lines += [f"ℹ {note}" for note in diagnosis.notes]
    return "\n".join(lines)
