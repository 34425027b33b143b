from __future__ import annotations

import csv
from pathlib import Path

from autoresearch.rules.formatting import number as format_number
from autoresearch.store.ledger import append_row, create_ledger, read_ledger

KARPATHY = (
    "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
    "baseline\t0.997900\t44.0\tkeep\tbaseline\n"
    "bea057b\t0.986041\t43.9\tkeep\thalve batch 524K to 262K (more steps in 5 min)\n"
    "187e419\t0.982603\t60.2\tdiscard\tadd 5% warmup\n"
    "e05a87d\t0.000000\t0.0\tcrash\tbatch 131K (assert fail: not divisible by device batch)\n"
)


def test_reads_karpathy_format_with_baseline_word(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    path.write_text(KARPATHY)
    book = read_ledger(path)
    assert book.metric == "val_bpb"
    assert book.secondary == ["memory_gb"]
    assert [r.commit for r in book.rows] == ["baseline", "bea057b", "187e419", "e05a87d"]
    assert [r.status for r in book.rows] == ["keep", "keep", "discard", "crash"]
    assert book.rows[1].number("memory_gb") == 43.9
    assert not book.problems


def test_corrupt_rows_are_reported_not_fatal_and_file_is_untouched(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    text = KARPATHY + "zzz\toops\t1\tkeep\tx\n" + "abc1234\t0.97\t1\tkep\ttypo status\n" + "short\n"
    path.write_text(text)
    book = read_ledger(path)
    assert len(book.rows) == 4
    assert len(book.problems) == 3
    assert "line 6" in book.problems[0] and "not a number" in book.problems[0]
    assert "unknown status 'kep'" in book.problems[1]
    assert path.read_text() == text


def test_append_follows_the_file_header_and_sanitizes(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    create_ledger(path, ["commit", "loss", "seconds", "status", "description"])
    append_row(
        path,
        {
            "description": "tabs\tand\nnewlines",
            "status": "keep",
            "loss": 0.5,
            "commit": "abc1234",
            "unknown": "ignored",
        },
    )
    rows = list(csv.reader(path.open(), delimiter="\t"))
    assert rows[1] == ["abc1234", "0.500000", "", "keep", "tabs and newlines"]


def test_append_after_a_hand_edit_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "results.tsv"
    path.write_text("commit\tloss\tstatus\tdescription\nabc1234\t1.0\tkeep\tbaseline")
    append_row(path, {"commit": "def5678", "loss": 0.9, "status": "keep", "description": "x"})
    assert [r.commit for r in read_ledger(path).rows] == ["abc1234", "def5678"]


def test_numbers_keep_six_decimals_unless_that_would_lose_precision() -> None:
    assert format_number(0.9932) == "0.993200"
    assert float(format_number(1e-9)) == 1e-9
    assert format_number((1.009417 + 1.012882) / 2) == "1.0111495"
