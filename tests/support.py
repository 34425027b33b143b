"""Helpers shared by the tests: a real git repository in a temp folder, the real CLI, a stand-in
agent, and waiting for events.

A test waits for an event (a file appears, a line is printed, a process ends), never for a
length of time: every wait ends as soon as its event comes, and gives up only at
``EVENT_DEADLINE``, which is generous so that a machine busy with other work fails no test.
"""

from __future__ import annotations

import codecs
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

EVENT_DEADLINE = 180.0
# A run or an agent that lasts this long is one that only a kill ends within a test.
FOREVER = 600

# Waits in a run (or an agent) for the test: GO names a file to exist, or [file, lines] a
# file to hold that many lines. Not forever: a run of a failed test must end too.
WAIT_FOR_GO = f"""\
def wait_for_go():
    path, lines = (GO, 0) if isinstance(GO, str) else GO
    give_up = time.monotonic() + {EVENT_DEADLINE}
    while time.monotonic() < give_up:
        if os.path.exists(path) and len(open(path).read().splitlines()) >= lines:
            return
        time.sleep(0.05)
"""

TRAIN = (
    """\
import os, sys, time
VALUE = {value}
SLEEP = 0
EXIT = 0
GO = 0
"""
    + WAIT_FOR_GO.replace("{", "{{").replace("}", "}}")
    + """\
time.sleep(SLEEP)
if GO:
    wait_for_go()
print("training...")
print(f"val_bpb: {{VALUE:.6f}}")
print("peak_vram_mb: 1000")
sys.exit(EXIT)
"""
)

# Prints `score`, from two knobs on lines far apart, so that two ideas from one base merge
# cleanly. A run holds a lock file per device it was given for as long as it runs: a shared
# device makes it crash.
SCORED_TRAIN = (
    """\
import os, sys, time
A = 0
EXIT = 0
GO = 0
"""
    + WAIT_FOR_GO
    + """

def main():
    devices = [d for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d]
    locks = os.environ.get("LOCKS")
    held = []
    for device in devices if locks else ():
        path = os.path.join(locks, device)
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            sys.exit("device " + device + " is in use")
        held.append(path)
    if os.path.exists("stray.txt"):
        sys.exit("an untracked file of the agent's tree reached the run")
    extra = open("data/extra.txt").read() if os.path.exists("data/extra.txt") else ""
    time.sleep(SLEEP)
    if GO:
        wait_for_go()
    for path in held:
        os.unlink(path)
    print("devices:", ",".join(devices), extra)
    print(f"score: {1.0 - A - B:.6f}")
    sys.exit(EXIT)


B = 0
SLEEP = 0.2
main()
"""
)

# A stand-in agent: each call takes the next step of plan.json (the last one again once they
# are used up) and records the prompt it was given as prompt-N.md. A step's upper-case keys are
# set in train.py (`{"VALUE": 0.9, "EXIT": 1}`); besides: "say" (the description, else "set
# VALUE to 0.9, EXIT to 1"), "prepend" (text put before train.py's first line), "file" (a path
# to change instead of train.py), "touch" (a file to create, an event for the test or a run),
# "agent_exit" (the agent fails with this exit code). A step with none of these changes nothing.
STAND_IN_AGENT = """\
import json, os, pathlib, re, sys
here = pathlib.Path(sys.argv[1])
plan = json.loads((here / "plan.json").read_text())
count_file = here / "calls"
call = int(count_file.read_text()) if count_file.exists() else 0
count_file.write_text(str(call + 1))
prompt = pathlib.Path(os.environ["AUTORESEARCH_PROMPT"]).read_text()
(here / f"prompt-{call}.md").write_text(prompt)
step = plan[min(call, len(plan) - 1)]
if step.get("touch"):
    pathlib.Path(step["touch"]).touch()
if step.get("agent_exit"):
    print("agent is broken", file=sys.stderr)
    sys.exit(step["agent_exit"])
settings = {name: value for name, value in step.items() if name.isupper()}
if step.get("file"):
    pathlib.Path(step["file"]).write_text("changed by the agent\\n")
elif settings or step.get("prepend"):
    text = pathlib.Path("train.py").read_text()
    for name, value in settings.items():
        text = re.sub(f"(?m)^{name} = .*$", lambda _: f"{name} = {value!r}", text)
    pathlib.Path("train.py").write_text(step.get("prepend", "") + text)
said = "set " + ", ".join(f"{name} to {value}" for name, value in settings.items())
pathlib.Path(os.environ["AUTORESEARCH_DESCRIPTION"]).write_text(step.get("say", said) + "\\n")
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def write_train(repo: Path, value: float = 1.0, **changes: object) -> None:
    text = TRAIN.format(value=value)
    for name, new in changes.items():
        text = text.replace(f"\n{name} = 0\n", f"\n{name} = {new!r}\n")
    (repo / "train.py").write_text(text)


def make_repo(tmp_path: Path) -> Path:
    """A project with train.py printing val_bpb, a protected prepare.py, one commit."""
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.email", "test@example.com")
    git(path, "config", "user.name", "Test")
    write_train(path, 1.0)
    (path / "prepare.py").write_text("DATA = 'fixed'\n")
    (path / "README.md").write_text("project\n")
    git(path, "add", ".")
    git(path, "commit", "-qm", "start")
    return path


def fix_the_harness(repo: Path, value: float) -> None:
    """What the user does between the two sessions: the fix on top of the old keep ref."""
    git(repo, "checkout", "-q", "-b", "harness-fix", "autoresearch/t")
    (repo / "prepare.py").write_text("DATA = 'fixed, and now right'\n")
    write_train(repo, value)  # the fixed harness measures on another scale
    git(repo, "commit", "-qam", "fix the evaluation")


def repo_state(repo: Path) -> tuple[str, str, str, bool]:
    """What a refused command must leave as it was: branches, the tree, HEAD, the state folder."""
    return (
        git(repo, "branch", "--list"),
        git(repo, "status", "--porcelain"),
        git(repo, "rev-parse", "HEAD"),
        (repo / ".autoresearch").exists(),
    )


# The tests' temporary folders, where a run meets its test (a file that says go, a lock, a pid):
# writable in the sandbox, as a user's data cache would be (set by conftest.py).
OUTSIDE_VARIABLE = "AUTORESEARCH_TESTS_OUTSIDE"


def session_flags(
    tag: str = "t",
    run: str = f"{sys.executable} train.py",
    metric: str = "val_bpb",
    protect: tuple[str, ...] = ("prepare.py",),
    outside: bool = True,
) -> list[str]:
    """The test project's session, as `init` and `loop` take it (``outside``: runs may write
    the tests' temporary folders)."""
    flags = ["--tag", tag, "--run", run, "--metric", metric, "--scope", "train.py"]
    for pattern in protect:
        flags += ["--protect", pattern]
    if outside and os.environ.get(OUTSIDE_VARIABLE):
        flags += ["--writable", os.environ[OUTSIDE_VARIABLE]]
    return flags


class Tool(subprocess.Popen[str]):
    """The CLI left running while the test acts on it; what it prints can be waited for."""

    seen = ""

    def read_until(self, text: str) -> str:
        """The output so far, once ``text`` is in it."""
        assert self.stdout is not None
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        deadline = time.monotonic() + EVENT_DEADLINE
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"waited for {text!r}; saw {self.seen!r}"
            ready, _, _ = select.select([self.stdout], [], [], left)
            if ready:
                chunk = os.read(self.stdout.fileno(), 65536)
                assert chunk, f"the tool ended before it printed {text!r}; saw {self.seen!r}"
                self.seen += decoder.decode(chunk)
        return self.seen

    def communicate(
        self, input: str | None = None, timeout: float | None = EVENT_DEADLINE
    ) -> tuple[str, str]:
        out, err = super().communicate(input, timeout)
        return self.seen + (out or ""), err or ""


class Cli:
    """Runs ``python -m autoresearch`` in a repository, as a user's script would."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo

    def __call__(
        self, *args: str, timeout: float = EVENT_DEADLINE
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "autoresearch", *args],
            cwd=self.repo,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def popen(self, *args: str) -> Tool:
        return Tool(
            [sys.executable, "-m", "autoresearch", *args],
            cwd=self.repo,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def init(self, *extra: str, **session: Any) -> subprocess.CompletedProcess[str]:
        """`init` of the test project's session; later ``extra`` flags override its own."""
        return self("init", *session_flags(**session), *extra)


def tried_json(cli: Cli, *flags: str) -> dict[str, Any]:
    """One `try --json` that records an experiment: the experiment as it printed it."""
    result = cli("try", "-m", "an idea", "--json", *flags)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def stand_in_agent(folder: Path, steps: list[dict[str, object]]) -> str:
    """The stand-in agent in ``folder`` with these steps planned; the command that calls it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "agent.py").write_text(STAND_IN_AGENT)
    (folder / "plan.json").write_text(json.dumps(steps))
    return stand_in_command(folder)


def stand_in_command(folder: Path) -> str:
    """The command that calls the stand-in agent of ``folder``."""
    return f"{sys.executable} {folder / 'agent.py'} {folder}"


def scored_loop(agent: Path, steps: list[dict[str, object]], *extra: str) -> list[str]:
    """The arguments of a `loop` of session p over SCORED_TRAIN, driven by the stand-in agent."""
    return [
        "loop",
        *session_flags("p", metric="score", protect=()),
        "--noise",
        "off",
        "--repeats",
        "1",
        "--agent",
        "command",
        "--agent-cmd",
        stand_in_agent(agent, steps),
        *extra,
    ]


def ledger_lines(repo: Path) -> list[list[str]]:
    return [line.split("\t") for line in (repo / "results.tsv").read_text().splitlines()]


def ledger_rows(repo: Path) -> list[dict[str, str]]:
    """The ledger's rows, each by column name."""
    lines = ledger_lines(repo)
    return [dict(zip(lines[0], line, strict=False)) for line in lines[1:]]


def wait_for(condition: Callable[[], object], what: str = "the condition") -> None:
    """Until ``condition()`` is true; fails the test at EVENT_DEADLINE."""
    deadline = time.monotonic() + EVENT_DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"waited {EVENT_DEADLINE:g} s for {what}"
        time.sleep(0.05)


def alive_with(token: str) -> list[int]:
    """The live processes whose command line holds ``token``: found from outside a sandbox
    whose processes know only their own numbers."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            argv = Path(entry.path, "cmdline").read_bytes()
            state = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token.encode() in argv and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def process_gone(pid: int) -> bool:
    """No such process, or a zombie waiting for a parent that will never reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rfind(")") + 2] in "ZX"


def run_started(repo: Path, tag: str = "t") -> bool:
    """Whether the experiment in flight has its run started (its group is in the record), not
    merely committed: a signal sent in between finds no run to stop."""
    try:
        return bool(json.loads((repo / f".autoresearch/{tag}/inflight.json").read_text())["group"])
    except (OSError, ValueError, KeyError):
        return False


def wait_for_run(repo: Path, tool: subprocess.Popen[str] | None = None, tag: str = "t") -> None:
    """Until the run of the experiment in flight has started; fails at once if ``tool`` ends."""

    def started() -> bool:
        assert tool is None or tool.poll() is None, "the tool ended before its run started"
        return run_started(repo, tag)

    wait_for(started, "the run to start")
