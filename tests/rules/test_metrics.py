from __future__ import annotations

import pytest

from autoresearch.rules.metrics import compile_pattern, default_pattern, read_metrics


def newest_first(text: str) -> list[str]:
    return list(reversed(text.splitlines()))


def read(text: str, name: str = "val_bpb", pattern: str | None = None):
    regex = compile_pattern(pattern) if pattern else default_pattern(name)
    return read_metrics(newest_first(text), {name: regex})[name]


def test_reads_name_colon_number_at_line_start() -> None:
    assert read("step 1\nval_bpb:          0.997900\ndone").value == 0.9979


def test_reads_metric_equals_form_anywhere_on_a_line() -> None:
    assert read("[rank0] METRIC val_bpb=1.25 extra").value == 1.25


def test_the_last_print_wins() -> None:
    assert read("val_bpb: 2.0\nval_bpb: 1.5\nval_bpb: 1.1\n").value == 1.1


def test_a_name_inside_a_longer_word_does_not_match() -> None:
    reading = read("train_val_bpb: 0.5\n")
    assert reading.value is None and reading.problem == "no 'val_bpb: <number>' line in the run log"


def test_a_missing_metric_says_what_was_looked_for() -> None:
    assert read("val_bpb=0.5\n").problem == "no 'val_bpb: <number>' line in the run log"
    custom = read("loss 0.5\n", pattern=r"^val_bpb=(\S+)")
    assert custom.problem == "no line of the run log matches the val_bpb pattern"


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf", "NaN"])
def test_non_finite_values_are_no_metric(cell: str) -> None:
    reading = read(f"val_bpb: 1.0\nval_bpb: {cell}\n")
    assert reading.value is None and (reading.problem or "").startswith("val_bpb: value is")


def test_unparsable_value_is_reported() -> None:
    reading = read("val_bpb: 0.99x\n")
    assert reading.value is None and reading.problem == "val_bpb: unparsable value '0.99x'"


def test_progress_lines_with_carriage_returns() -> None:
    assert read("step 1\rstep 2\rval_bpb: 0.75\n").value == 0.75


def test_user_regex_with_capture_group_overrides() -> None:
    assert read("loss on val = 3.5 (ok)", pattern=r"loss on val = (\S+)").value == 3.5


def test_regex_without_group_is_refused() -> None:
    with pytest.raises(ValueError, match="no capture group"):
        compile_pattern(r"val_bpb: \S+")


def test_secondary_metrics_are_read_in_the_same_pass() -> None:
    text = "peak_vram_mb: 45060.2\nval_bpb: 0.99\n"
    readings = read_metrics(
        newest_first(text),
        {"val_bpb": default_pattern("val_bpb"), "peak_vram_mb": default_pattern("peak_vram_mb")},
    )
    assert readings["val_bpb"].value == 0.99
    assert readings["peak_vram_mb"].value == 45060.2


def test_stops_reading_once_everything_is_found() -> None:
    consumed = []

    def lines():
        for line in ["val_bpb: 0.5", "earlier", "much earlier"]:
            consumed.append(line)
            yield line

    read_metrics(lines(), {"val_bpb": default_pattern("val_bpb")})
    assert consumed == ["val_bpb: 0.5"]


def test_terminal_colour_codes_do_not_hide_the_metric() -> None:
    assert read("\x1b[32mval_bpb: 0.99\x1b[0m\n").value == 0.99
    assert read("val_bpb: \x1b[1;33m0.98\x1b[0m\n").value == 0.98


def test_a_percentage_is_read_as_its_number() -> None:
    assert read("accuracy: 93.5%\n", name="accuracy").value == 93.5
    assert read("accuracy: 93.5%,\n", name="accuracy").value == 93.5
