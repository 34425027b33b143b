"""Ledgers for the plot, report and dashboard tests, written as real files."""

from __future__ import annotations

from pathlib import Path

from autoresearch.store.ledger import Ledger, read_ledger

OURS_COLUMNS = ["commit", "val_bpb", "memory_gb", "seconds", "cost_usd", "status", "description"]
# (commit, val_bpb, memory_gb, seconds, cost_usd, status, description)
OURS_ROWS = [
    ("a1b2c3d", "1.000000", "40.0", "300", "0.10", "keep", "baseline"),
    ("b2c3d4e", "0.990000", "40.5", "310", "0.20", "keep", "raise learning rate to 0.04"),
    ("c3d4e5f", "0.995000", "41.0", "305", "0.20", "discard", "add 5% warmup"),
    ("d4e5f6a", "0.000000", "0.0", "20", "0.05", "crash", "batch 131K (assert fail)"),
    ("e5f6a7b", "0.980000", "40.2", "300", "0.25", "keep", "swap <script>alert(1)</script> in"),
    ("f6a7b8c", "0.985000", "40.2", "295", "0.20", "discard", "pipe | in the description"),
]

KARPATHY_TEXT = (
    "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
    "baseline\t0.997900\t44.0\tkeep\tbaseline\n"
    "bea057b\t0.986041\t43.9\tkeep\thalve batch 524K to 262K (more steps in 5 min)\n"
    "187e419\t0.982603\t60.2\tdiscard\tadd 5% warmup\n"
    "e05a87d\t0.000000\t0.0\tcrash\tbatch 131K (assert fail: not divisible by device batch)\n"
    "7f2a65c\t0.981773\t60.2\tkeep\tdepth 9 aspect_ratio 57 (extra layer dim ~512)\n"
)


def write_rows(path: Path, columns: list[str], rows: list[tuple[str, ...]]) -> Path:
    lines = ["\t".join(columns)] + ["\t".join(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def ours(tmp_path: Path) -> Ledger:
    return read_ledger(write_rows(tmp_path / "results.tsv", OURS_COLUMNS, OURS_ROWS))


def karpathy(tmp_path: Path) -> Ledger:
    path = tmp_path / "karpathy.tsv"
    path.write_text(KARPATHY_TEXT, encoding="utf-8")
    return read_ledger(path)


def long_ledger(tmp_path: Path, rows: int) -> Ledger:
    """A minimising session of ``rows`` experiments where an improvement comes every 7th."""
    best = 1.0
    lines = []
    for index in range(rows):
        if index % 53 == 52:
            lines.append((f"{index:07x}", "0.0", "0.0", "crash", f"crash {index}"))
            continue
        improves = index % 7 == 0
        value = best * 0.999 if improves and index else best + 0.001 * (index % 5 + 1)
        best = min(best, value)
        status = "keep" if improves else "discard"
        lines.append((f"{index:07x}", f"{value:.6f}", "40.0", status, f"change number {index}"))
    columns = ["commit", "val_bpb", "memory_gb", "status", "description"]
    return read_ledger(write_rows(tmp_path / "long.tsv", columns, lines))


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
