"""A run that wants a better number, tried against the sandbox: what it leaves running, what it
writes to its log after it ends, to the books, to the repository, to the interpreter, to the
home folder. Cases marked for both modes hold with the sandbox off too (by the reaper)."""

from __future__ import annotations

import json
import os
import sys
import sysconfig
import uuid
from pathlib import Path

import pytest
from support import Cli, alive_with, git, ledger_rows, session_flags, stand_in_agent

from autoresearch.store import sandbox

NEEDS_SANDBOX = pytest.mark.skipif(
    sandbox.unavailable() is not None, reason=f"no sandbox here: {sandbox.unavailable()}"
)
BOTH = pytest.mark.parametrize("mode", [pytest.param("on", marks=NEEDS_SANDBOX), "off"])
FORGED = "0.000001"


def quick_session(cli: Cli, mode: str, *extra: str) -> None:
    """A session whose runs may write nothing of the tests' own folders."""
    flags = session_flags(outside=False)
    result = cli("init", *flags, "--noise", "off", "--repeats", "1", "--sandbox", mode, *extra)
    assert result.returncode == 0, result.stderr


def candidate(repo: Path, body: str, value: float) -> None:
    """train.py: ``body`` (the attack), then an honest print of ``value``."""
    (repo / "train.py").write_text(
        f"import os, signal, subprocess, sys, time\n{body}\nprint('val_bpb: {value}', flush=True)\n"
    )


@BOTH
def test_a_leftover_that_prints_the_metric_when_stopped_is_never_read(
    repo: Path, cli: Cli, mode: str
) -> None:
    quick_session(cli, mode)
    candidate(
        repo,
        "if os.fork() == 0:\n"
        "    def forge(*_):\n"
        f"        print('val_bpb: {FORGED}', flush=True); os._exit(0)\n"
        "    signal.signal(signal.SIGTERM, forge)\n"
        "    time.sleep(60); os._exit(0)",
        1.5,
    )
    result = cli("try", "-m", "worse, with a forger", "--json")
    row = ledger_rows(repo)[-1]
    assert row["status"] != "keep" and FORGED not in json.dumps(row), (row, result.stdout)
    if mode == "off":  # the forger ran, and its line voided the experiment
        assert row["status"] == "crash"
        assert "wrote to its log after the run ended" in result.stdout + result.stderr
        assert row["reason"] == "a process the run left behind wrote to its log after the run ended"


@BOTH
def test_a_detached_daemon_dies_with_its_run_and_cannot_forge_the_next_one(
    repo: Path, cli: Cli, mode: str
) -> None:
    quick_session(cli, mode)
    token = f"daemon-{uuid.uuid4().hex}"
    daemon = (
        "import time, pathlib\n"
        f"token = {token!r}\n"
        "log = pathlib.Path('run.log')\n"
        "for _ in range(1200):\n"
        "    if log.exists() and 'val_bpb: 0.4761' in log.read_text():\n"
        f"        open(log, 'a').write('val_bpb: {FORGED}\\n'); break\n"
        "    time.sleep(0.05)\n"
    )
    candidate(
        repo,
        f"subprocess.Popen(['setsid', 'env', '-u', 'AUTORESEARCH_RUN_ID', sys.executable, "
        f"'-c', {daemon!r}], start_new_session=True)\ntime.sleep(0.5)",
        2.0,
    )
    cli("try", "-m", "worse, leaves a daemon")
    assert alive_with(token) == []
    candidate(repo, "", 0.4761)
    result = cli("try", "-m", "honest better")
    row = ledger_rows(repo)[-1]
    assert row["status"] == "keep" and float(row["val_bpb"]) == pytest.approx(0.4761), (
        row,
        result.stdout,
    )


@NEEDS_SANDBOX
def test_a_run_cannot_write_the_books_the_state_or_the_repository(repo: Path, cli: Cli) -> None:
    quick_session(cli, "on")
    commit = git(repo, "rev-parse", "HEAD")
    forged_row = "\t".join(["deadbee", FORGED, "keep", "forged"])
    attempts = {
        "results.tsv": forged_row,
        ".autoresearch/t/runs.jsonl": json.dumps({"value": float(FORGED)}),
        ".git/refs/autoresearch/t/keep": commit,
        ".git/hooks/post-commit": "#!/bin/sh\necho hooked\n",
        "prepare.py": "DATA = 'forged'\n",
        "run.log": f"val_bpb: {FORGED}",
    }
    body = "refused = []\n"
    for path, text in attempts.items():
        body += (
            "try:\n"
            f"    open({path!r}, 'a').write({text + chr(10)!r})\n"
            "except OSError:\n"
            f"    refused.append({path!r})\n"
        )
    body += "print('refused:', len(refused), sorted(refused), flush=True)\n"
    candidate(repo, body, 1.5)
    before = {p: (repo / p).read_bytes() if (repo / p).exists() else None for p in attempts}
    result = cli("try", "-m", "writes everywhere", "--json")
    assert f"refused: {len(attempts)}" in _log_of(repo), result.stdout
    after = {p: (repo / p).read_bytes() if (repo / p).exists() else None for p in attempts}
    assert after["results.tsv"] != before["results.tsv"]  # the tool's own row, and no other
    assert FORGED not in (repo / "results.tsv").read_text()
    assert not (repo / ".git/hooks/post-commit").exists()
    assert (repo / "prepare.py").read_text() == "DATA = 'fixed'\n"
    status = json.loads(cli("status", "--json").stdout)
    assert status["best"] == 1.0
    assert [r["status"] for r in ledger_rows(repo)] == ["keep", "discard"]


@NEEDS_SANDBOX
def test_a_run_cannot_plant_code_in_the_interpreter_the_home_or_tmp(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    quick_session(cli, "on")
    name = f"zz_forge_{uuid.uuid4().hex}"
    site = Path(sysconfig.get_paths()["purelib"]) / f"{name}.pth"
    home = Path.home() / f".{name}"
    outside = tmp_path / f"{name}.txt"
    body = ""
    for target in (site, home, outside, Path("/tmp") / name):
        body += f"try:\n    open({str(target)!r}, 'w').write('import forge\\n')\nexcept OSError:\n"
        body += "    pass\n"
    candidate(repo, body, 1.5)
    try:
        cli("try", "-m", "plants files")
        assert not site.exists() and not home.exists() and not outside.exists()
        assert not (Path("/tmp") / name).exists()
    finally:
        for planted in (site, home, outside, Path("/tmp") / name):
            planted.unlink(missing_ok=True)


@NEEDS_SANDBOX
def test_nothing_a_run_starts_outlives_it_whatever_it_does(repo: Path, cli: Cli) -> None:
    quick_session(cli, "on")
    token = f"escape-{uuid.uuid4().hex}"
    ignores = "signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGHUP, 1)"
    sleeper = f"import time, signal; {ignores}; time.sleep(600)  # {token}"
    detached = ["setsid", "env", "-u", "AUTORESEARCH_RUN_ID", "nohup", sys.executable, "-c"]
    body = (
        # A double fork into a session of its own without the run's variable, nohup, and a
        # process that ignores SIGTERM and SIGHUP.
        f"subprocess.Popen({[*detached, sleeper]!r}, start_new_session=True,"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execv(sys.executable, [sys.executable, '-c', {sleeper!r}])\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)"
    )
    candidate(repo, body, 1.5)
    cli("try", "-m", "escapes")
    assert alive_with(token) == []


@NEEDS_SANDBOX
def test_the_user_can_name_a_writable_cache_and_share_a_home_folder(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    shared = tmp_path / "models"
    shared.mkdir()
    (shared / "weights.txt").write_text("0.25\n")
    quick_session(cli, "on", "--writable", str(cache), "--share", str(shared), "--no-network")
    body = (
        f"open({str(cache / 'hit.txt')!r}, 'w').write('cached')\n"
        f"print('weights', open({str(shared / 'weights.txt')!r}).read().strip())\n"
        "try:\n"
        f"    open({str(shared / 'weights.txt')!r}, 'w').write('forged')\n"
        "except OSError:\n"
        "    print('shared is read-only')\n"
        "import socket\n"
        "try:\n"
        "    socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
        "except OSError as error:\n"
        "    print('network:', type(error).__name__)\n"
    )
    candidate(repo, body, 0.5)
    result = cli("try", "-m", "uses a cache")
    log = _log_of(repo)
    assert (cache / "hit.txt").read_text() == "cached", (result.stdout, log)
    assert "weights 0.25" in log and "shared is read-only" in log
    assert (shared / "weights.txt").read_text() == "0.25\n"
    status = cli("status")
    assert "sandbox: bubblewrap (no network)" in status.stdout


def test_sandbox_on_where_it_cannot_work_refuses_to_start_and_changes_nothing(
    repo: Path, cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "no-bwrap"
    empty.mkdir()
    for tool in ("git", "sh", "env"):
        found = [Path(p) / tool for p in os.environ["PATH"].split(":") if (Path(p) / tool).exists()]
        (empty / tool).symlink_to(found[0])
    monkeypatch.setenv("PATH", f"{empty}:{os.path.dirname(sys.executable)}")
    result = cli.init("--sandbox", "on")
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "sandbox = on, but bubblewrap is not installed" in result.stderr
    assert not (repo / ".autoresearch").exists()
    fallback = cli.init("--noise", "off", "--repeats", "1")
    assert fallback.returncode == 0, fallback.stderr
    assert "sandbox: none here (bubblewrap is not installed" in fallback.stdout + fallback.stderr
    doctor = cli("doctor", "--no-run")
    assert "warn  sandbox   none here (bubblewrap is not installed" in doctor.stdout, doctor.stdout


@NEEDS_SANDBOX
def test_doctor_tries_the_sandbox_and_says_it_works(repo: Path, cli: Cli) -> None:
    quick_session(cli, "on")
    doctor = cli("doctor", "--no-run")
    assert "ok    sandbox   bubblewrap (network on)" in doctor.stdout, doctor.stdout


def _log_of(repo: Path) -> str:
    logs = sorted((repo / ".autoresearch" / "t" / "logs").glob("*.log"))
    return logs[-1].read_text()


EVAL = """\
import json, pathlib
model = json.loads(pathlib.Path("model.json").read_text())
print(f"val_bpb: {model['loss']:.6f}")
"""


def trained(loss: float, attack: str = "") -> str:
    """train.py: writes the model the evaluation scores, after ``attack``."""
    return (
        "import json, pathlib, sys\n"
        f"{attack}\n"
        f"pathlib.Path('model.json').write_text(json.dumps({{'loss': {loss}}}))\n"
        f"print('val_bpb: {FORGED}')  # never read: the evaluation gives the metric\n"
    )


@pytest.fixture
def evaluated(repo: Path, cli: Cli) -> Cli:
    (repo / "eval.py").write_text(EVAL)
    (repo / "train.py").write_text(trained(1.0))
    (repo / ".gitignore").write_text("model.json\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "a trusted evaluation")
    evaluation = ("--eval", f"{sys.executable} eval.py", "--artifact", "model.json")
    result = cli.init("--noise", "off", "--repeats", "1", "--protect", "eval.py", *evaluation)
    assert result.returncode == 0, result.stderr
    return cli


SHADOW = (
    "pathlib.Path('json.py').write_text('def loads(_):\\n    return {\"loss\": " + FORGED + "}\\n')"
)


@NEEDS_SANDBOX
@pytest.mark.parametrize("where", [(), ("--in-worktree",)], ids=["in place", "in a worktree"])
def test_a_module_planted_next_to_the_evaluation_never_reaches_it(
    repo: Path, evaluated: Cli, where: tuple[str, ...]
) -> None:
    assert float(ledger_rows(repo)[0]["val_bpb"]) == pytest.approx(1.0)
    (repo / "train.py").write_text(trained(1.5, SHADOW))
    result = evaluated("try", "-m", "worse, shadows json", *where)
    row = ledger_rows(repo)[-1]
    assert row["status"] == "discard" and float(row["val_bpb"]) == pytest.approx(1.5), (
        result.stdout,
        result.stderr,
    )
    (repo / "train.py").write_text(trained(0.75))
    (repo / "json.py").unlink(missing_ok=True)
    better = evaluated("try", "-m", "honest better", *where)
    assert ledger_rows(repo)[-1]["status"] == "keep", better.stdout


@NEEDS_SANDBOX
def test_a_run_that_writes_no_artifact_is_a_crash_that_says_so(repo: Path, evaluated: Cli) -> None:
    (repo / "train.py").write_text("print('val_bpb: 0.000001')\n")
    result = evaluated("try", "-m", "prints a number and nothing else")
    row = ledger_rows(repo)[-1]
    assert row["status"] == "crash", result.stdout
    assert "the run wrote no model.json" in result.stdout + result.stderr


ATTACKER = """\
import os, pathlib, re, subprocess, sys
said = []
def attempt(name, action):
    try:
        action()
        said.append(name + ": done")
    except Exception as error:
        said.append(f"{{name}}: refused ({{type(error).__name__}})")
git = lambda *args: subprocess.run(["git", *args], check=True, capture_output=True)
attempt("ledger", lambda: open("results.tsv", "a").write("deadbee\\t0.000001\\tkeep\\tforged\\n"))
attempt("keep ref", lambda: git("update-ref", "refs/autoresearch/t/keep", "HEAD"))
attempt("record", lambda: git("update-ref", "refs/autoresearch/t/journal", "HEAD"))
attempt("state", lambda: open(".autoresearch/t/runs.jsonl", "a").write("{{\\"forged\\": 1}}\\n"))
attempt("state read", lambda: open(".autoresearch/t/session.json").read())
attempt("protected", lambda: open("prepare.py", "w").write("DATA = 'easy'\\n"))
attempt("index flag", lambda: git("update-index", "--skip-worktree", "README.md"))
subprocess.Popen(["setsid", "env", "-u", "AUTORESEARCH_RUN_ID", sys.executable, "-c",
    "import time; time.sleep(600)", "{token}"], start_new_session=True)
train = pathlib.Path("train.py")
train.write_text(re.sub(r"(?m)^VALUE = .*$", "VALUE = 0.9", train.read_text()))
pathlib.Path(os.environ["AUTORESEARCH_DESCRIPTION"]).write_text("attacks, then an idea\\n")
pathlib.Path("{report}").write_text("\\n".join(said))
"""


@NEEDS_SANDBOX
def test_an_agent_in_loop_cannot_forge_the_books_or_outlive_its_turn(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    quick_session(cli, "on")
    token, report = f"agent-daemon-{uuid.uuid4().hex}", tmp_path / "report.txt"
    agent = tmp_path / "attacker.py"
    agent.write_text(ATTACKER.format(token=token, report=report))
    command = f"{sys.executable} {agent}"
    result = cli("loop", "--agent", "command", "--agent-cmd", command, "--max-experiments", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    said = dict(line.split(": ", 1) for line in report.read_text().splitlines())
    # The state is not there to write: what it writes goes to an empty folder, thrown away.
    assert "forged" not in (repo / ".autoresearch/t/runs.jsonl").read_text()
    assert all(said[name].startswith("refused") for name in said if name != "state"), said
    assert len(said) == 7 and alive_with(token) == []
    rows = ledger_rows(repo)
    assert [(r["status"], r["val_bpb"]) for r in rows] == [
        ("keep", "1.000000"),
        ("keep", "0.900000"),
    ]
    assert git(repo, "rev-parse", "refs/autoresearch/t/keep").startswith(rows[-1]["commit"])
    assert (repo / "prepare.py").read_text() == "DATA = 'fixed'\n"
    status = cli("status")
    assert status.returncode == 0 and "differs" not in status.stdout


SIBLINGS = """\
import glob, os
for other in sorted(glob.glob(os.path.join(os.path.dirname(os.getcwd()), "*", "train.py"))):
    if os.path.dirname(other) != os.getcwd():
        try:
            open(other, "a").write("VALUE = 0.000001\\n")
            print("wrote", other)
        except OSError as error:
            print("refused", other, error)
print("siblings seen:", len(glob.glob(os.path.join(os.path.dirname(os.getcwd()), "*"))))
"""


@NEEDS_SANDBOX
def test_a_run_cannot_reach_another_workers_checkout(repo: Path, cli: Cli, tmp_path: Path) -> None:
    steps = [{"prepend": SIBLINGS, "VALUE": 0.9, "SLEEP": 1}, {"prepend": SIBLINGS, "VALUE": 0.8}]
    command = stand_in_agent(tmp_path / "agent", steps)
    result = cli(
        "loop",
        *session_flags(outside=False),
        "--noise",
        "off",
        "--repeats",
        "1",
        "--workers",
        "2",
        "--max-experiments",
        "2",
        "--agent",
        "command",
        "--agent-cmd",
        command,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    logs = "".join(p.read_text() for p in (repo / ".autoresearch/t/logs").glob("000[12]-*.log"))
    assert "siblings seen: 1" in logs and "wrote" not in logs, logs
    assert all(float(r["val_bpb"]) >= 0.8 for r in ledger_rows(repo)), ledger_rows(repo)


@NEEDS_SANDBOX
def test_an_interpreter_named_by_its_path_in_a_hidden_folder_still_runs(
    repo: Path, cli: Cli, tmp_path: Path
) -> None:
    # An installation in /tmp or the home (emptied in the sandbox), as a user's venv may be.
    tools = tmp_path / "tools" / "bin"
    tools.mkdir(parents=True)
    (tools / "python").symlink_to(sys.executable)
    flags = session_flags(run=f"{tools / 'python'} train.py", outside=False)
    result = cli("init", *flags, "--noise", "off", "--repeats", "1", "--sandbox", "on")
    assert result.returncode == 0, result.stdout + result.stderr
    assert ledger_rows(repo)[0]["status"] == "keep"


@NEEDS_SANDBOX
def test_with_a_trusted_evaluation_the_holdout_runs_the_same_way(repo: Path, cli: Cli) -> None:
    (repo / "eval.py").write_text(EVAL)
    (repo / "holdout.py").write_text(EVAL.replace("model['loss']", "2 * model['loss']"))
    (repo / "train.py").write_text(trained(1.0))
    (repo / ".gitignore").write_text("model.json\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "an evaluation and a holdout")
    flags = ("--protect", "eval.py", "--protect", "holdout.py", "--noise", "off")
    flags += ("--eval", f"{sys.executable} eval.py", "--artifact", "model.json")
    flags += ("--holdout", f"{sys.executable} holdout.py")
    assert cli.init("--repeats", "1", *flags).returncode == 0
    (repo / "train.py").write_text(trained(0.75, SHADOW))
    result = cli("try", "-m", "better, and shadows json for the holdout too")
    row = ledger_rows(repo)[-1]
    assert row["status"] == "keep", result.stdout + result.stderr
    assert float(row["holdout_val_bpb"]) == pytest.approx(1.5), row


@NEEDS_SANDBOX
def test_a_sandbox_inside_the_sandbox_works_as_an_agents_own_would(repo: Path, cli: Cli) -> None:
    # Claude Code runs its commands under bubblewrap of its own; inside ours that still works.
    quick_session(cli, "on")
    nested = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-pid", "--", "true"]
    candidate(repo, f"print('nested:', subprocess.run({nested!r}).returncode, flush=True)", 0.5)
    result = cli("try", "-m", "sandboxes a command of its own")
    assert "nested: 0" in _log_of(repo), result.stdout
