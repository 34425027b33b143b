"""Runs on a Ray cluster: a local one, started once for these tests with 8 logical GPUs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import (
    EVENT_DEADLINE,
    FOREVER,
    SCORED_TRAIN,
    Cli,
    alive_with,
    git,
    ledger_rows,
    scored_loop,
    wait_for,
)

pytest.importorskip("ray")


# In the environment of the cluster's workers only: the one a run may be given by name, and a
# secret that must not reach it.
WORKER_ENVIRONMENT = {"WORKER_PASSED": "passed-on-the-worker", "WORKER_TOKEN": "worker-5cret"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node of our own, started as a user would (its port, its node address, its temp
    folder), stopped with the process that started it (``--block``)."""
    ray = shutil.which("ray", path=os.path.dirname(sys.executable))
    assert ray is not None
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    command = [ray, "start", "--head", "--block", f"--port={port}", "--num-cpus=8"]
    command += ["--node-ip-address=127.0.0.1"]
    command += ["--num-gpus=8", "--include-dashboard=false", "--disable-usage-stats"]
    head = subprocess.Popen(
        [*command, f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **WORKER_ENVIRONMENT},  # the workers', not the tool's
    )
    try:
        wait_for(lambda: _listening(port) and head.poll() is None, "the Ray head's port")
        wait_for(lambda: _cluster_ready(ray, port), "the Ray head's services")
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()
        head.wait(timeout=EVENT_DEADLINE)


def _cluster_ready(ray: str, port: int) -> bool:
    """The head's node has joined with its resources (its services come up after the port)."""
    status = [ray, "status", f"--address=127.0.0.1:{port}"]
    shown = subprocess.run(status, capture_output=True, text=True, check=False)
    return shown.returncode == 0 and "GPU" in shown.stdout


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "train.py").write_text(SCORED_TRAIN)
    git(repo, "commit", "-qam", "a scored run")
    return repo


def test_runs_travel_as_the_commit_with_gpus_of_their_own(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    (project / "stray.txt").write_text("an untracked file in the agent's tree\n")
    go = tmp_path / "second-proposal-made"
    # The first run goes on until the second candidate is proposed: both slots get one.
    steps = [{"A": 0.1, "GO": str(go)}, {"A": 0.2, "touch": str(go)}]
    flags = ("--executor", "ray", "--ray-address", cluster, "--workers", "2")
    flags += ("--gpus-per-run", "1", "--max-experiments", "2")
    result = cli(*scored_loop(tmp_path / "agent", steps, *flags))
    assert result.returncode == 0, result.stderr
    recorded = ledger_rows(project)
    assert all(r["status"] != "crash" for r in recorded)  # stray.txt never reached a run
    assert {r["worker"] for r in recorded[1:]} == {"ray0", "ray1"}
    logs = list((project / ".autoresearch" / "p" / "logs").glob("*.log"))
    devices = [line for log in logs for line in log.read_text().splitlines() if "devices" in line]
    assert len(devices) == 3 and all(len(line.split()[1].split(",")) == 1 for line in devices)


def test_four_workers_of_one_gpu_each_measure_every_experiment_of_a_guarded_project(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    steps = [{"A": round(0.01 * number, 2)} for number in range(1, 9)]
    flags = ("--executor", "ray", "--ray-address", cluster, "--workers", "4")
    flags += ("--gpus-per-run", "1", "--max-experiments", "8", "--protect", "prepare.py")
    command = scored_loop(tmp_path / "agent", steps, *flags)
    assert os.path.isabs(command[command.index("--run") + 1].split()[0])
    result = cli(*command)
    assert result.returncode == 0, result.stderr
    recorded = ledger_rows(project)
    assert [r["status"] for r in recorded].count("crash") == 0, result.stdout
    assert len(recorded) == 9
    assert {r["worker"] for r in recorded[1:]} <= {"ray0", "ray1", "ray2", "ray3"}


def test_a_run_on_a_worker_gets_its_environment_scrubbed_with_the_names_passed(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    flags = ("--executor", "ray", "--ray-address", cluster, "--max-experiments", "1")
    command = scored_loop(tmp_path / "agent", [{"A": 0.1}], *flags, "--no-baseline")
    command += ["--pass-env", "WORKER_PASSED"]
    command[command.index("--run") + 1] = f"env; {sys.executable} train.py"
    result = cli(*command)
    assert result.returncode == 0, result.stderr
    [log] = (project / ".autoresearch" / "p" / "logs").glob("*.log")
    printed = log.read_text()
    assert "WORKER_PASSED=passed-on-the-worker" in printed
    assert "WORKER_TOKEN" not in printed and "AUTORESEARCH_TAG=p" in printed


def test_a_lost_worker_is_a_crash_and_its_run_tree_dies(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    started = tmp_path / "started"
    run, child = run_leaving_a_child(started)
    steps = [{"SLEEP": FOREVER}]
    flags = ("--executor", "ray", "--ray-address", cluster, "--max-experiments", "1")
    command = scored_loop(tmp_path / "agent", steps, *flags, "--no-baseline")
    command += ["--max-fix-attempts", "0"]
    command[command.index("--run") + 1] = run
    # The first experiment's Ray worker dies while the run goes.
    loop = cli.popen(*command)
    try:
        wait_for(lambda: started.exists() and _sleeping(child), "the run")
        worker = _worker_of(child)
        # The node dies once the run is watched: the watchdog starts just after the run does.
        wait_for(lambda: _watchdog_of(worker), "the run's watchdog")
        os.kill(worker, 9)
        out, err = loop.communicate()
    finally:
        loop.kill()
    assert loop.returncode == 0, err
    [crash] = ledger_rows(project)
    assert crash["status"] == "crash" and crash["reason"].startswith("worker lost: ")
    assert "worker lost" in out
    [log] = (project / ".autoresearch" / "p" / "logs").glob("*.log")
    assert "the Ray worker running this was lost" in log.read_text()
    wait_for(lambda: not _sleeping(child), "the run's tree to die")


def run_leaving_a_child(started: Path) -> tuple[str, str]:
    """A run that leaves a child outside its process group (``setsid``), as a data loader's
    server may, then says it started; and the word in that child's command line by which the
    test finds it (inside the sandbox, a pid file would hold the sandbox's own numbers)."""
    token = f"{FOREVER}.{uuid.uuid4().int % 10**9}"
    run = f"(setsid sleep {token} &); touch {started}; {sys.executable} train.py"
    return run, token


def _worker_of(token: str) -> int:
    """The Ray worker holding the run whose child's command line holds ``token``: walked up
    from the child, again if a process on the way ends meanwhile (the subshell that started it
    does, at once)."""
    found: list[int] = []

    def walk() -> bool:
        pid = next(iter(_sleeping(token)), 1)
        try:
            while pid > 1:
                if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::"):
                    found.append(pid)
                    return True
                pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:
            pass
        return False

    wait_for(walk, f"a Ray worker above the run's child {token}")
    return found[0]


def _sleeping(token: str) -> list[int]:
    """The run's child (the tool's own command line holds the token too)."""
    found = []
    for pid in alive_with(token):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes()[:6] == b"sleep\0":
                found.append(pid)
        except OSError:
            continue  # it ended between the two looks
    return found


def _watchdog_of(worker: int) -> bool:
    """Whether the watchdog beside the run held by this Ray worker is running."""
    for entry in os.scandir("/proc"):
        try:
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"runner.kill_run" in arg for arg in argv) and str(worker).encode() in argv:
            return True
    return False


def test_an_unreachable_cluster_or_no_ray_gets_one_line(
    cli: Cli, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = ("--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}")
    result = cli(*scored_loop(tmp_path / "agent", [{"A": 0.1}], *flags))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot reach the Ray cluster" in result.stderr
    assert "autoresearch/p" not in git(project, "branch")
    hidden = tmp_path / "no-ray"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden))
    result = cli(*scored_loop(tmp_path / "agent", [{"A": 0.1}], "--executor", "ray"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert 'pip install "autoresearch[ray]"' in result.stderr


def test_after_a_kill_of_the_tool_no_run_is_left_on_the_cluster(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    started = tmp_path / "started"
    run, child = run_leaving_a_child(started)
    flags = ("--executor", "ray", "--ray-address", cluster, "--no-baseline")
    command = scored_loop(tmp_path / "agent", [{"SLEEP": FOREVER}], *flags)
    command[command.index("--run") + 1] = run
    loop = cli.popen(*command)
    try:
        wait_for(lambda: started.exists() and _sleeping(child), "the run")
        # Killed as soon as the run goes, as a user may; a run left behind says whether its
        # watchdog had started by then.
        watched = _watchdog_of(_worker_of(child))
    finally:
        loop.kill()
        loop.communicate()
    wait_for(lambda: not _sleeping(child), f"the run to die (watchdog up at the kill: {watched})")
    recovered = cli("reset")
    assert "was interrupted" in recovered.stderr
    assert [r["status"] for r in ledger_rows(project)] == ["crash"]
