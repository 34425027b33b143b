"""Which kept changes get a number beside their dot, and the key beside the axes that names
them: the biggest gains first, spread along the x axis, none overlapping another, shared out
between the panels of a history over several sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.transforms import Bbox

LABEL_CHARS = 45
# At most this many kept changes are numbered (the key, under the legend, has a line for each).
MAX_LABELS = 30
# Where the key begins, in figure coordinates: right of the axes.
KEY_LEFT = 0.72


def short_description(text: str, limit: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


class Points(NamedTuple):
    """The non-crash experiments; x is the row's position in the ledger (baseline 0) and score
    is the value signed so that lower is better."""

    x: np.ndarray
    y: np.ndarray
    score: np.ndarray
    kept: np.ndarray
    unconfirmed: np.ndarray
    descriptions: list[str]


class Panel(NamedTuple):
    """One session's axes, with what its key needs."""

    tag: str | None  # None: the only panel
    axes: Axes
    points: Points
    gains: np.ndarray


def candidates(kept_x: np.ndarray, gains: np.ndarray, limit: int = MAX_LABELS) -> list[int]:
    """Indexes into the kept points worth a number: all of them when they fit, else the biggest
    gains first, each only if no chosen one sits closer than an even share of the x axis."""
    import numpy as np

    if kept_x.size <= limit:
        return list(range(kept_x.size))
    spacing = (kept_x.max() - kept_x.min()) / limit
    chosen: list[int] = [0]  # the baseline anchors the key
    for candidate in np.argsort(-gains, kind="stable"):
        if len(chosen) == limit or gains[candidate] <= 0:
            break
        if all(abs(kept_x[candidate] - kept_x[other]) >= spacing for other in chosen):
            chosen.append(int(candidate))
    return sorted(chosen)


def number_keeps(figure: Figure, panels: list[Panel]) -> None:
    """Numbers beside the kept dots and the key that names them, a part per session; overlaps
    are left out, and the numbers are shared out between the sessions."""
    limit = max(MAX_LABELS // len(panels), 1)
    lines = []
    for panel in panels:
        if panel.tag is None:
            lines.append("Kept, by experiment #")
        else:
            lines.append(f"{'' if not lines else chr(10)}Kept in session {panel.tag}, by #")
        lines += _numbered(figure, panel, limit)
    legend = figure.legends[0].get_window_extent(figure.canvas.get_renderer())
    figure.text(
        KEY_LEFT,
        figure.transFigure.inverted().transform((0, legend.y0))[1] - 0.02,
        "\n".join(lines),
        fontsize=9,
        va="top",
        ha="left",
        family="monospace",
        linespacing=1.35,
        gid="key",
    )


def _numbered(figure: Figure, panel: Panel, limit: int) -> list[str]:
    """Up to ``limit`` numbers beside the panel's kept dots; the key's lines that name them."""
    axes, points = panel.axes, panel.points
    kept_index = [i for i, kept in enumerate(points.kept) if kept]
    kept_x, kept_y = points.x[points.kept], points.y[points.kept]
    low, high = sorted(axes.get_ylim())
    renderer = figure.canvas.get_renderer()
    frame = axes.get_window_extent(renderer)
    placed = []
    taken: list[Bbox] = []
    for index in candidates(kept_x, panel.gains, limit):
        if not low <= kept_y[index] <= high:
            continue
        label = axes.annotate(
            str(int(kept_x[index])),
            (kept_x[index], kept_y[index]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=8,
            color="#1a7a3a",
            fontweight="bold",
            ha="left",
            va="bottom",
        )
        box = label.get_window_extent(renderer)
        inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
        if not inside or box.y1 > frame.y1 or any(box.overlaps(other) for other in taken):
            label.remove()
            continue
        taken.append(box)
        placed.append(index)
    lines = [
        f"{int(kept_x[index]):>4}  {_key_text(points.descriptions[kept_index[index]])}"
        for index in placed
    ]
    missing = len(kept_index) - len(placed)
    if missing:
        lines.append(f"({missing} more kept, not numbered)")
    return lines


def _key_text(description: str) -> str:
    """Shortened, with dollar signs escaped: a pair of them would start matplotlib's math text."""
    return short_description(description).replace("$", r"\$")
