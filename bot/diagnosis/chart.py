"""A radar chart of the four scores, drawn server-side (matplotlib, Agg) and sized for a phone screen."""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from bot.diagnosis.engine import Diagnosis, Status
from bot.diagnosis.texts import status_labels as default_status_labels

if TYPE_CHECKING:
    from matplotlib.projections.polar import PolarAxes

COLOURS: dict[Status, str] = {
    "missing": "#c0392b",
    "fragile": "#e67e22",
    "to_check": "#7f8c8d",
    "present": "#27ae60",
}
SIZE_PX = 800
_DPI = 100
_CENTRE_Y, _RADIUS, _LABEL_X = 0.47, 0.24, 0.28  # in fractions of the picture


def _sign(value: float) -> int:
    return 0 if abs(value) < 1e-9 else (1 if value > 0 else -1)


def radar_png(
    diagnosis: Diagnosis,
    labels: Mapping[str, str] | None = None,
    title: str = "",
    *,
    status_labels: Mapping[str, str] | None = None,
) -> bytes:
    """PNG bytes (800×800) of the métiers' scores: one axis per métier, points in their status colour.

    `labels`: métier id → axis label (default: the labels in the diagnosis); `status_labels`: status → legend
    text (default: the message catalogue, French).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    results = diagnosis.in_questionnaire_order()
    names = {**{m.id: m.label for m in results}, **(labels or {})}
    legend = {**default_status_labels(), **(status_labels or {})}
    count = max(len(results), 1)
    # Axes on the diagonals, so that the labels have the corners of the picture to spread into.
    angles = [2 * math.pi * i / count + math.pi / count for i in range(count)]
    values = [float(m.score or 0) for m in results]

    figure = Figure(figsize=(SIZE_PX / _DPI, SIZE_PX / _DPI), dpi=_DPI, facecolor="white")
    FigureCanvasAgg(figure)
    if title:
        figure.suptitle("\n".join(textwrap.wrap(title, 34)), fontsize=24, fontweight="bold", y=0.985)
    box = (0.5 - _RADIUS, _CENTRE_Y - _RADIUS, 2 * _RADIUS, 2 * _RADIUS)
    axes = cast("PolarAxes", figure.add_axes(box, projection="polar"))
    axes.set_theta_offset(math.pi / 2)
    axes.set_theta_direction(-1)
    axes.set_ylim(0, 100)
    thresholds = (diagnosis.thresholds.fragile, diagnosis.thresholds.present, 100)
    axes.set_yticks(thresholds)
    axes.set_yticklabels([f"{t:g}" for t in thresholds], fontsize=12, color="#777777")
    axes.set_rlabel_position(0)
    axes.yaxis.grid(True, linestyle="--", color="#bbbbbb")
    axes.xaxis.grid(True, color="#bbbbbb")
    axes.set_xticks(angles)
    axes.set_xticklabels([])
    axes.spines["polar"].set_color("#999999")

    if results:
        closed_angles, closed_values = [*angles, angles[0]], [*values, values[0]]
        axes.fill(closed_angles, closed_values, color="#2c7fb8", alpha=0.18)
        axes.plot(closed_angles, closed_values, color="#2c7fb8", linewidth=3)
    for angle, value, result in zip(angles, values, results, strict=True):
        colour = COLOURS[result.status]
        axes.plot(
            [angle], [value], marker="o", markersize=15, color=colour, markeredgecolor="white", zorder=5
        )
        shown = "?" if result.score is None else f"{result.score}/100"
        name = "\n".join(textwrap.wrap(names[result.id], 16, break_long_words=False))
        x, y = math.sin(angle), math.cos(angle)  # clockwise from the top
        # Each label sits in its corner of the picture, just beyond the end of its axis.
        where = (0.5 + _LABEL_X * _sign(x), _CENTRE_Y + _RADIUS * y + 0.03 * _sign(y))
        axes.annotate(
            f"{name}\n{shown}",
            xy=(angle, 100),
            xytext=where,
            textcoords="figure fraction",
            ha="center",
            va="bottom" if y > 0 else "top",
            multialignment="center",
            fontsize=19,
            fontweight="bold",
            color="white",
            bbox={"boxstyle": "round,pad=0.4", "facecolor": colour, "edgecolor": "none"},
            annotation_clip=False,
        )
    used = [s for s in COLOURS if any(m.status == s for m in results)]
    handles = [
        Line2D([], [], marker="o", linestyle="", markersize=16, color=COLOURS[s], label=legend[s])
        for s in used
    ]
    if handles:
        figure.legend(
            handles=handles, loc="lower center", ncol=min(len(handles), 2), fontsize=19, frameon=False,
            bbox_to_anchor=(0.5, 0.005),
        )  # fmt: skip
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()
