"""Runs in clean worktrees, a pool of workers with devices of their own, and sound verdicts when
several experiments run at once."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from kill_states import killed_after_the_entry
from support import (
    EVENT_DEADLINE,
    FOREVER,
    SCORED_TRAIN,
    Cli,
    git,
    ledger_rows,
    scored_loop,
    wait_for,
)

from autoresearch.store import sandbox


@pytest.fixture
def project(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (repo / "train.py").write_text(SCORED_TRAIN)
    git(repo, "commit", "-qam", "a scored run")
    locks = tmp_path / "locks"
    locks.mkdir()
    monkeypatch.setenv("LOCKS", str(locks))  # the runs of a session given --pass-env LOCKS
    return repo


def test_try_in_worktree_sees_only_the_commit_and_the_links(cli: Cli, project: Path) -> None:
    assert cli.init("--pattern", r"score: (\S+)", "--noise", "off").returncode == 0
    (project / "stray.txt").write_text("left lying around\n")
    (project / "data").mkdir()
    (project / "data" / "extra.txt").write_text("linked-data")
    (project / "train.py").write_text(SCORED_TRAIN.replace("A = 0", "A = 0.1"))
    isolated = cli("try", "-m", "clean checkout", "--in-worktree", "--link", "data")
    assert isolated.returncode == 0, isolated.stderr
    assert ledger_rows(project)[-1]["status"] == "keep"
    assert "linked-data" in (project / "run.log").read_text()
    assert len(git(project, "worktree", "list").splitlines()) == 1  # removed at the end
    bad = cli("try", "-m", "x", "--in-worktree", "--link", "nowhere")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "nowhere" in bad.stderr
    (project / "train.py").write_text(SCORED_TRAIN.replace("A = 0", "A = 0.2"))
    in_place = cli("try", "-m", "in place, as always")
    assert "untracked file" in (project / "run.log").read_text(), in_place.stdout
    assert ledger_rows(project)[-1]["status"] == "crash"


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--workers", "0"), "--workers must be at least 1"),
        (("--gpus", "0,1,0"), "GPU 0 twice"),
        (("--gpus", "0,1", "--gpus-per-run", "3"), "more than the 2 GPUs"),
        (("--gpus", "0,1", "--workers", "3"), "--workers 3 needs 3 GPUs"),
    ],
)
def test_bad_worker_flags_get_one_line_and_change_nothing(
    cli: Cli, project: Path, tmp_path: Path, flags: tuple[str, ...], says: str
) -> None:
    result = cli(*scored_loop(tmp_path / "agent", [{"A": 0.1}], *flags))
    assert result.returncode == 2
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert "autoresearch/p" not in git(project, "branch")


def test_worker_settings_come_from_the_settings_file_too(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    (project / "autoresearch.toml").write_text("gpus = [0, 1, 0]\n")
    result = cli(*scored_loop(tmp_path / "agent", [{"A": 0.1}]))
    assert result.returncode == 2 and "GPU 0 twice" in result.stderr


def test_a_pool_runs_at_once_on_devices_of_their_own(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    go = tmp_path / "second-proposal-made"
    steps = [{"A": round(0.01 * i, 2), "SLEEP": 1} for i in range(1, 7)]
    # The first run goes on until the second candidate is proposed: both workers get one.
    steps[0]["GO"], steps[1]["touch"] = str(go), str(go)
    flags = ("--gpus", "0,1,2,3", "--gpus-per-run", "2", "--max-experiments", "6")
    flags += ("--pass-env", "LOCKS")
    result = cli(*scored_loop(tmp_path / "agent", steps, *flags))
    assert result.returncode == 0, result.stderr
    recorded = ledger_rows(project)[1:]
    assert len(recorded) >= 6 and all(r["status"] != "crash" for r in recorded), result.stdout
    assert {r["worker"] for r in recorded} == {"worktree0:gpu0+1", "worktree1:gpu2+3"}
    assert all(r["base"] for r in recorded)
    assert git(project, "status", "--porcelain") == ""


def test_a_run_that_ends_beside_another_does_not_void_it_by_its_protected_files(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    # Each run keeps the protected files read-only and watches them: the first ends once the
    # second has started, the second once the first is recorded.
    second_started, first_recorded = tmp_path / "started-2", tmp_path / "first-recorded"
    steps = [{"A": 0.1, "GO": str(second_started)}, {"A": 0.2, "GO": str(first_recorded)}]
    flags = ("--workers", "2", "--max-experiments", "2", "--protect", "prepare.py")
    command = scored_loop(tmp_path / "agent", steps, *flags)
    run_at = command.index("--run") + 1
    command[run_at] = f"touch {tmp_path}/started-$AUTORESEARCH_EXPERIMENT; {command[run_at]}"
    loop = cli.popen(*command)
    try:
        ledger = project / "results.tsv"
        wait_for(lambda: ledger.exists() and len(ledger_rows(project)) == 2, "the first row")
        first_recorded.touch()
        out, err = loop.communicate(timeout=EVENT_DEADLINE)
    finally:
        loop.kill()
    assert loop.returncode == 0, err
    assert [r["status"] != "crash" for r in ledger_rows(project)] == [True] * 3, out
    assert os.access(project / "prepare.py", os.W_OK)  # writable again once no run goes


def test_pipeline_prepares_the_next_candidate_while_the_run_goes(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    go = tmp_path / "second-proposal-made"
    # The first run goes on until the agent is asked for the next candidate: the pipeline works
    # if that happens while the run goes (without it, the run would wait until its deadline).
    steps = [{"A": 0.1, "GO": str(go)}, {"B": 0.05, "touch": str(go)}]
    flags = ("--pipeline", "--max-experiments", "2", "--gpus", "0", "--pass-env", "LOCKS")
    result = cli(*scored_loop(tmp_path / "agent", steps, *flags))
    assert result.returncode == 0, result.stderr
    second = (tmp_path / "agent" / "prompt-1.md").read_text()
    assert "## Experiments in flight" in second and "set A to 0.1, GO to" in second
    recorded = ledger_rows(project)[1:]
    assert [r["worker"] for r in recorded] == ["worktree0:gpu0"] * len(recorded)
    assert all(r["status"] != "crash" for r in recorded)  # gpu0 was never shared


def test_a_candidate_that_beat_a_stale_base_is_measured_again_on_the_new_keep(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    # Both ideas start from the baseline; the quick one is kept first, so the slow one beat a
    # base that is no longer the keep ref: it is carried onto the new keep and measured again.
    # The slow one's run ends once the quick one's row is in the ledger (header, baseline, it).
    slow_until = [str(project / "results.tsv"), 3]
    steps = [{"A": 0.1}, {"B": 0.05, "GO": slow_until}, {"A": 0.1, "B": 0.2}]
    flags = ("--workers", "2", "--max-experiments", "2")
    result = cli(*scored_loop(tmp_path / "agent", steps, *flags))
    assert result.returncode == 0, result.stderr
    baseline, quick, slow, carried = ledger_rows(project)
    assert quick["status"] == "keep" and quick["base"] == baseline["commit"]
    assert slow["status"] == "discard" and "measured again" in slow["description"]
    assert carried["base"] == quick["commit"] and carried["status"] == "keep"
    assert float(carried["score"]) == pytest.approx(0.85)
    keep = git(project, "rev-parse", "refs/autoresearch/p/keep")
    assert keep.startswith(carried["commit"]) and git(project, "rev-parse", "HEAD") == keep


def inflight(project: Path) -> list[dict[str, object]]:
    folder = project / ".autoresearch" / "p" / "inflight"
    found = []
    for path in folder.glob("*.json") if folder.is_dir() else ():
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return [record for record in found if record.get("group")]


def alive(group: int) -> bool:
    from autoresearch.store.runner import group_alive

    return group_alive(group)  # a zombie left by the killed tool does not count


def dashboard_workers(project: Path) -> list[dict[str, object]]:
    """The workers as the dashboard's state, served over HTTP on 127.0.0.1, gives them."""
    import threading
    import urllib.request

    from autoresearch.engine.session import Session
    from autoresearch.reports.dashboard import create_dashboard_server

    session = Session.open(str(project))
    server = create_dashboard_server(session.files, session.settings.direction)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(server.url + "api/state", timeout=EVENT_DEADLINE) as response:
            return json.loads(response.read())["workers"]
    finally:
        server.shutdown()
        server.server_close()


def test_after_a_kill_every_experiment_in_flight_is_recovered(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    steps = [{"A": 0.1 * i, "SLEEP": FOREVER} for i in range(1, 4)]
    loop = cli.popen(*scored_loop(tmp_path / "agent", steps, "--workers", "2"))
    try:
        wait_for(lambda: len(inflight(project)) == 2, "two runs in flight")
        status = cli("status")
        assert status.stdout.count(": busy") == 2, status.stdout
        assert [w["busy"] for w in dashboard_workers(project)] == [True, True]
        groups = [int(record["group"]) for record in inflight(project)]
    finally:
        loop.kill()
        loop.communicate()
    if sandbox.unavailable():  # the runs outlived the tool, until the next command
        assert all(alive(group) for group in groups)
    else:  # each run's sandbox died with the tool, and the run with it
        wait_for(lambda: not any(alive(group) for group in groups), "the runs to die with it")
    recovered = cli("reset")
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stderr.count("was interrupted") == 2
    assert not any(alive(group) for group in groups)
    assert [r["status"] for r in ledger_rows(project)] == ["keep", "crash", "crash"]
    assert "worker" not in cli("status").stdout


def test_first_ctrl_c_lets_runs_finish_and_the_second_stops_them(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    steps = [{"A": 0.1 * i, "GO": str(go)} for i in range(1, 9)]
    loop = cli.popen(*scored_loop(tmp_path / "agent", steps, "--workers", "2"))
    try:
        wait_for(lambda: len(inflight(project)) == 2, "two runs in flight")
        loop.send_signal(signal.SIGINT)
        loop.read_until("no new proposals")
        go.touch()  # the runs end only now, so the Ctrl-C came while both were going
        out, _ = loop.communicate()
    finally:
        loop.kill()
    assert loop.returncode == 0
    assert [r["status"] for r in ledger_rows(project)][1:] == ["keep", "discard"] or all(
        r["status"] in ("keep", "discard") for r in ledger_rows(project)
    )
    assert len(ledger_rows(project)) == 3 and "stopped at your request" in out

    steps = [{"A": 0.1 * i, "SLEEP": FOREVER} for i in range(1, 9)]
    loop = cli.popen(*scored_loop(tmp_path / "agent", steps, "--workers", "2"))
    try:
        wait_for(lambda: len(inflight(project)) == 2, "two runs in flight")
        groups = [int(record["group"]) for record in inflight(project)]
        loop.send_signal(signal.SIGINT)
        loop.read_until("Ctrl-C again")  # two signals at once would be taken as one
        loop.send_signal(signal.SIGINT)
        out, _ = loop.communicate()
    finally:
        loop.kill()
    assert "stopped now" in out
    assert [r["description"] for r in ledger_rows(project)][3:] and all(
        r["status"] == "crash" for r in ledger_rows(project)[3:]
    )
    assert len(ledger_rows(project)) == 5
    assert not any(alive(group) for group in groups)


def test_a_keep_recorded_before_a_kill_moves_the_keep_ref_on_recovery(
    cli: Cli, project: Path
) -> None:
    assert cli.init("--pattern", r"score: (\S+)").returncode == 0
    base = git(project, "rev-parse", "HEAD")
    (project / "train.py").write_text(SCORED_TRAIN.replace("A = 0", "A = 0.1"))
    git(project, "commit", "-qam", "better")
    better = git(project, "rev-parse", "HEAD")
    git(project, "reset", "-q", "--hard", base)
    # As a parallel loop killed right after the record took the keep, before its row and the
    # keep ref's move:
    killed_after_the_entry(project, better, base, worker="local0")
    recovered = cli("reset")
    assert "keep ref moved" in recovered.stderr, recovered.stderr
    assert git(project, "rev-parse", "refs/autoresearch/t/keep") == better
    assert git(project, "rev-parse", "HEAD") == better
    assert [r["status"] for r in ledger_rows(project)] == ["keep", "keep"]


def test_runs_of_an_experiment_recorded_on_both_sides_of_another_s_entry_stay_in_the_record(
    cli: Cli, project: Path, tmp_path: Path
) -> None:
    # Experiment 1 runs twice; its second run (and the keep ref's run before it) waits until
    # experiment 2, beside it, is recorded, so that its first run is written before that entry
    # and its second after.
    steps = [{"A": 0.1}, {"A": 0.05}]
    flags = ("--workers", "2", "--max-experiments", "2", "--noise", "0.01", "--repeats", "2")
    command = scored_loop(tmp_path / "agent", steps, *flags)
    run_at = command.index("--run") + 1
    command[run_at] = (
        f'if [ "$AUTORESEARCH_EXPERIMENT" = 1 ] && [ -e {tmp_path}/ran-1 ]; then '
        f"while [ ! -e {tmp_path}/recorded-2 ]; do sleep 0.05; done; fi; "
        f"touch {tmp_path}/ran-$AUTORESEARCH_EXPERIMENT; {command[run_at]}"
    )
    loop = cli.popen(*command)
    try:
        ledger = project / "results.tsv"
        wait_for(lambda: ledger.exists() and len(ledger_rows(project)) == 2, "experiment 2's row")
        (tmp_path / "recorded-2").touch()
        out, err = loop.communicate(timeout=EVENT_DEADLINE)
    finally:
        loop.kill()
    assert loop.returncode == 0, err
    runs = [json.loads(line) for line in (project / ".autoresearch/p/runs.jsonl").open()]
    base = runs[0]["commit"]  # the baseline, the keep ref both experiments began on
    assert [r["experiment"] for r in runs if r["commit"] != base] == [1, 2, 2, 1]
    # Before its second run, each ran the keep ref again, in its own worktree.
    assert sorted(r["experiment"] for r in runs if r["experiment"] and r["commit"] == base) == [
        1,
        2,
    ]
    status = json.loads(cli("status", "--json").stdout)
    assert status["record"] == [] and status["experiments"] == 3
