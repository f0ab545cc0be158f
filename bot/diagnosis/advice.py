"""Which métier to work on first, why, and one first step: pure functions of a questionnaire and a diagnosis.

The choice (documented in README, « Autodiagnostic »):
1. among the métiers « manquant » or « fragile », the lowest score;
2. at equal score, a métier that the user's structure can carry comes first (`suits` of the context options
   in `knowledge/diagnostic.yaml`, a repère from the « Qui porte… » sections of the métier fiches);
3. then the questionnaire's order (dialogue territorial first; the fiches describe the expérimentations
   collectives as taking over from the dialogue « pour passer des échanges à l'action »).
When no métier is missing or fragile but one is « à vérifier » (too many « Je ne sais pas »), the advice is to
check that one first (the most « Je ne sais pas », then the order). When every métier is present: no advice.
« Je ne sais pas » answers never lower a score: they only make a métier « à vérifier ».
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.diagnosis.engine import Diagnosis, MetierResult
from bot.diagnosis.questionnaire import Questionnaire
from bot.diagnosis.texts import say, status_labels

AdviceKind = Literal["work", "check"]


@dataclass(frozen=True)
class Advice:
    metier: MetierResult
    kind: AdviceKind  # "work": strengthen it first; "check": find out first (to_check)
    candidates: int  # métiers that needed attention (missing or fragile), the chosen one included
    total: int  # métiers in the diagnosis
    tied_with: tuple[MetierResult, ...]  # other candidates with the same score
    suited_by: str  # label of the context answer whose structure can carry this métier, "" if none
    first_step: str  # from diagnostic.yaml ("" for "check" or when the file gives none)
    source: str  # URL the first step rests on ("" with no first step)


def _suiting(q: Questionnaire, diagnosis: Diagnosis) -> dict[str, str]:
    """Métier id → label of the first context answer whose `suits` names it."""
    found: dict[str, str] = {}
    for question in q.context:
        option = next((o for o in question.options if o.id == diagnosis.context.get(question.id)), None)
        for metier_id in option.suits if option else ():
            found.setdefault(metier_id, option.label if option else "")
    return found


def choose(q: Questionnaire, diagnosis: Diagnosis) -> Advice | None:
    """The métier to work on (or check) first, with its reasons and first step; None when all are present."""
    suiting = _suiting(q, diagnosis)
    candidates = diagnosis.needing_attention()
    if candidates:
        lowest = min(m.score or 0 for m in candidates)
        tied = [m for m in candidates if (m.score or 0) == lowest]
        tied.sort(key=lambda m: (m.id not in suiting, m.position))
        chosen = tied[0]
        metier = q.metier(chosen.id)
        return Advice(
            chosen, "work", len(candidates), len(diagnosis.metiers), tuple(tied[1:]),
            suiting.get(chosen.id, ""), metier.first_step,
            metier.first_step_source if metier.first_step else "",
        )  # fmt: skip
    unsure = [m for m in diagnosis.metiers if m.status == "to_check"]
    if not unsure:
        return None
    chosen = min(unsure, key=lambda m: (-len(m.unknown), m.position))
    return Advice(chosen, "check", 0, len(diagnosis.metiers), (), suiting.get(chosen.id, ""), "", "")


def reasons(advice: Advice, language: str = "fr") -> list[str]:
    """Why this métier comes first, as plain sentences from the message catalogue (escape them for HTML)."""
    metier = advice.metier
    if advice.kind == "check":
        return [say("advice_why_check", language, count=len(metier.unknown))]
    status = status_labels(language)[metier.status].lower()
    found = [say("advice_why_score", language, count=advice.candidates, total=advice.total,
                 score=metier.score or 0, status=status)]  # fmt: skip
    others = ", ".join(m.label for m in advice.tied_with)
    if advice.tied_with and advice.suited_by:
        found.append(say("advice_why_tie_suits", language, others=others, structure=advice.suited_by))
    elif advice.tied_with:
        found.append(say("advice_why_tie_order", language, others=others))
    elif advice.suited_by:
        found.append(say("advice_why_suits", language, structure=advice.suited_by))
    if metier.unknown:
        found.append(say("advice_why_unknown", language, count=len(metier.unknown)))
    return found


def first_step(advice: Advice, language: str = "fr") -> str:
    """The first step as a sentence (plain text): the questionnaire's own, « check with … » the « Je ne sais
    pas » answers, or, when the métier is « à vérifier » for want of answers (a partial answers file), answer
    them."""
    if advice.first_step:
        return advice.first_step
    if not advice.metier.unknown:
        return say("advice_step_answer", language)
    return say("advice_step_check", language, check_with=advice.metier.check_with)
