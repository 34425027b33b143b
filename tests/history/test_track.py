"""Every experiment in MLflow and W&B: a real local MLflow store, W&B in offline mode, the runs
read back through each library, and a tracker outage that loses nothing."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
from support import Cli, ledger_lines, write_train

mlflow = pytest.importorskip("mlflow")
pytest.importorskip("wandb")

from autoresearch.history.trackers.outbox import Outbox  # noqa: E402
from autoresearch.history.trackers.tracked import Source, experiments  # noqa: E402
from autoresearch.history.trackers.wandb_tracker import offline_runs, read_offline  # noqa: E402
from autoresearch.store.files import SessionFiles  # noqa: E402

# Moves VALUE in train.py as plan.txt says, one value per call, and describes it.
AGENT = """\
import os, pathlib, re, sys
here = pathlib.Path(sys.argv[1])
values = (here / "plan.txt").read_text().split()
calls = here / "calls"
call = int(calls.read_text()) if calls.exists() else 0
calls.write_text(str(call + 1))
value = values[min(call, len(values) - 1)]
text = re.sub(r"VALUE = .*", f"VALUE = {value}", pathlib.Path("train.py").read_text())
pathlib.Path("train.py").write_text(text)
pathlib.Path(os.environ["AUTORESEARCH_DESCRIPTION"]).write_text(f"set VALUE to {value}\\n")
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite store for the module: creating its tables takes seconds, so each test uses a
    session tag of its own in it instead."""
    folder = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.tracking.MlflowClient(tracking_uri=uri).search_experiments()
    return uri


@pytest.fixture
def tracked_env(monkeypatch: pytest.MonkeyPatch, store: str, tmp_path: Path) -> Path:
    """The child processes see the MLflow store and write W&B runs offline under tmp_path."""
    wandb_dir = tmp_path / "wandb-dir"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(wandb_dir))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    return wandb_dir


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def mlflow_runs(store: str, group: str) -> dict[int, object]:
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    experiment = client.get_experiment_by_name(group)
    if experiment is None:
        return {}
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    numbers = [int(run.data.tags["autoresearch.experiment"]) for run in runs]
    assert len(numbers) == len(set(numbers)), "an experiment was logged twice"
    return dict(zip(numbers, runs, strict=True))


def three_experiments(cli: Cli, repo: Path, tag: str) -> None:
    """A baseline, a keep, a discard and a crash."""
    assert cli.init("--tag", tag, "--noise", "off", "--also", "peak_vram_mb").returncode == 0
    for value, exit_code, message in ((0.9, 0, "lower"), (0.95, 0, "higher"), (0.5, 3, "boom")):
        write_train(repo, value, EXIT=exit_code)
        assert cli("try", "-m", message).returncode == 0


def test_export_makes_each_experiment_one_mlflow_run_and_never_two(
    repo: Path, cli: Cli, store: str, tracked_env: Path
) -> None:
    three_experiments(cli, repo, "exp1")
    first = cli("export", "mlflow")
    assert first.returncode == 0, first.stderr
    assert "4 experiment(s) of exp1 sent, 0 there already" in first.stdout
    again = cli("export", "mlflow")
    assert "0 experiment(s) of exp1 sent, 4 there already" in again.stdout

    runs = mlflow_runs(store, "exp1")
    assert sorted(runs) == [0, 1, 2, 3]
    rows = ledger_lines(repo)[1:]
    keep, discard, crash = runs[1], runs[2], runs[3]
    assert keep.data.params["commit"] == rows[1][0]
    assert keep.data.params["base_commit"] == rows[0][0]
    assert keep.data.params["description"] == "lower"
    assert keep.data.metrics["val_bpb"] == pytest.approx(0.9)
    assert keep.data.metrics["peak_vram_mb"] == pytest.approx(1000)
    assert keep.data.metrics["runs"] >= 1
    assert "seconds" in keep.data.metrics
    assert keep.data.tags["verdict"] == "keep"
    assert keep.data.tags["branch"] == "autoresearch/exp1"
    assert discard.data.tags["verdict"] == "discard"
    # the running best draws the progress curve: the discard does not move it
    assert discard.data.metrics["best_so_far"] == pytest.approx(0.9)
    assert runs[0].data.metrics["best_so_far"] == pytest.approx(1.0)
    # a crash has no measured metric (the ledger's 0 was never measured) and is a failed run
    assert crash.info.status == "FAILED"
    assert "val_bpb" not in crash.data.metrics
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    artifacts = {a.path for a in client.list_artifacts(discard.info.run_id)}
    assert "diff.patch" in artifacts
    assert any(path.endswith(".log") for path in artifacts)
    diff = Path(mlflow.artifacts.download_artifacts(f"runs:/{discard.info.run_id}/diff.patch"))
    assert "+VALUE = 0.95" in diff.read_text()


def test_wandb_offline_runs_are_one_per_experiment_in_the_sessions_group(
    repo: Path, cli: Cli, tracked_env: Path
) -> None:
    three_experiments(cli, repo, "wb1")
    assert "4 experiment(s) of wb1 sent" in cli("export", "wandb").stdout
    assert "0 experiment(s) of wb1 sent, 4 there already" in cli("export", "wandb").stdout

    runs = [read_offline(path) for _, path in offline_runs(str(tracked_env))]
    assert len(runs) == 4
    by_number = {int(run["config"]["autoresearch.experiment"]): run for run in runs}
    keep, crash = by_number[1], by_number[3]
    assert {run["group"] for run in runs} == {"wb1"}
    assert keep["tags"] == ["keep"]
    assert keep["config"]["description"] == "lower"
    assert keep["metrics"]["val_bpb"] == pytest.approx(0.9)
    assert keep["metrics"]["best_so_far"] == pytest.approx(0.9)
    assert keep["exit_code"] == 0
    assert "diff.patch" in keep["files"]
    assert crash["exit_code"] == 1
    assert "val_bpb" not in crash["metrics"]


def test_a_tracker_outage_warns_once_queues_and_export_fills_the_gaps(
    repo: Path, cli: Cli, store: str, tracked_env: Path, tmp_path: Path
) -> None:
    agent = tmp_path / "agent"
    agent.mkdir()
    (agent / "agent.py").write_text(AGENT)
    (agent / "plan.txt").write_text("0.9 0.8 0.85 0.7")
    command = f"{sys.executable} {agent / 'agent.py'} {agent}"
    down = {**os.environ, "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{closed_port()}"}

    os.environ["MLFLOW_TRACKING_URI"], saved = down["MLFLOW_TRACKING_URI"], store
    try:
        assert cli.init("--tag", "out1", "--noise", "off", "--track", "mlflow").returncode == 0
        during = cli("loop", "--agent", "command", "--agent-cmd", command, "--max-experiments", "3")
    finally:
        os.environ["MLFLOW_TRACKING_URI"] = saved
    assert during.returncode == 0, during.stderr
    assert during.stdout.count("does not answer") == 1  # one warning, not one per experiment
    assert "wait for mlflow in the outbox" in during.stdout
    files = SessionFiles(str(repo), "out1")
    assert Outbox(files).pending("mlflow") == [0, 1, 2, 3]
    assert mlflow_runs(store, "out1") == {}

    filled = cli("export", "mlflow")
    assert "4 experiment(s) of out1 sent" in filled.stdout
    assert Outbox(files).pending("mlflow") == []
    runs = mlflow_runs(store, "out1")
    assert sorted(runs) == [0, 1, 2, 3]
    # what only the loop knew reached the tracker through the outbox
    assert runs[1].data.params["agent"] == "command"
    assert runs[1].data.tags["reason"]

    after = cli("loop", "--agent", "command", "--agent-cmd", command, "--max-experiments", "1")
    assert after.returncode == 0 and "does not answer" not in after.stdout
    assert sorted(mlflow_runs(store, "out1")) == [0, 1, 2, 3, 4]
    assert len(ledger_lines(repo)) == 6


def test_try_sends_in_the_background_and_export_waits_for_it(
    repo: Path, cli: Cli, store: str, tracked_env: Path
) -> None:
    assert cli.init("--tag", "bg1", "--noise", "off", "--track", "mlflow").returncode == 0
    write_train(repo, 0.9)
    assert cli("try", "-m", "lower").returncode == 0
    # the senders `init` and `try` started hold the session's sending lock while they work:
    # export waits for them, then finds every experiment there once
    assert cli("export", "mlflow").returncode == 0
    assert sorted(mlflow_runs(store, "bg1")) == [0, 1]
    assert Outbox(SessionFiles(str(repo), "bg1")).pending("mlflow") == []


def test_any_ledger_exports_after_the_fact(tmp_path: Path, store: str, tracked_env: Path) -> None:
    ledger = tmp_path / "nov25.tsv"
    ledger.write_text(
        "commit\tval_bpb\tmemory_gb\tstatus\tdescription\n"
        "baseline\t0.997900\t44.0\tkeep\tbaseline\n"
        "b2c3d4e\t0.993200\t44.2\tkeep\tincrease LR\n"
        "c3d4e5f\t0.000000\t0.0\tcrash\tdouble width (OOM)\n"
    )
    cli = Cli(tmp_path)
    sent = cli("export", "mlflow", "--results", str(ledger))
    assert "3 experiment(s) of nov25 sent" in sent.stdout, sent.stderr
    runs = mlflow_runs(store, "nov25")
    assert runs[1].data.metrics["memory_gb"] == pytest.approx(44.2)
    assert runs[2].data.tags["verdict"] == "crash"


def test_the_loops_knowledge_becomes_parameters(tmp_path: Path) -> None:
    ledger = tmp_path / "results.tsv"
    ledger.write_text(
        "commit\tloss\tstatus\tdescription\n"
        "aaaaaaa\t1.0\tkeep\tbaseline\n\n"
        "bbbbbbb\t0.9\tkeep\tlr 0.1\n"
    )
    extras = {1: {"agent": "tune", "model": "m", "knobs": {"lr": 0.1}, "reason": "better"}}
    items = list(experiments(Source(group="g", ledger=str(ledger)), extras))
    assert [item.number for item in items] == [0, 1]  # a blank line numbers nothing
    assert items[1].params["knob.lr"] == "0.1"
    assert items[1].params["agent"] == "tune" and items[1].params["model"] == "m"
    assert items[1].tags["reason"] == "better"
    assert items[0].key != items[1].key


def test_a_crash_exported_after_the_fact_keeps_the_ledgers_reason(tmp_path: Path) -> None:
    ledger = tmp_path / "results.tsv"
    ledger.write_text(
        "commit\tloss\treason\tstatus\tdescription\n"
        "aaaaaaa\t1.0\t\tkeep\tbaseline\n"
        "bbbbbbb\t0.0\ttimeout after 20 s\tcrash\tlr 10\n"
    )
    baseline, crash = experiments(Source(group="g", ledger=str(ledger)))
    assert "reason" not in baseline.tags and "loss" not in crash.metrics
    assert crash.tags["reason"] == "timeout after 20 s"


def test_the_loop_queues_the_tuners_knobs_with_each_experiment(tmp_path: Path) -> None:
    from autoresearch.engine.experiment import Experiment
    from autoresearch.loop.tracking import Tracking

    files = SessionFiles(str(tmp_path), "t")
    tracking = Tracking(files, ["mlflow"], print, {"agent": "tune", "model": None})
    done = Experiment(3, "c" * 40, "keep", "better", "loss", 0.5, {}, 0.6, "c" * 40, 1.0, "d", "l")
    tracking.submit(done, {"trial": 2, "knobs": {"LR": 0.01}})
    box = Outbox(files)
    assert box.pending("mlflow") == [3]
    assert box.extras[3] == {"agent": "tune", "reason": "better", "knobs": {"LR": 0.01}}


def test_an_unknown_tracker_is_refused_before_anything_changes(repo: Path, cli: Cli) -> None:
    result = cli.init("--tag", "bad", "--track", "neptune")
    assert result.returncode == 2 and "unknown tracker" in result.stderr
    assert not (repo / ".autoresearch").exists()
