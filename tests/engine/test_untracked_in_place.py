"""A run in place reads only what its commit holds and the untracked files the session's runs
left as they were: a helper module outside scope, a file in scope that an ignore rule keeps out
of every commit, an input edited between runs are hidden from it (an empty file stands in), and
without the sandbox the run does not go. What was there before the session, and what runs
write, stays in reach."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from support import Cli, git, ledger_rows, session_flags, tried_json, wait_for

from autoresearch.store import sandbox, untracked

NEEDS_SANDBOX = pytest.mark.skipif(
    sandbox.unavailable() is not None, reason=f"no sandbox here: {sandbox.unavailable()}"
)
WHERE = pytest.mark.parametrize(
    "where", [(), ("--in-worktree",)], ids=["in place", "in a worktree"]
)
# The commit's train.py: 1.0 on its own, and whatever a module the commit does not hold says.
READS_A_HELPER = """\
import os
try:
    from helper import VALUE
except ImportError:
    VALUE = 1.0
{extra}
print(f"val_bpb: {{VALUE}}")
"""
HIDDEN_NOTE = "not shown to its runs: "


def start(repo: Path, cli: Cli, extra: str = "", *flags: str) -> None:
    (repo / "train.py").write_text(READS_A_HELPER.format(extra=extra))
    git(repo, "commit", "-qam", "reads a helper when there is one")
    result = cli("init", *session_flags(), "--noise", "off", *flags)
    assert result.returncode == 0, result.stderr


def tweak(repo: Path, words: str) -> None:
    """An edit in scope, so that there is a candidate (it changes nothing the run does)."""
    with open(repo / "train.py", "a") as file:
        file.write(f"# {words}\n")


@NEEDS_SANDBOX
@WHERE
def test_a_helper_outside_scope_made_between_runs_is_not_measured(
    repo: Path, cli: Cli, where: tuple[str, ...]
) -> None:
    start(repo, cli)
    (repo / "helper.py").write_text("VALUE = 0.5\n")  # no commit will hold it: outside scope
    tweak(repo, "with a helper")
    outcome = tried_json(cli, *where)
    assert outcome["value"] == 1.0 and outcome["status"] != "keep", outcome
    assert (repo / "helper.py").read_text() == "VALUE = 0.5\n"  # the file itself is left alone
    if not where:
        assert any(HIDDEN_NOTE + "helper.py" in note for note in outcome["notes"]), outcome
    # It stays out of reach for every later run, as long as it is there.
    tweak(repo, "again")
    assert tried_json(cli, *where)["value"] == 1.0
    assert [row["status"] for row in ledger_rows(repo)] == ["keep", "discard", "discard"]


@NEEDS_SANDBOX
def test_a_file_in_scope_that_an_ignore_rule_keeps_out_of_the_commit_is_not_measured(
    repo: Path, cli: Cli
) -> None:
    start(repo, cli, "", "--scope", "*.py")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "helper.py\n")
    (repo / "helper.py").write_text("VALUE = 0.5\n")
    tweak(repo, "with an ignored helper")
    outcome = tried_json(cli)
    assert outcome["value"] == 1.0, outcome
    assert "helper.py" not in git(repo, "ls-tree", "-r", "--name-only", str(outcome["commit"]))
    assert any(HIDDEN_NOTE + "helper.py" in note for note in outcome["notes"]), outcome


@NEEDS_SANDBOX
def test_untracked_files_from_before_the_session_and_a_runs_outputs_stay_in_reach(
    repo: Path, cli: Cli
) -> None:
    (repo / "helper.py").write_text("VALUE = 0.7\n")  # the user's, before the session began
    # Each run adds a line to an output of its own and prints how many lines it found.
    counting = (
        "lines = open('runs.txt').read().splitlines() if os.path.exists('runs.txt') else []\n"
        "open('runs.txt', 'w').write('\\n'.join([*lines, 'run']) + '\\n')\n"
        "print(f'earlier_runs: {len(lines)}')"
    )
    start(repo, cli, counting, "--also", "earlier_runs")
    tweak(repo, "first")
    outcome = tried_json(cli)
    assert outcome["value"] == 0.7 and not outcome["notes"], outcome
    assert outcome["metrics"]["earlier_runs"] == 1.0  # the baseline's line, read back
    tweak(repo, "second")
    assert tried_json(cli)["metrics"]["earlier_runs"] == 2.0
    assert (repo / "runs.txt").read_text() == "run\nrun\nrun\n"


@NEEDS_SANDBOX
def test_an_input_edited_between_runs_is_hidden_until_it_is_gone(repo: Path, cli: Cli) -> None:
    (repo / "helper.py").write_text("VALUE = 0.7\n")
    start(repo, cli)
    (repo / "helper.py").write_text("VALUE = 0.1\n")  # an input changed halfway through
    tweak(repo, "after the edit")
    outcome = tried_json(cli)
    assert outcome["value"] == 1.0, outcome  # the run found an empty helper
    os.remove(repo / "helper.py")
    tweak(repo, "once it is gone")
    assert tried_json(cli)["notes"] == []
    (repo / "helper.py").write_text("VALUE = 0.2\n")  # made again between runs: hidden again
    tweak(repo, "made again")
    assert tried_json(cli)["value"] == 1.0


def test_without_the_sandbox_the_run_does_not_go(repo: Path, cli: Cli) -> None:
    start(repo, cli, "", "--sandbox", "off")
    (repo / "helper.py").write_text("VALUE = 0.5\n")
    tweak(repo, "with a helper")
    outcome = tried_json(cli)
    assert outcome["status"] == "crash", outcome
    assert "no commit holds them" in str(outcome["reason"])
    assert "helper.py" in str(outcome["reason"])
    assert "--in-worktree" in str(outcome["reason"])
    assert not (repo / "run.log").read_text()  # nothing ran
    os.remove(repo / "helper.py")
    tweak(repo, "without it")
    assert tried_json(cli)["status"] != "crash"


@NEEDS_SANDBOX
def test_a_link_made_between_runs_stops_the_run(repo: Path, cli: Cli, tmp_path: Path) -> None:
    start(repo, cli)
    (tmp_path / "better.py").write_text("VALUE = 0.5\n")
    os.symlink(tmp_path / "better.py", repo / "helper.py")
    tweak(repo, "through a link")
    outcome = tried_json(cli)
    assert outcome["status"] == "crash", outcome
    assert "symbolic link" in str(outcome["reason"]) and "helper.py" in str(outcome["reason"])


@NEEDS_SANDBOX
def test_an_unreadable_state_file_hides_more_never_less(repo: Path, cli: Cli) -> None:
    (repo / "helper.py").write_text("VALUE = 0.7\n")  # the user's, before the session
    start(repo, cli)
    (repo / ".autoresearch" / "t" / "untracked.json").write_text("{not json")
    tweak(repo, "with a forged state")
    assert tried_json(cli)["value"] == 1.0  # every untracked file counts as changed then


def loop_with_a_helper(repo: Path, cli: Cli, before: str, *place: str) -> None:
    """One experiment of `loop`, whose agent runs ``before`` and then leaves a helper module
    outside scope that would make train.py better."""
    (repo / "train.py").write_text(READS_A_HELPER.format(extra=""))
    git(repo, "commit", "-qam", "reads a helper when there is one")
    agent = (
        f"{before}echo 'VALUE = 0.5' > helper.py && echo '# helped' >> train.py && "
        'echo "a helper" > "$AUTORESEARCH_DESCRIPTION"'
    )
    flags = ("--noise", "off", "--agent", "command", "--agent-cmd", agent, "--max-experiments")
    result = cli("loop", *session_flags(), *flags, "1", *place)
    assert result.returncode == 0, result.stdout + result.stderr


@NEEDS_SANDBOX
@pytest.mark.parametrize(
    "place",
    [("--in-place",), (), ("--workers", "2")],
    ids=["in place", "in a worktree", "two workers"],
)
def test_loop_never_measures_a_helper_the_agent_leaves_outside_scope(
    repo: Path, cli: Cli, place: tuple[str, ...]
) -> None:
    loop_with_a_helper(repo, cli, "", *place)
    rows = ledger_rows(repo)
    assert [row["status"] for row in rows] == ["keep", "discard"], rows
    assert float(rows[-1]["val_bpb"]) == 1.0


@NEEDS_SANDBOX
def test_too_many_files_made_between_runs_stop_the_run(repo: Path, cli: Cli) -> None:
    start(repo, cli)
    (repo / "dump").mkdir()
    for number in range(untracked.MOST_HIDDEN + 1):
        (repo / "dump" / f"{number}.txt").write_text("x\n")
    tweak(repo, "beside a dump")
    outcome = tried_json(cli)
    assert outcome["status"] == "crash", outcome
    assert f"{untracked.MOST_HIDDEN + 1} of them, too many to hide" in str(outcome["reason"])


@pytest.mark.parametrize("mode", [pytest.param("on", marks=NEEDS_SANDBOX), "off"])
def test_what_a_run_cut_short_by_a_kill_wrote_stays_in_reach(
    repo: Path, cli: Cli, mode: str
) -> None:
    # The run writes its output, then waits for the test; the tool is killed meanwhile.
    writes_then_waits = (
        "if os.environ.get('AUTORESEARCH_EXPERIMENT') == '1':\n"
        "    open('out.txt', 'w').write('partial\\n')\n"
        "    import time; time.sleep(600)\n"
        "VALUE = 0.5 if os.path.exists('out.txt') and open('out.txt').read() else VALUE"
    )
    start(repo, cli, writes_then_waits, "--sandbox", mode)
    tweak(repo, "cut short")
    tool = cli.popen("try", "-m", "cut short")
    wait_for(lambda: (repo / "out.txt").exists(), "the run's output")
    tool.send_signal(signal.SIGKILL)
    tool.wait()
    assert cli("reset").returncode == 0  # records the experiment as interrupted
    tweak(repo, "after the kill")
    outcome = tried_json(cli)
    assert outcome["value"] == 0.5 and outcome["notes"] == [], outcome


@NEEDS_SANDBOX
def test_an_agent_in_loop_cannot_rewrite_what_the_runs_in_place_are_shown(
    repo: Path, cli: Cli
) -> None:
    # Forges the state so that nothing counts as changed, then writes the helper.
    forge = 'echo \'{"until": 9999999999, "hidden": []}\' > .autoresearch/t/untracked.json; '
    loop_with_a_helper(repo, cli, forge, "--in-place")
    assert [float(row["val_bpb"]) for row in ledger_rows(repo)] == [1.0, 1.0]
    state = json.loads((repo / ".autoresearch" / "t" / "untracked.json").read_text())
    assert state["until"] < 9999999999 and state["hidden"] == ["helper.py"]


def ignoring_a_cache(repo: Path) -> None:
    """The project ignores its caches (committed), and has one already."""
    (repo / ".gitignore").write_text("cache*/\n")
    git(repo, "add", ".gitignore")
    (repo / "cache" / "sub").mkdir(parents=True)
    (repo / "cache" / "sub" / "data.txt").write_text("the user's\n")


@NEEDS_SANDBOX
@pytest.mark.parametrize("new", [True, False], ids=["a new ignored folder", "an ignored folder"])
def test_a_helper_in_an_ignored_folder_is_not_measured(repo: Path, cli: Cli, new: bool) -> None:
    ignoring_a_cache(repo)
    start(repo, cli, "import sys; sys.path[:0] = ['cache', 'cache2']")
    folder = repo / ("cache2" if new else "cache")
    folder.mkdir(exist_ok=True)
    (folder / "helper.py").write_text("VALUE = 0.5\n")  # git lists the folder, not the file
    tweak(repo, "with a helper in the cache")
    outcome = tried_json(cli)
    assert outcome["value"] == 1.0, outcome
    assert any(f"{HIDDEN_NOTE}{folder.name}/" in note for note in outcome["notes"]), outcome


@NEEDS_SANDBOX
def test_an_agent_in_loop_cannot_write_inside_an_ignored_folder(repo: Path, cli: Cli) -> None:
    ignoring_a_cache(repo)
    git(repo, "commit", "-qm", "ignores the cache")
    (repo / "train.py").write_text(READS_A_HELPER.format(extra=""))
    # Deep in a folder that was there before: a change no listing of git's shows.
    before = "import sys; sys.path[:0] = ['cache/sub']\n"
    (repo / "train.py").write_text(before + (repo / "train.py").read_text())
    git(repo, "commit", "-qam", "looks for a helper in the cache")
    agent = (
        "echo 'VALUE = 0.5' > cache/sub/helper.py; echo '# helped' >> train.py && "
        'echo "a helper" > "$AUTORESEARCH_DESCRIPTION"'
    )
    flags = ("--noise", "off", "--agent", "command", "--agent-cmd", agent, "--in-place")
    result = cli("loop", *session_flags(), *flags, "--max-experiments", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert [float(row["val_bpb"]) for row in ledger_rows(repo)] == [1.0, 1.0]
    assert not (repo / "cache" / "sub" / "helper.py").exists()
    assert (repo / "cache" / "sub" / "data.txt").read_text() == "the user's\n"


def test_without_the_sandbox_what_git_ignores_is_let_through(repo: Path, cli: Cli) -> None:
    start(repo, cli, "", "--sandbox", "off")
    exclude = repo / ".git" / "info" / "exclude"
    exclude.write_text(exclude.read_text() + "*.swp\n")
    (repo / ".train.py.swp").write_text("an editor's\n")
    tweak(repo, "with an editor open")
    assert tried_json(cli)["status"] != "crash"


@NEEDS_SANDBOX
def test_what_a_run_writes_over_a_hidden_file_replaces_it_as_in_place(repo: Path, cli: Cli) -> None:
    counting = (
        "lines = open('runs.txt').read().splitlines() if os.path.exists('runs.txt') else []\n"
        "open('runs.txt', 'w').write('\\n'.join([*lines, 'run']) + '\\n')\n"
        "print(f'earlier_runs: {len(lines)}')"
    )
    start(repo, cli, counting, "--also", "earlier_runs")
    (repo / "runs.txt").write_text("forged\n" * 9)  # edited between runs: not the runs' own
    tweak(repo, "after the edit")
    outcome = tried_json(cli)
    assert outcome["metrics"]["earlier_runs"] == 0.0, outcome  # it found an empty file
    assert (repo / "runs.txt").read_text() == "run\n"  # and what it wrote took its place
    tweak(repo, "and after")
    outcome = tried_json(cli)
    assert outcome["metrics"]["earlier_runs"] == 1.0 and outcome["notes"] == [], outcome
