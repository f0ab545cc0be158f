"""Whether the best passage answers the question: a logistic model over evidence, calibrated per model.

The fused rank score says which passage is best, not whether it is good, so the decision rests on:
the dense similarity of the best passage and how far it stands above the tenth (`margin`), how much of the
question's content words the passage holds (`coverage`), the same weighted by how rare each word is in the
knowledge base, a word the base never uses weighing most (`topical`: « salaire » is the point of « le salaire
d'un catalyseur », « catalyseur » is not), how many of the question's words the base knows at all,
how rare the rarest question word the passage lacks is (`missing`), whether the passage holds the question's
key phrase (`phrase`: « convention collective » must be there, not only « catalyseur territorial »), and
whether both retrievers agree. A question in another language than French cannot be expected to use the
passages' words: its words are compared by cognates (`LexicalIndex.overlap`), with weights of its own (key
"<model>@foreign").
Weights are fitted by `catabot eval --calibrate` on labelled questions and stored in `calibration.json`.
"""

from __future__ import annotations

import json
import math
from dataclasses import astuple, dataclass, field, fields
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")

# For a model with no calibration: lexical evidence only (coverage and known words), deliberately cautious.
_FALLBACK = {"bias": -4.0, "dense": 0.0, "coverage": 5.0, "known": 3.0, "agree": 1.0}


@dataclass(frozen=True)
class Evidence:
    dense: float
    coverage: float
    known: float
    agree: float
    topical: float = 0.0
    margin: float = 0.0
    missing: float = 0.0
    phrase: float = 1.0
    foreign: bool = field(default=False, compare=False)

    def vector(self) -> npt.NDArray[np.float64]:
        values = [0.0 if math.isnan(v) else float(v) for v in astuple(self)[: len(FEATURES)]]
        return np.array(values, dtype=np.float64)


FEATURES = tuple(f.name for f in fields(Evidence) if f.name != "foreign")


@lru_cache(maxsize=8)
def _weights(model: str) -> tuple[float, npt.NDArray[np.float64]]:
    table: dict[str, dict[str, float]] = {}
    if CALIBRATION_FILE.exists():
        table = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    chosen = table.get(model, _FALLBACK)
    return float(chosen["bias"]), np.array([float(chosen.get(f, 0.0)) for f in FEATURES])


def weights_key(model: str, foreign: bool) -> str:
    return f"{model}@foreign" if foreign else model


def answer_probability(evidence: Evidence, model: str) -> float:
    """Probability (0–1) that the best passage answers, from the weights fitted for this model."""
    bias, weights = _weights(weights_key(model, evidence.foreign))
    return float(1.0 / (1.0 + math.exp(-(bias + float(evidence.vector() @ weights)))))


def fit_logistic(
    samples: list[Evidence], labels: list[bool], *, l2: float = 1.0, iterations: int = 100
) -> dict[str, float]:
    """Regularised logistic regression (Newton's method) on standardised features.

    Returns raw-scale weights {"bias": …, feature: weight, …}. The penalty keeps the probabilities
    honest when the labelled questions happen to be perfectly separable.
    """
    raw = np.array([s.vector() for s in samples])
    mean, std = raw.mean(axis=0), raw.std(axis=0)
    std[std == 0] = 1.0
    x = np.hstack([np.ones((len(raw), 1)), (raw - mean) / std])
    y = np.array(labels, dtype=np.float64)
    w = np.zeros(x.shape[1])
    penalty = np.eye(x.shape[1]) * l2
    penalty[0, 0] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty @ w
        hessian = x.T @ (x * (p * (1 - p))[:, None]) + penalty + np.eye(len(w)) * 1e-9
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    weights = w[1:] / std
    bias = w[0] - float(weights @ mean)
    return {
        "bias": round(float(bias), 4),
        **{f: round(float(v), 4) for f, v in zip(FEATURES, weights, strict=True)},
    }


def save_calibration(model: str, weights: dict[str, float]) -> None:
    table: dict[str, dict[str, float]] = {}
    if CALIBRATION_FILE.exists():
        table = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    table[model] = weights
    CALIBRATION_FILE.write_text(json.dumps(table, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _weights.cache_clear()


def field_threshold(model: str) -> float | None:
    """Dense similarity below which an unanswered question is off-topic (not about the field at all).

    Fitted by `catabot eval --calibrate` on the `kind` labels; None (every question in the field, so kept
    for the coordinators) for a model without one.
    """
    table: dict[str, dict[str, float]] = {}
    if CALIBRATION_FILE.exists():
        table = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    value = table.get(model, {}).get("field")
    return None if value is None else float(value)


def fit_field_threshold(in_field: list[float], off_topic: list[float]) -> float:
    """The cut between two lists of dense similarities that misclassifies fewest, off-topic errors counting
    double (an in-field question called off-topic is lost to the coordinators)."""
    cuts = sorted(set(in_field) | set(off_topic))
    errors = [(2 * sum(v < c for v in in_field) + sum(v >= c for v in off_topic), c) for c in cuts]
    return round(min(errors)[1], 4) if errors else 0.0
