from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from report_support import karpathy, long_ledger, ours, png_size

from autoresearch.errors import UserError
from autoresearch.reports.plot import MAX_LABELS, _draw, render_plot, short_description
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


def test_picture_contents(tmp_path: Path) -> None:
    axes = _draw(ours(tmp_path), "minimize", None).axes[0]
    assert axes.get_title() == (
        "val_bpb: 6 experiments, 2 kept changes, keep rate 40%, best 0.980000 (-2.00%)"
    )
    assert "lower is better" in axes.get_ylabel()
    labels = [text.get_text() for text in axes.texts]
    assert labels == [
        "baseline",
        "raise learning rate to 0.04",
        "swap <script>alert(1)</script> in",
    ]
    discarded, kept = axes.collections[:2]
    # The crash (value 0) is left out; the y band runs from the best to the baseline.
    assert len(discarded.get_offsets()) == 2 and len(kept.get_offsets()) == 3
    low, high = axes.get_ylim()
    assert low < 0.98 < 1.0 < high < 1.01


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
    started = time.perf_counter()
    check_png(render_plot(ledger, tmp_path / "long.png", "minimize"))
    assert time.perf_counter() - started < 20
    axes = _draw(ledger, "minimize", None).axes[0]
    assert 10 <= len(axes.texts) <= MAX_LABELS


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
