"""runs.jsonl, the raw measurement of every run behind the noise estimate."""

from __future__ import annotations

from pathlib import Path

from autoresearch.store.files import SessionFiles, append_run, read_runs


def run(commit: str, value: float) -> dict[str, object]:
    return {"commit": commit, "value": value, "run": 0}


def test_a_run_appended_after_a_cut_line_stands_on_its_own(tmp_path: Path) -> None:
    files = SessionFiles(str(tmp_path), "t")
    append_run(files, run("aaaaaaa", 0.5))
    with open(files.runs_jsonl, "a", encoding="utf-8") as handle:
        handle.write('{"commit": "bbbbbbb", "val')  # the disk filled up mid-line
    append_run(files, run("ccccccc", 0.25))
    assert read_runs(files) == [run("aaaaaaa", 0.5), run("ccccccc", 0.25)]
    lines = Path(files.runs_jsonl).read_text(encoding="utf-8").splitlines()
    assert lines[1] == '{"commit": "bbbbbbb", "val'  # kept as found, never rewritten


def test_lines_that_are_not_runs_are_skipped_and_the_rest_kept(tmp_path: Path) -> None:
    files = SessionFiles(str(tmp_path), "t")
    assert read_runs(files) == []
    for value in (0.5, 0.4):
        append_run(files, run("aaaaaaa", value))
    with open(files.runs_jsonl, "a", encoding="utf-8") as handle:
        handle.write("not json\n\n[1, 2]\n")
    append_run(files, run("bbbbbbb", 0.3))
    assert [r["value"] for r in read_runs(files)] == [0.5, 0.4, 0.3]
