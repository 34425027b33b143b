"""The progress picture: every experiment against the metric, the kept ones named.

It follows the chart of Karpathy's analysis notebook: discards as faint grey dots, keeps as
green dots labelled with their description, the running best as a step line, crashes left out,
and the y axis focused on the band between the baseline and the best result.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.errors import UserError
from autoresearch.reports.summary import Summary, check_direction, summarize
from autoresearch.rules import formatting
from autoresearch.store.ledger import Ledger

if TYPE_CHECKING:
    import numpy as np

MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'autoresearch[plot]'"

LABEL_CHARS = 45
# Past this many kept rows only the ones that moved the running best are named, and at most
# MAX_LABELS of those, spread along the x axis, so a long session stays readable.
LABEL_ALL_KEEPS_UP_TO = 40
MAX_LABELS = 36
FIGURE_SIZE = (16, 8)
DPI = 110


def title(metric: str, summary: Summary) -> str:
    """``val_bpb: 6 experiments, 2 kept changes, keep rate 40%, best 0.980000 (-2.00%)``."""
    text = (
        f"{metric}: {summary.experiments} experiments, {summary.keeps} kept changes, "
        f"keep rate {formatting.share(summary.keep_rate)}"
    )
    if summary.best is not None:
        text += f", best {formatting.value(summary.best)}"
        if summary.change_pct is not None:
            text += f" ({formatting.percent(summary.change_pct)})"
    return text


def short_description(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


@dataclass
class _Points:
    """The non-crash experiments as arrays; x is the row's position in the ledger (baseline 0)."""

    x: np.ndarray
    y: np.ndarray
    kept: np.ndarray
    kept_descriptions: list[str]
    total: int
    keeps: int


def _collect(ledger: Ledger) -> _Points:
    import numpy as np

    xs: list[int] = []
    ys: list[float] = []
    kept: list[bool] = []
    kept_descriptions: list[str] = []
    keeps = 0
    for index, row in enumerate(ledger.rows):
        if row.status == "keep":
            keeps += 1
        elif row.status != "discard":
            continue
        xs.append(index)
        ys.append(row.value)
        kept.append(row.status == "keep")
        if row.status == "keep":
            kept_descriptions.append(row.description)
    return _Points(
        x=np.asarray(xs, dtype=float),
        y=np.asarray(ys, dtype=float),
        kept=np.asarray(kept, dtype=bool),
        kept_descriptions=kept_descriptions,
        total=len(ledger.rows),
        keeps=keeps,
    )


def _y_limits(scores: np.ndarray, baseline: float, best: float) -> tuple[float, float]:
    """Limits in score space, where lower is always better (maximised metrics are negated).

    The band runs from the best result to the baseline. Worse-than-baseline results fall
    outside it, as in the notebook; better-than-best ones (discarded despite a good number)
    widen it only by up to one band, so a single wild value cannot flatten the picture.
    """
    import numpy as np

    span = baseline - best
    if span <= 0:
        deviations = np.abs(scores - baseline)
        deviations = deviations[deviations > 0]
        span = float(np.median(deviations)) if deviations.size else abs(baseline) * 0.01 or 1.0
    lowest = float(scores.min()) if scores.size else best
    lower = max(min(lowest, best), best - span)
    margin = (baseline - lower) * 0.12 or span * 0.12
    return lower - margin, baseline + margin


def _labelled(points: _Points, improving: np.ndarray, gains: np.ndarray) -> list[int]:
    """Indexes into the kept points that get a text label."""
    import numpy as np

    if points.kept.sum() <= LABEL_ALL_KEEPS_UP_TO:
        return list(range(int(points.kept.sum())))
    candidates = np.flatnonzero(improving)
    if candidates.size <= MAX_LABELS:
        return candidates.tolist()
    kept_x = points.x[points.kept]
    spacing = (kept_x.max() - kept_x.min()) / MAX_LABELS
    chosen: list[int] = []
    # The biggest gains first, each one only if no label already sits too close.
    for candidate in candidates[np.argsort(-gains[candidates], kind="stable")]:
        if len(chosen) == MAX_LABELS:
            break
        if all(abs(kept_x[candidate] - kept_x[other]) >= spacing for other in chosen):
            chosen.append(int(candidate))
    return sorted(chosen)


def _draw(ledger: Ledger, direction: str, title_metric: str | None):  # -> Figure
    check_direction(direction)
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import numpy as np
        from matplotlib.figure import Figure
    except ImportError as error:
        raise UserError(MISSING_MATPLOTLIB) from error

    metric = title_metric or ledger.metric
    points = _collect(ledger)
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    axes = figure.add_subplot()
    axes.set_title(title(metric, summarize(ledger, direction)), fontsize=14)
    better = "lower" if direction == "minimize" else "higher"
    axes.set_xlabel("Experiment #", fontsize=12)
    axes.set_ylabel(f"{metric} ({better} is better)", fontsize=12)
    axes.grid(True, alpha=0.2)
    if not points.y.size:
        axes.text(
            0.5,
            0.5,
            "no finished experiments yet",
            ha="center",
            va="center",
            transform=axes.transAxes,
            fontsize=14,
            color="#888888",
        )
        return figure

    sign = 1.0 if direction == "minimize" else -1.0
    scores = sign * points.y
    kept_x, kept_scores = points.x[points.kept], scores[points.kept]
    baseline = float(scores[0])
    if kept_scores.size:
        running = np.minimum.accumulate(np.minimum(kept_scores, baseline))
        previous = np.concatenate(([baseline], running[:-1]))
        gains = previous - kept_scores
        improving = gains > 0
        best = float(running[-1])
    else:
        running = gains = np.zeros(0)
        improving = np.zeros(0, dtype=bool)
        best = baseline
    low, high = _y_limits(scores, baseline, best)
    visible = (scores >= low) & (scores <= high)

    discarded = visible & ~points.kept
    axes.scatter(
        points.x[discarded],
        points.y[discarded],
        c="#cccccc",
        s=12,
        alpha=0.5,
        zorder=2,
        label="Discarded",
        linewidths=0,
    )
    shown_keeps = visible & points.kept
    # Thousands of full-size keeps would merge into one dark band.
    crowded = shown_keeps.sum() > 300
    axes.scatter(
        points.x[shown_keeps],
        points.y[shown_keeps],
        c="#2ecc71",
        s=14 if crowded else 50,
        zorder=4,
        label="Kept",
        edgecolors="black",
        linewidths=0.2 if crowded else 0.5,
    )
    if kept_x.size:
        step_x = np.append(kept_x, points.x.max())
        step_y = sign * np.append(running, running[-1])
        axes.step(
            step_x,
            step_y,
            where="post",
            color="#27ae60",
            linewidth=2,
            alpha=0.7,
            zorder=3,
            label="Running best",
        )

    kept_values = points.y[points.kept]
    for index in _labelled(points, improving, gains):
        axes.annotate(
            short_description(points.kept_descriptions[index]),
            (kept_x[index], kept_values[index]),
            textcoords="offset points",
            xytext=(6, 6),
            fontsize=8.0,
            color="#1a7a3a",
            alpha=0.9,
            rotation=30,
            ha="left",
            va="bottom",
            annotation_clip=True,
        )

    axes.set_ylim(*sorted((sign * low, sign * high)))
    axes.set_xlim(-0.02 * max(points.x.max(), 1), points.x.max() * 1.02 + 1)
    axes.legend(loc="upper right", fontsize=9)
    return figure


def plot_png(ledger: Ledger, direction: str, title_metric: str | None = None) -> bytes:
    """The progress picture as PNG bytes (for embedding or serving without touching disk)."""
    figure = _draw(ledger, direction, title_metric)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def render_plot(
    ledger: Ledger, output: Path, direction: str, title_metric: str | None = None
) -> Path:
    """Write the progress picture to ``output`` as PNG and return the path."""
    data = plot_png(ledger, direction, title_metric)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return output
