"""Changing the protected harness mid-night: end, commit the fix, `init --continue OLD`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Cli, fix_the_harness, git, repo_state


def test_end_says_how_to_continue_after_fixing_a_protected_file(kept_session: Cli) -> None:
    said = kept_session("end").stdout.splitlines()[-1]
    assert said == (
        "to fix a protected file: commit the fix on top of autoresearch/t, then "
        "`autoresearch init --continue t`"
    )


def test_a_continued_session_records_which_one_it_continues(repo: Path, chained: Cli) -> None:
    keep = git(repo, "rev-parse", "refs/autoresearch/t/keep")
    frozen = json.loads((repo / ".autoresearch/t2/session.json").read_text())
    assert frozen["continues"] == {"tag": "t", "keep": keep}
    recorded = json.loads(
        git(repo, "cat-file", "blob", "refs/autoresearch/t2/journal:session.json")
    )
    assert recorded["continues"] == frozen["continues"]


def test_status_shows_the_earlier_session_apart_in_one_line(chained: Cli) -> None:
    text = chained("status").stdout.splitlines()
    assert text[1] == (
        "continues session t (3 experiments, best 0.8, -20.00%); harness changed since: "
        "not comparable with the numbers below"
    )
    assert "baseline 8 · best 6" in text[2]  # this session's own numbers, not the old ones
    data = json.loads(chained("status", "--json").stdout)
    assert data["continues"] == [
        {
            "tag": "t",
            "experiments": 3,
            "baseline": 1.0,
            "best": 0.8,
            "best_commit": data["continues"][0]["best_commit"],
            "change_percent": pytest.approx(-20.0),
            "keeps": 1,
        }
    ]
    assert (data["baseline"], data["best"], data["experiments"]) == (8.0, 6.0, 2)


def test_a_chain_of_three_lists_every_earlier_session_oldest_first(
    repo: Path, chained: Cli
) -> None:
    assert chained("end").returncode == 0
    git(repo, "checkout", "-q", "-b", "second-fix", "autoresearch/t2")
    (repo / "prepare.py").write_text("DATA = 'fixed twice'\n")
    git(repo, "commit", "-qam", "fix the evaluation again")
    assert chained.init("--continue", "t2", tag="t3").returncode == 0
    line = chained("status").stdout.splitlines()[1]
    assert line.startswith("continues session t (3 experiments, best 0.8, -20.00%) -> t2 (")


def refused(repo: Path, cli: Cli, *flags: str, tag: str = "t2") -> str:
    before = repo_state(repo)
    result = cli.init(*flags, tag=tag)
    assert result.returncode == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert repo_state(repo) == before
    assert not (repo / f".autoresearch/{tag}").exists()
    assert git(repo, "branch", "--list", f"autoresearch/{tag}") == ""
    return result.stderr


def test_refusals_are_one_line_and_create_nothing(repo: Path, kept_session: Cli) -> None:
    cli = kept_session
    assert "has not ended" in refused(repo, cli, "--continue", "t")
    assert cli("end").returncode == 0
    assert "no session 'nope'" in refused(repo, cli, "--continue", "nope")
    # Back on main, where the session started: its keep ref is not below HEAD.
    assert "does not build on session t's keep ref" in refused(repo, cli, "--continue", "t")
    fix_the_harness(repo, 8.0)
    said = refused(repo, cli, "--continue", "t", "--metric", "peak_vram_mb")
    assert "session t measured val_bpb (minimize)" in said
    said = refused(repo, cli, "--continue", "t", "--metric", "peak_vram_mb", "--no-baseline")
    assert "session t measured val_bpb (minimize)" in said


def test_a_session_continues_from_its_finalized_branch_merged_elsewhere(
    repo: Path, kept_session: Cli
) -> None:
    cli = kept_session
    assert cli("finalize").returncode == 0
    assert cli("end").returncode == 0
    git(repo, "merge", "-q", "--ff-only", "autoresearch/t-final")  # main takes the result
    (repo / "prepare.py").write_text("DATA = 'fixed on main'\n")
    git(repo, "commit", "-qam", "fix the evaluation")
    started = cli.init("--continue", "t", tag="t2")
    assert started.returncode == 0, started.stderr
    assert cli("status").stdout.splitlines()[1].startswith("continues session t (2 experiments")
