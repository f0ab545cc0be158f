"""The result as a card to forward or print: a title, the radar chart and the plain-text result (PNG, PDF).

One page, A4 wide (8.27 in); it grows taller with the text rather than cutting it. Drawn with matplotlib
(Agg), as the chart: no Telegram here.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping
from typing import Literal

from bot.diagnosis.chart import radar_png
from bot.diagnosis.engine import Diagnosis

CardFormat = Literal["png", "pdf"]
WIDTH_IN = 8.27  # A4 width
MARGIN_IN = 0.6
TITLE_IN, CHART_IN, LINE_IN = 0.7, 4.6, 0.19  # heights of the title, the chart and one line of text
WRAP = 100  # characters per line at FONT_SIZE across the page
FONT_SIZE = 9
PNG_DPI = 150


def _wrapped(body: str) -> list[str]:
    lines: list[str] = []
    for line in body.splitlines():
        indent = len(line) - len(line.lstrip())
        lines += textwrap.wrap(line, WRAP, subsequent_indent=" " * (indent + 2), break_long_words=True) or [
            ""
        ]
    return lines


def render_card(
    diagnosis: Diagnosis,
    title: str,
    body: str,
    fmt: CardFormat = "png",
    *,
    chart_title: str = "",
    status_labels: Mapping[str, str] | None = None,
) -> bytes:
    """PNG or PDF bytes: `title`, the radar chart of `diagnosis`, then `body` (plain text, wrapped).

    Raises ValueError for another `fmt`.
    """
    if fmt not in ("png", "pdf"):
        raise ValueError(f"unknown card format {fmt!r} (png or pdf)")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    lines = _wrapped(body)
    height = 2 * MARGIN_IN + TITLE_IN + CHART_IN + LINE_IN * len(lines)
    figure = Figure(figsize=(WIDTH_IN, height), facecolor="white")
    FigureCanvasAgg(figure)

    def y(inches_from_top: float) -> float:
        return 1 - inches_from_top / height

    left = MARGIN_IN / WIDTH_IN
    figure.text(left, y(MARGIN_IN), title, fontsize=15, fontweight="bold", va="top")
    chart = imread(io.BytesIO(radar_png(diagnosis, None, chart_title, status_labels=status_labels)))
    side = CHART_IN / WIDTH_IN
    axes = figure.add_axes((0.5 - side / 2, y(MARGIN_IN + TITLE_IN + CHART_IN), side, CHART_IN / height))
    axes.imshow(chart)
    axes.set_axis_off()
    top = MARGIN_IN + TITLE_IN + CHART_IN
    for number, line in enumerate(lines):
        figure.text(left, y(top + LINE_IN * number), line, fontsize=FONT_SIZE, va="top")
    buffer = io.BytesIO()
    metadata = {"Software": None} if fmt == "png" else {"Creator": None, "Producer": None}
    figure.savefig(buffer, format=fmt, dpi=PNG_DPI, facecolor="white", metadata=metadata)
    return buffer.getvalue()
