"""No secret of the tool's environment reaches a run, its log, or what is shown of a crash: real
runs that print their environment and crash, with credentials set in the tool's environment."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support import Cli, git, session_flags

# Set in the tool's environment for every test here; none may reach a run.
SECRETS = {
    "OPENAI_API_KEY": "sk-openai-5cret-0f-the-t00l",
    "ANTHROPIC_API_KEY": "sk-ant-5cret-0f-the-t00l",
    "AWS_SECRET_ACCESS_KEY": "aws/5cret+0f+the+t00l",
    "GITHUB_TOKEN": "ghp_5cret0fthet00l",
    # Names the allowlist would pass by their prefix, but that look like credentials.
    "TORCH_HUB_TOKEN": "torch-5cret-0f-the-t00l",
    "AUTORESEARCH_API_KEY": "ar-5cret-0f-the-t00l",
    # A lowercase name is a credential's name all the same.
    "my_service_token": "lowercase-5cret-0f-the-t00l",
}
# Not credential-like, but not on the allowlist either: it stays behind too.
UNLISTED = ("DATABASE_URL", "postgres://me:pw-0f-the-t00l@db/prod")
# The user hands this one to the run by name (--pass-env): it reaches the run, and is masked
# wherever the run's output is shown.
PASSED = ("HF_TOKEN", "hf_passed-0n-purp0se")

PRINTS_ENV_THEN_CRASHES = """\
import os, sys
CRASH = 0
for name, value in sorted(os.environ.items()):
    print(f"{name}={value}")
if CRASH:
    sys.exit("crashed after printing the environment")
print("val_bpb: 1.0")
"""


@pytest.fixture(autouse=True)
def secrets_in_the_tools_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in (*SECRETS.items(), UNLISTED, PASSED):
        monkeypatch.setenv(name, value)


def init(cli: Cli, run: str = f"{sys.executable} train.py", *extra: str) -> None:
    flags = session_flags(run=run, protect=())
    result = cli("init", *flags, "--noise", "off", "--pass-env", PASSED[0], *extra)
    assert result.returncode == 0, result.stderr


def commit_train(repo: Path, text: str) -> None:
    (repo / "train.py").write_text(text)
    git(repo, "commit", "-qam", "the run prints its environment")


def archived_logs(repo: Path) -> str:
    return "".join(path.read_text() for path in sorted((repo / ".autoresearch/t/logs").iterdir()))


@pytest.mark.parametrize("mode", ["auto", "off"], ids=["sandbox where it works", "no sandbox"])
def test_no_secret_reaches_a_run_and_a_passed_variable_does(
    repo: Path, cli: Cli, mode: str
) -> None:
    commit_train(repo, PRINTS_ENV_THEN_CRASHES)
    # The baseline, through `env` itself.
    init(cli, f"env && {sys.executable} train.py", "--sandbox", mode)
    (repo / "train.py").write_text(PRINTS_ENV_THEN_CRASHES.replace("CRASH = 0", "CRASH = 1"))
    tried = cli("try", "-m", "prints the environment and crashes", "--json")
    experiment = json.loads(tried.stdout)
    assert experiment["status"] == "crash"

    logs = archived_logs(repo)
    assert len(list((repo / ".autoresearch/t/logs").iterdir())) == 2  # baseline and crash
    for value in (*SECRETS.values(), UNLISTED[1]):
        assert value not in logs
        assert value not in tried.stdout + tried.stderr
    assert "PATH=" in logs and "AUTORESEARCH_TAG=t" in logs  # what a run needs still passes
    # The passed variable reaches the run, and with it the list of the names passed.
    assert f"{PASSED[0]}={PASSED[1]}" in logs
    assert f"AUTORESEARCH_PASS_ENV={PASSED[0]}" in logs
    # What `try` shows of the crash (and an agent driving it reads) masks it.
    assert f"{PASSED[0]}=[masked {PASSED[0]}]" in experiment["tail"]
    assert PASSED[1] not in tried.stdout


def test_a_run_reading_the_tools_environment_through_proc_has_it_masked_when_shown(
    repo: Path, cli: Cli
) -> None:
    # Without the sandbox a run can read its parents' environment in /proc (the same user): the
    # tool's, which holds every secret. The sandbox's PID namespace hides the tool's processes;
    # without it, the log holds what the run found, but nothing shown of it does.
    commit_train(repo, "print('val_bpb: 1.0')\n")
    init(cli, f"{sys.executable} train.py", "--sandbox", "off")
    (repo / "train.py").write_text(
        "import os\n"
        "pid = os.getppid()\n"
        "while pid > 1:\n"
        "    try:\n"
        "        found = open(f'/proc/{pid}/environ', 'rb').read().split(b'\\0')\n"
        "        stat = open(f'/proc/{pid}/stat').read()\n"
        "    except OSError:\n"
        "        break\n"
        "    print(*[e.decode() for e in found if e.startswith((b'GITHUB', b'OPENAI'))])\n"
        "    pid = int(stat[stat.rfind(')') + 2 :].split()[1])\n"
        "raise SystemExit(1)\n"
    )
    tried = cli("try", "-m", "reads the tool's environment", "--json")
    experiment = json.loads(tried.stdout)
    assert experiment["status"] == "crash"
    shown = "\n".join(experiment["tail"])
    assert "GITHUB_TOKEN=[masked GITHUB_TOKEN]" in shown  # it did find the tool's environment
    assert "OPENAI_API_KEY=[masked OPENAI_API_KEY]" in shown
    for value in SECRETS.values():
        assert value not in tried.stdout


def test_a_secret_cut_by_the_tails_line_limit_leaves_no_part_behind(repo: Path, cli: Cli) -> None:
    # A tail line is cut at 400 characters; a secret straddling the cut is masked before it.
    commit_train(repo, "print('val_bpb: 1.0')\n")
    init(cli)
    (repo / "train.py").write_text(
        "import os\n"
        f"print('x' * 392 + os.environ['{PASSED[0]}'] + ' and more')\n"
        "raise SystemExit(1)\n"
    )
    tried = cli("try", "-m", "a long line", "--json")
    [line] = json.loads(tried.stdout)["tail"]
    assert line == "x" * 392 + "[masked "
    assert PASSED[1][:6] not in tried.stdout
