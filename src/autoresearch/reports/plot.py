"""The progress picture: every experiment against the metric, the kept ones numbered.

It follows the chart of Karpathy's analysis notebook: discards as faint grey dots, keeps as
green dots, the running best as a step line, crashes left out, and the y axis focused on the
band between the baseline and the best result. It stays readable from ten rows to thousands:

- kept changes carry their experiment number next to their dot and a key beside the axes gives
    each one's description, so no label runs over the title or off the figure; past
  ``MAX_LABELS`` only the biggest gains, spread along the x axis, are numbered, and a label that
  would overlap another is left out; the key says how many kept changes were not numbered;
- discards outside the focused band are drawn as triangles on the band's edge, with a count;
- a discard better than the best kept result before it was "better but not confirmed": the
  noise-aware rule (or ``--min-delta``) did not trust the gain. It is drawn apart, as an orange
  ring, since the ledger records the value and status but not the reason.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.errors import UserError
from autoresearch.reports.plot_labels import KEY_LEFT, Panel, Points, number_keeps
from autoresearch.reports.summary import Chapter, SessionFacts, Summary, check_direction, summarize
from autoresearch.rules import formatting
from autoresearch.store.ledger import Ledger

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MISSING_MATPLOTLIB = "plotting needs matplotlib: pip install 'autoresearch[plot]'"

FIGURE_SIZE = (16, 8)
DPI = 110
# The axes take the left of the figure; the key the right.
AXES_RECT = (0.06, 0.09, 0.64, 0.82)
KEEP_COLOUR, UNCONFIRMED_COLOUR, DISCARD_COLOUR = "#2ecc71", "#e67e22", "#bbbbbb"
CHANGE_COLOUR = "#e67e22"  # the line where a session continues another, the harness changed
PANEL_GAP = 0.045  # between two sessions' panels: room for the next one's tick labels


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


def collect(ledger: Ledger, direction: str) -> Points:
    import numpy as np

    sign = 1.0 if direction == "minimize" else -1.0
    xs: list[int] = []
    ys: list[float] = []
    kept: list[bool] = []
    unconfirmed: list[bool] = []
    descriptions: list[str] = []
    best: float | None = None
    for index, row in enumerate(ledger.rows):
        if row.status == "crash":
            continue
        score = sign * row.value
        xs.append(index)
        ys.append(row.value)
        kept.append(row.status == "keep")
        unconfirmed.append(row.status == "discard" and best is not None and score < best)
        descriptions.append(row.description)
        if row.status == "keep" or best is None:
            best = score if best is None else min(best, score)
    y = np.asarray(ys, dtype=float)
    return Points(
        x=np.asarray(xs, dtype=float),
        y=y,
        score=sign * y,
        kept=np.asarray(kept, dtype=bool),
        unconfirmed=np.asarray(unconfirmed, dtype=bool),
        descriptions=descriptions,
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


def _draw(
    ledger: Ledger,
    direction: str,
    title_metric: str | None,
    facts: SessionFacts | None = None,
) -> Figure:
    """The picture; with ``facts.earlier``, one panel per session, oldest first, each on its
    own y scale: a harness changed between them, so no value is comparable across panels."""
    check_direction(direction)
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise UserError(MISSING_MATPLOTLIB) from error

    metric = title_metric or ledger.metric
    earlier = facts.earlier if facts else ()
    chapters = [*earlier, Chapter(facts.tag or "" if facts else "", ledger, direction)]
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)  # labels are placed by their rendered size
    heading = title(metric, summarize(ledger, direction))
    if earlier:
        tags = ", ".join(chapter.tag for chapter in earlier)
        heading = f"session {chapters[-1].tag}, {heading}; continues {tags}, each on its own scale"
    figure.suptitle(heading, fontsize=14, x=0.06, ha="left")
    panels = []
    for number, (chapter, rect) in enumerate(zip(chapters, _panel_rects(chapters), strict=True)):
        axes = figure.add_axes(rect)
        if earlier:
            changed = " (harness changed before it)" if number else ""
            axes.set_title(f"session {chapter.tag}{changed}", fontsize=11, loc="left")
        if number:
            _mark_the_change(figure, rect)
        drawn = _draw_panel(axes, chapter, metric, with_label=number == 0)
        if drawn is not None:
            panels.append(Panel(chapter.tag if earlier else None, axes, *drawn))
    if not panels:
        return figure
    # Beside the axes, above the key: over the axes it would hide the latest results.
    figure.legend(
        *panels[-1].axes.get_legend_handles_labels(),
        loc="upper left",
        bbox_to_anchor=(KEY_LEFT - 0.005, AXES_RECT[1] + AXES_RECT[3] + 0.01),
        fontsize=9,
        frameon=False,
        title=f"session {chapters[-1].tag}" if earlier else None,
        title_fontsize=9,
    )
    number_keeps(figure, panels)
    return figure


def _mark_the_change(figure: Figure, rect: tuple[float, float, float, float]) -> None:
    """A dashed line in the gap before a panel: the harness changed there."""
    from matplotlib.lines import Line2D

    x = rect[0] - PANEL_GAP + 0.006
    bottom, top = rect[1], rect[1] + rect[3]
    figure.add_artist(
        Line2D([x, x], [bottom, top], transform=figure.transFigure, color=CHANGE_COLOUR, ls="--")
    )


def _panel_rects(chapters: list[Chapter]) -> list[tuple[float, float, float, float]]:
    """The axes' room shared between the sessions by their rows, none under a fifth of it."""
    left, bottom, width, height = AXES_RECT
    if len(chapters) == 1:
        return [AXES_RECT]
    gap = PANEL_GAP
    room = width - gap * (len(chapters) - 1)
    weights = [max(len(chapter.ledger.rows), 1) for chapter in chapters]
    shares = [max(weight / sum(weights), 0.2) for weight in weights]
    widths = [room * share / sum(shares) for share in shares]
    rects = []
    for each in widths:
        rects.append((left, bottom, each, height))
        left += each + gap
    return rects


def _draw_panel(
    axes: Axes, chapter: Chapter, metric: str, with_label: bool
) -> tuple[Points, np.ndarray] | None:
    """One session's experiments on ``axes``; None when it has none finished."""
    import numpy as np
    from matplotlib.ticker import MaxNLocator

    direction = chapter.direction
    points = collect(chapter.ledger, direction)
    better = "lower" if direction == "minimize" else "higher"
    axes.set_xlabel("Experiment #", fontsize=12)
    if with_label:
        axes.set_ylabel(f"{metric} ({better} is better)", fontsize=12)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.2)
    if not points.y.size:
        axes.text(  # no legend and no key: nothing to name
            0.5,
            0.5,
            "no finished experiments yet",
            ha="center",
            va="center",
            transform=axes.transAxes,
            fontsize=14,
            color="#888888",
        )
        return None

    sign = 1.0 if direction == "minimize" else -1.0
    scores = points.score
    kept_x, kept_scores = points.x[points.kept], scores[points.kept]
    baseline = float(scores[0])
    if kept_scores.size:
        running = np.minimum.accumulate(np.minimum(kept_scores, baseline))
        previous = np.concatenate(([baseline], running[:-1]))
        gains = previous - kept_scores
        best = float(running[-1])
    else:
        running = gains = np.zeros(0)
        best = baseline
    low, high = _y_limits(scores, baseline, best)
    inside = (scores >= low) & (scores <= high)

    plain = inside & ~points.kept & ~points.unconfirmed
    axes.scatter(
        points.x[plain],
        points.y[plain],
        c=DISCARD_COLOUR,
        s=12,
        alpha=0.6,
        zorder=2,
        label=f"Discarded ({int((~points.kept & ~points.unconfirmed).sum())})",
        linewidths=0,
    )
    unconfirmed = inside & points.unconfirmed
    if points.unconfirmed.any():
        axes.scatter(
            points.x[unconfirmed],
            points.y[unconfirmed],
            facecolors="none",
            edgecolors=UNCONFIRMED_COLOUR,
            s=40,
            linewidths=1.2,
            zorder=3,
            label=f"Better but not confirmed ({int(points.unconfirmed.sum())})",
        )
    _edge_markers(axes, points, scores, sign, low, high)
    shown_keeps = inside & points.kept
    # Thousands of full-size keeps would merge into one dark band.
    crowded = shown_keeps.sum() > 300
    axes.scatter(
        points.x[shown_keeps],
        points.y[shown_keeps],
        c=KEEP_COLOUR,
        s=14 if crowded else 50,
        zorder=4,
        label=f"Kept: the baseline and {max(int(points.kept.sum()) - 1, 0)} changes",
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
    axes.set_ylim(*sorted((sign * low, sign * high)))
    axes.set_xlim(-0.02 * max(points.x.max(), 1) - 0.5, points.x.max() * 1.02 + 1)
    return points, gains


def _edge_markers(
    axes: Axes, points: Points, scores: np.ndarray, sign: float, low: float, high: float
) -> None:
    """Discards beyond the band, as triangles on its edge, each edge with its count."""
    worse, better = scores > high, scores < low
    for outside, edge, where in ((worse, high, "worse"), (better, low, "better")):
        count = int(outside.sum())
        if not count:
            continue
        # The band is drawn in metric units: "worse" is the top for a maximised metric's floor.
        y = sign * edge
        up = y == max(sign * low, sign * high)
        axes.scatter(
            points.x[outside],
            [y] * count,
            marker="^" if up else "v",
            c="#888888",
            s=22,
            zorder=3,
            clip_on=False,
            label=f"{count} {where}, off the scale (on the edge)",
        )


def plot_png(
    ledger: Ledger,
    direction: str,
    title_metric: str | None = None,
    facts: SessionFacts | None = None,
) -> bytes:
    """The progress picture as PNG bytes (for embedding or serving without touching disk);
    ``facts.earlier``: the sessions this one continues, each in a panel of its own."""
    figure = _draw(ledger, direction, title_metric, facts)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def render_plot(
    ledger: Ledger,
    output: Path,
    direction: str,
    title_metric: str | None = None,
    facts: SessionFacts | None = None,
) -> Path:
    """Write the progress picture to ``output`` as PNG and return the path."""
    data = plot_png(ledger, direction, title_metric, facts)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(data)
    return output
