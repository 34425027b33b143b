from __future__ import annotations

import sys
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from report_support import karpathy, long_ledger, ours, png_size

from autoresearch.errors import UserError
from autoresearch.reports.plot import _draw, render_plot
from autoresearch.reports.plot_labels import LABEL_CHARS, MAX_LABELS, short_description
from autoresearch.store.ledger import parse_lines


def check_png(path: Path) -> None:
    data = path.read_bytes()
    width, height = png_size(data)
    assert width > 800 and height > 400
    assert len(data) > 20_000


def test_plot_of_our_ledger(tmp_path: Path) -> None:
    output = render_plot(ours(tmp_path), tmp_path / "out" / "progress.png", "minimize")
    assert output == tmp_path / "out" / "progress.png"
    check_png(output)


def test_plot_of_karpathy_ledger(tmp_path: Path) -> None:
    check_png(render_plot(karpathy(tmp_path), tmp_path / "progress.png", "minimize"))


def texts_of(figure: Figure) -> dict[str, list[Text]]:
    """The title, the numbers beside the kept dots and the key, as drawn."""
    axes = figure.axes[0]
    return {
        "title": [figure._suptitle] if figure._suptitle else [],
        "labels": list(axes.texts),
        "key": [text for text in figure.texts if text.get_gid() == "key"],
    }


def check_readable(figure: Figure) -> None:
    """Every text inside the figure, the numbers inside the axes, none over another."""
    renderer = figure.canvas.get_renderer()
    whole = figure.bbox
    frame = figure.axes[0].get_window_extent(renderer)
    texts = texts_of(figure)
    for text in [*texts["title"], *texts["labels"], *texts["key"]]:
        box = text.get_window_extent(renderer)
        assert whole.x0 <= box.x0 and box.x1 <= whole.x1, text.get_text()
        assert whole.y0 <= box.y0 and box.y1 <= whole.y1, text.get_text()
    title = texts["title"][0].get_window_extent(renderer)
    assert title.y0 >= frame.y1  # above the axes, not over them
    boxes = [text.get_window_extent(renderer) for text in texts["labels"]]
    for index, box in enumerate(boxes):
        assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and box.y1 <= frame.y1
        assert not any(box.overlaps(other) for other in boxes[index + 1 :])
    legends = [legend.get_window_extent(renderer) for legend in figure.legends]
    for box in [*(key.get_window_extent(renderer) for key in texts["key"]), *legends]:
        assert not box.overlaps(frame)
        assert whole.x0 <= box.x0 and box.x1 <= whole.x1 and whole.y0 <= box.y0
    for key in texts["key"]:
        assert not any(key.get_window_extent(renderer).overlaps(box) for box in legends)


def test_picture_contents(tmp_path: Path) -> None:
    figure = _draw(ours(tmp_path), "minimize", None)
    axes = figure.axes[0]
    assert figure._suptitle.get_text() == (
        "val_bpb: 6 experiments, 2 kept changes, keep rate 40%, best 0.98 (-2.00%)"
    )
    assert "lower is better" in axes.get_ylabel()
    # Each kept dot carries its experiment number; the key names them.
    assert [text.get_text() for text in axes.texts] == ["0", "1", "4"]
    key = texts_of(figure)["key"][0].get_text().splitlines()
    assert key[1:] == [
        "   0  baseline",
        "   1  raise learning rate to 0.04",
        "   4  swap <script>alert(1)</script> in",
    ]
    discarded, kept = axes.collections[:2]
    # The crash (value 0) is left out; the y band runs from the best to the baseline.
    assert len(discarded.get_offsets()) == 2 and len(kept.get_offsets()) == 3
    low, high = axes.get_ylim()
    assert low < 0.98 < 1.0 < high < 1.01
    check_readable(figure)


def test_ten_rows_are_readable_with_integer_ticks(tmp_path: Path) -> None:
    figure = _draw(long_ledger(tmp_path, 10), "minimize", None)
    check_readable(figure)
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    ticks = [tick for tick in axes.get_xticks() if low <= tick <= high]
    assert len(ticks) >= 3 and all(tick == int(tick) for tick in ticks)
    # A long description is shortened in the key, never cut by the figure's edge.
    assert all(
        len(line) <= 6 + LABEL_CHARS for line in texts_of(figure)["key"][0].get_text().splitlines()
    )


def test_discards_off_the_band_are_drawn_on_its_edge_with_a_count() -> None:
    text = (
        "commit\tloss\tstatus\tdescription\n"
        "a\t1.00\tkeep\tbaseline\n"
        "b\t0.90\tkeep\tbetter\n"
        "c\t9.00\tdiscard\tdiverged\n"
        "d\t7.00\tdiscard\tdiverged too\n"
        "e\t0.95\tdiscard\tworse\n"
    )
    axes = _draw(parse_lines(text.splitlines(keepends=True)), "minimize", None).axes[0]
    low, high = axes.get_ylim()
    assert high < 2
    edge = next(c for c in axes.collections if "off the scale" in str(c.get_label()))
    assert edge.get_label() == "2 worse, off the scale (on the edge)"
    assert [tuple(xy) for xy in edge.get_offsets()] == [(2.0, high), (3.0, high)]


def test_better_but_not_confirmed_is_marked_apart_from_plain_discards() -> None:
    text = (
        "commit\taccuracy\tstatus\tdescription\n"
        "a\t0.50\tkeep\tbaseline\n"
        "b\t0.52\tdiscard\tbetter, within the noise\n"
        "c\t0.40\tdiscard\tworse\n"
        "d\t0.60\tkeep\tconfirmed\n"
        "e\t0.55\tdiscard\tbetter than the baseline, not than the best\n"
    )
    figure = _draw(parse_lines(text.splitlines(keepends=True)), "maximize", None)
    axes = figure.axes[0]
    by_label = {str(c.get_label()): c for c in axes.collections}
    unconfirmed = by_label["Better but not confirmed (1)"]
    assert [tuple(xy) for xy in unconfirmed.get_offsets()] == [(1.0, 0.52)]
    plain = by_label["Discarded (2)"]
    assert sorted(x for x, _ in plain.get_offsets()) == [4.0]  # 0.40 is off the scale
    assert by_label["1 worse, off the scale (on the edge)"]
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert "Better but not confirmed (1)" in legend and "Discarded (2)" in legend


def test_maximize_focuses_on_baseline_and_above(tmp_path: Path) -> None:
    text = (
        "commit\taccuracy\tstatus\tdescription\n"
        "a\t0.50\tkeep\tbaseline\n"
        "b\t0.60\tkeep\tbetter\n"
        "c\t0.10\tdiscard\tmuch worse\n"
        "d\t0.58\tdiscard\tclose\n"
    )
    ledger = parse_lines(text.splitlines(keepends=True))
    axes = _draw(ledger, "maximize", "accuracy (%)").axes[0]
    assert "higher is better" in axes.get_ylabel() and "accuracy (%)" in axes.get_ylabel()
    low, high = axes.get_ylim()
    assert 0.45 < low < 0.5 and 0.6 < high < 0.65
    check_png(render_plot(ledger, tmp_path / "max.png", "maximize"))


def test_wild_outlier_does_not_flatten_the_band(tmp_path: Path) -> None:
    text = (
        "commit\tloss\tstatus\tdescription\n"
        "a\t1.00\tkeep\tbaseline\n"
        "b\t0.90\tkeep\tbetter\n"
        "c\t-500\tdiscard\tbroken evaluation\n"
        "d\t0.95\tdiscard\tworse\n"
    )
    axes = _draw(parse_lines(text.splitlines(keepends=True)), "minimize", None).axes[0]
    low, high = axes.get_ylim()
    assert low > 0.7 and high < 1.1


def test_two_thousand_rows_render_with_thinned_labels(tmp_path: Path) -> None:
    ledger = long_ledger(tmp_path, 2000)
    check_png(render_plot(ledger, tmp_path / "long.png", "minimize"))
    figure = _draw(ledger, "minimize", None)
    check_readable(figure)
    labels = figure.axes[0].texts
    assert 10 <= len(labels) <= MAX_LABELS
    key = texts_of(figure)["key"][0].get_text().splitlines()
    assert len(key) == 1 + len(labels) + 1
    assert key[-1] == f"({280 - len(labels)} more kept, not numbered)"


def test_ledger_without_finished_experiments(tmp_path: Path) -> None:
    text = "commit\tval_bpb\tstatus\tdescription\nabc\t0\tcrash\tboom\n"
    ledger = parse_lines(text.splitlines(keepends=True))
    check_png(render_plot(ledger, tmp_path / "empty.png", "minimize"))
    header_only = parse_lines(["commit\tval_bpb\tstatus\tdescription\n"])
    assert png_size(render_plot(header_only, tmp_path / "none.png", "maximize").read_bytes())


def test_bad_direction_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="minimize"):
        render_plot(ours(tmp_path), tmp_path / "x.png", "lower")


def test_missing_matplotlib_is_a_user_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UserError, match=r"pip install 'autoresearch\[plot\]'"):
        render_plot(ours(tmp_path), tmp_path / "x.png", "minimize")
    assert not (tmp_path / "x.png").exists()


def test_short_description() -> None:
    assert short_description("a  b\tc") == "a b c"
    long = short_description("x" * 100)
    assert len(long) == 45 and long.endswith("...")
