"""Time the ledger-wide operations on a long session: reading, summarising, plotting.

Usage: python bench/ledger.py [ROWS] [REPEATS]

Targets at 100,000 rows: reading plus the summary under 2 s, the plot under 2 s.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from autoresearch.reports.plot import render_plot
from autoresearch.reports.summary import summarize
from autoresearch.store.ledger import read_ledger

COLUMNS = ["commit", "val_bpb", "memory_gb", "seconds", "cost_usd", "status", "description"]
TARGET_SECONDS = 2.0


def write_long_ledger(path: Path, rows: int, seed: int = 0) -> None:
    """A plausible minimising session: improvements get rarer and smaller, a few crashes."""
    generator = random.Random(seed)
    best, floor = 1.0, 0.9
    lines = ["\t".join(COLUMNS)]
    for index in range(rows):
        commit = "baseline" if index == 0 else f"{generator.getrandbits(28):07x}"
        if index and generator.random() < 0.02:
            lines.append(f"{commit}\t0.000000\t0.0\t12.0\t0.01\tcrash\tcrash {index}")
            continue
        value = best + generator.gauss(0.02, 0.01) * (best - floor) if index else best
        status = "keep" if index == 0 or value < best else "discard"
        best = min(best, value)
        description = f"experiment {index}: tweak parameter {generator.randrange(50)}"
        lines.append(
            f"{commit}\t{value:.6f}\t44.0\t{generator.uniform(290, 330):.1f}\t0.05"
            f"\t{status}\t{description}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main(argv: list[str]) -> int:
    rows = int(argv[0]) if argv else 100_000
    repeats = int(argv[1]) if len(argv) > 1 else 5
    with tempfile.TemporaryDirectory() as folder:
        ledger_path = Path(folder) / "results.tsv"
        write_long_ledger(ledger_path, rows)
        ledger = read_ledger(ledger_path)
        # The first plot pays for importing matplotlib; that is not what is measured.
        render_plot(ledger, Path(folder) / "warmup.png", "minimize")
        status = median_seconds(lambda: summarize(read_ledger(ledger_path), "minimize"), repeats)
        plot = median_seconds(
            lambda: render_plot(ledger, Path(folder) / "progress.png", "minimize"), repeats
        )
        size = (Path(folder) / "progress.png").stat().st_size
    print(f"rows: {rows:,} ({len(ledger.rows):,} read), median of {repeats} runs")
    print(f"read_ledger + summarize: {status:.3f} s (target < {TARGET_SECONDS} s)")
    print(f"render_plot:             {plot:.3f} s (target < {TARGET_SECONDS} s, {size:,} bytes)")
    return 0 if max(status, plot) < TARGET_SECONDS else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
