"""Runs on a Ray cluster: a local one, started once for these tests with 8 logical GPUs."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import Cli, git
from test_parallel import TRAIN, rows, start, wait_for

pytest.importorskip("ray")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A head node of our own, stopped with the process that started it (``--block``)."""
    ray = shutil.which("ray", path=os.path.dirname(sys.executable))
    assert ray is not None
    port = free_port()
    temp = tmp_path_factory.mktemp("ray")
    command = [ray, "start", "--head", "--block", f"--port={port}", "--num-cpus=8"]
    command += ["--num-gpus=8", "--include-dashboard=false", "--disable-usage-stats"]
    head = subprocess.Popen(
        [*command, f"--temp-dir={temp}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _listening(port) and head.poll() is None, 120)
        time.sleep(2)  # the head's other services come up just after its port opens
        yield f"127.0.0.1:{port}"
    finally:
        head.terminate()
        head.wait(timeout=60)


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def project(repo: Path) -> Path:
    (repo / "train.py").write_text(TRAIN)
    git(repo, "commit", "-qam", "a scored run")
    return repo


def test_runs_travel_as_the_commit_with_gpus_of_their_own(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    (project / "stray.txt").write_text("an untracked file in the agent's tree\n")
    steps = [{"A": 0.1, "SLEEP": 1}, {"A": 0.2, "SLEEP": 1}]
    flags = ("--executor", "ray", "--ray-address", cluster, "--workers", "2")
    flags += ("--gpus-per-run", "1", "--max-experiments", "2")
    result = cli(*start(cli, tmp_path / "agent", steps, *flags), timeout=180)
    assert result.returncode == 0, result.stderr
    recorded = rows(project)
    assert all(r["status"] != "crash" for r in recorded)  # stray.txt never reached a run
    assert {r["worker"] for r in recorded[1:]} == {"ray0", "ray1"}
    logs = list((project / ".autoresearch" / "p" / "logs").glob("*.log"))
    devices = [line for log in logs for line in log.read_text().splitlines() if "devices" in line]
    assert len(devices) == 3 and all(len(line.split()[1].split(",")) == 1 for line in devices)


def test_a_lost_worker_is_a_crash_and_its_run_tree_dies(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    pids = tmp_path / "pids"
    run = (
        f"echo $PPID > {pids}.worker; (setsid sleep 300 & echo $! > {pids}.child); "
        f"{sys.executable} train.py"
    )
    steps = [{"SLEEP": 300}]
    flags = ("--executor", "ray", "--ray-address", cluster, "--max-experiments", "1")
    command = start(cli, tmp_path / "agent", steps, *flags, "--no-baseline")
    command += ["--max-fix-attempts", "0"]
    command[command.index("--run") + 1] = run
    # The first experiment's Ray worker dies while the run goes.
    loop = cli.popen(*command)
    try:
        wait_for(lambda: Path(f"{pids}.child").exists() and Path(f"{pids}.worker").exists())
        time.sleep(0.5)
        os.kill(int(Path(f"{pids}.worker").read_text()), 9)
        out, err = loop.communicate(timeout=120)
    finally:
        loop.kill()
    assert loop.returncode == 0, err
    assert rows(project)[0]["status"] == "crash"
    assert "worker lost" in out
    child = int(Path(f"{pids}.child").read_text())
    wait_for(lambda: not os.path.exists(f"/proc/{child}") or _zombie(child), 30)


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def test_an_unreachable_cluster_or_no_ray_gets_one_line(
    cli: Cli, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = ("--executor", "ray", "--ray-address", f"127.0.0.1:{free_port()}")
    result = cli(*start(cli, tmp_path / "agent", [{"A": 0.1}], *flags))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "cannot reach the Ray cluster" in result.stderr
    assert "autoresearch/p" not in git(project, "branch")
    hidden = tmp_path / "no-ray"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ImportError('no ray here')\n")
    monkeypatch.setenv("PYTHONPATH", str(hidden))
    result = cli(*start(cli, tmp_path / "agent", [{"A": 0.1}], "--executor", "ray"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert 'pip install "autoresearch[ray]"' in result.stderr


def test_after_a_kill_of_the_tool_no_run_is_left_on_the_cluster(
    cli: Cli, project: Path, tmp_path: Path, cluster: str
) -> None:
    pids = tmp_path / "pids"
    run = f"(setsid sleep 300 & echo $! > {pids}.child); {sys.executable} train.py"
    flags = ("--executor", "ray", "--ray-address", cluster, "--no-baseline")
    command = [*start(cli, tmp_path / "agent", [{"SLEEP": 300}], *flags)]
    command[command.index("--run") + 1] = run
    loop = cli.popen(*command)
    try:
        wait_for(lambda: Path(f"{pids}.child").exists())
    finally:
        loop.kill()
        loop.communicate()
    child = int(Path(f"{pids}.child").read_text())
    wait_for(lambda: not os.path.exists(f"/proc/{child}") or _zombie(child), 60)
    recovered = cli("reset")
    assert "was interrupted" in recovered.stderr
    assert [r["status"] for r in rows(project)] == ["crash"]
