"""The checks a night needs before it starts: git, the settings, one real run, disk, the agent,
GPUs and Ray. Each gives one ``Check``; a FAIL is something that would stop the night.

Keys are looked for, never shown: a check names the variable or file it found, not its value.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from autoresearch.engine.confine import run_policy, sandbox_line
from autoresearch.engine.measure import run_and_read
from autoresearch.engine.run_environment import run_environment, shown_tail
from autoresearch.errors import UserError
from autoresearch.rules.metrics import compile_pattern, default_pattern
from autoresearch.rules.scope import Scope
from autoresearch.rules.settings import Settings
from autoresearch.store import git, machine, runner, sandbox
from autoresearch.store.executors import LocalExecutor, RunRequest

OK, INFO, WARN, FAIL = "ok", "info", "warn", "FAIL"
GIB = 1024**3
DISK_FAIL_BYTES = 1 * GIB
DISK_WARN_BYTES = 5 * GIB
_BARE_PYTHON = r"^python[0-9.]*$"
_PRINTED_METRIC = r"^\s*([A-Za-z_][\w.\-]*):\s*[-+]?(?:\d|\.\d)[\w.+\-]*\s*$"

# For the agents that are programs: the variables holding a key, the files a login leaves.
CLI_CREDENTIALS: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "claude": (
        ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN"),
        ("~/.claude/.credentials.json",),
        "export ANTHROPIC_API_KEY, or run `claude` once and log in",
    ),
    "codex": (
        ("OPENAI_API_KEY", "CODEX_API_KEY"),
        ("~/.codex/auth.json",),
        "export OPENAI_API_KEY, or run `codex login`",
    ),
    "aider": (
        ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY"),
        ("~/.aider.conf.yml", ".aider.conf.yml", ".env"),
        "export your model provider's key (OPENAI_API_KEY, ANTHROPIC_API_KEY, ...)",
    ),
}


class Check(NamedTuple):
    name: str
    status: str
    detail: str
    hint: str = ""


class Night(NamedTuple):
    """What a night would use: the repository, its settings (or why there are none), the loop's
    options, and whether a session is already checked out."""

    repo: str | None
    settings: Settings | None
    problem: str | None
    options: Mapping[str, Any]
    knobs: tuple[dict[str, Any], ...] = ()
    in_session: bool = False
    busy: int | None = None  # the pid of a command of the session running now
    scope: Scope | None = None  # what an experiment may change, the session's or the planned


def checks(night: Night, run: bool = True) -> Iterator[Check]:
    """Every check in order, each as soon as it is known (the run takes a while)."""
    if night.repo is None:
        where = "run doctor in your project's git repository (or give -C DIR)"
        yield Check("git", FAIL, night.problem or "not in a git repository", where)
    else:
        yield git_check(night.repo, night.in_session)
        yield settings_check(night)
    if night.settings is not None:
        yield sandbox_check(night.settings)
    if run and night.busy is not None:
        # A second run beside a night's own would share its tree and its GPU.
        yield Check(
            "run", INFO, f"not run: a command of this session is running (pid {night.busy})"
        )
    elif run and night.repo is not None and night.settings is not None:
        yield run_check(night.repo, night.settings)
    yield disk_check(night.repo or os.getcwd())
    yield agent_check(night)
    scope = scope_check(night)
    if scope is not None:
        yield scope
    yield gpu_check(os.environ)
    ray = ray_check(os.environ)
    if ray is not None:
        yield ray


def git_check(repo: str, in_session: bool) -> Check:
    if git.head(repo) is None:
        return Check("git", FAIL, "no commit yet", "commit your project first")
    branch = git.current_branch(repo) or "a detached HEAD"
    changed = git.status(repo).changed
    if not changed:
        return Check("git", OK, f"on {branch}, no uncommitted changes to tracked files")
    listed = ", ".join(changed[:3]) + (" ..." if len(changed) > 3 else "")
    if in_session:
        return Check(
            "git",
            WARN,
            f"on {branch}, uncommitted changes: {listed}",
            "the next `try` takes them as its candidate; `autoresearch reset` sets them aside",
        )
    return Check(
        "git",
        FAIL,
        f"uncommitted changes: {listed}",
        "a session starts from a clean tree: commit or stash them",
    )


def settings_check(night: Night) -> Check:
    s = night.settings
    if s is None:
        return Check(
            "settings",
            FAIL,
            night.problem or "no settings",
            "give --run and --metric, or write them in autoresearch.toml",
        )
    budget = f"budget {s.budget:g} s" if s.budget else "no budget"
    detail = f"run `{s.run}` · metric {s.metric} ({s.direction}) · {budget}"
    try:
        words = shlex.split(s.run) or [""]
    except ValueError:  # unbalanced quotes: the shell will say so at the run
        words = s.run.split() or [""]
    if re.match(_BARE_PYTHON, os.path.basename(words[0])) and not os.path.isabs(words[0]):
        return Check(
            "settings",
            WARN,
            detail,
            f"give the interpreter by its absolute path (e.g. {shlex.quote(sys.executable)}):"
            " an agent or a shell with another PATH would run another Python",
        )
    if s.kill_after is None:
        return Check("settings", WARN, detail, "set a budget: a run that hangs is never stopped")
    return Check("settings", OK, detail)


def sandbox_check(settings: Settings) -> Check:
    """Whether the sandbox works here (tried, not only looked for), and what applies if not."""
    line = sandbox_line(settings).removeprefix("sandbox: ")
    if settings.sandbox == "off":
        return Check("sandbox", WARN, line, "a run can reach the books and leave processes")
    reason = sandbox.unavailable()
    if reason is None:
        return Check("sandbox", OK, line)
    if settings.sandbox == "on":
        return Check("sandbox", FAIL, line, "install bubblewrap, or --sandbox auto")
    return Check("sandbox", WARN, line, "install bubblewrap (apt install bubblewrap)")


def run_check(repo: str, settings: Settings) -> Check:
    """Run the command once, as an experiment would run, and read its metrics."""
    main = settings.pattern and compile_pattern(settings.pattern)
    patterns = {
        settings.metric: main or default_pattern(settings.metric),
        **{name: default_pattern(name) for name in settings.also},
    }
    folder = tempfile.mkdtemp(prefix="autoresearch-doctor-")
    log = os.path.join(folder, "run.log")
    env = run_environment(settings._replace(tag="doctor"), git.head(repo) or "", "doctor", 0)
    confined = run_policy(repo, settings, ())
    request = RunRequest("HEAD", settings.run, log, env, settings.kill_after, confine=confined)
    result, readings, crash = run_and_read(LocalExecutor(repo), request, patterns)
    took = f"{result.seconds:.1f} s"
    if crash is not None:
        last = shown_tail(log, 1)
        said = f"; last line: {last[0][:160]}" if last else ""
        hint = f"its output is in {log}"
        printed = printed_metrics(log)
        if printed and readings[settings.metric].problem:
            close = difflib.get_close_matches(settings.metric, printed, n=1)
            guess = f" (did you mean --metric {close[0]}?)" if close else ""
            shown = ", ".join(f"{name}:" for name in printed[:5])
            hint = f"the run printed {shown}{guess}; {hint}"
        return Check("run", FAIL, f"{crash} ({took}){said}", hint)
    value = readings[settings.metric].value
    os.unlink(log)
    os.rmdir(folder)
    detail = f"printed {settings.metric}: {value:g} in {took}"
    if settings.budget and result.seconds > settings.budget:
        limit = settings.kill_after or 0
        return Check(
            "run",
            WARN,
            f"{detail}, over the {settings.budget:g} s budget (a run is stopped at {limit:g} s)",
            f"raise the budget to about {result.seconds * 1.5:.0f} s",
        )
    within = f" (budget {settings.budget:g} s)" if settings.budget else ""
    return Check("run", OK, detail + within)


def printed_metrics(log: str) -> list[str]:
    """The names of the ``name: number`` lines a run printed, each once."""
    names: list[str] = []
    for line in runner.tail(log, 200):
        match = re.match(_PRINTED_METRIC, line)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def disk_check(path: str) -> Check:
    free = machine.free_bytes(path)
    detail = f"{free / GIB:.1f} GB free for run logs and session files"
    if free < DISK_FAIL_BYTES:
        return Check("disk", FAIL, detail, "free some space: every run's log is kept")
    if free < DISK_WARN_BYTES:
        return Check("disk", WARN, detail, "a long night of verbose runs may fill it")
    return Check("disk", OK, detail)


def night_agent(night: Night) -> str:
    """The agent configured, else the one `loop` would choose (a UserError when none)."""
    from autoresearch.loop.agents.choose import chosen_agent

    return chosen_agent(night.options, bool(night.knobs))


def agent_check(night: Night) -> Check:
    chosen = "" if night.options.get("agent") else " (none configured: `loop` would choose it)"
    try:
        name = night_agent(night)
    except UserError as error:
        # Not fatal: an agent of the user's own may drive the night through `try`.
        return Check("agent", WARN, "none configured, none found", str(error))
    if name in CLI_CREDENTIALS:
        check = program_agent_check(name, night)
    elif name in ("openai", "anthropic"):
        check = api_agent_check(name, night)
    elif name == "command":
        check = command_agent_check(night)
    elif name == "tune":
        check = tune_check(night)
    else:
        return Check("agent", FAIL, f"unknown agent {name!r}", "see `autoresearch loop --help`")
    return check._replace(detail=check.detail + chosen)


def scope_check(night: Night) -> Check | None:
    """Whether the agent may edit anything: a loop whose agent can change none of its files
    measures a baseline and then fails every attempt."""
    from autoresearch.loop.editable import agent_files

    if night.repo is None or night.scope is None:
        return None
    try:
        name = night_agent(night)
        files = agent_files(night.repo, night.scope, name, night.knobs)
    except UserError:
        return None  # the agent's own check has said what is wrong
    if files.problem is not None:
        return Check("scope", FAIL, files.problem, "widen --scope or unprotect what it must edit")
    return Check("scope", OK, files.detail)


def program_agent_check(name: str, night: Night) -> Check:
    found = machine.find_program(name)
    if found is None:
        return Check("agent", FAIL, f"{name} not found on PATH", f"install {name}")
    version = machine.program_version(found) or "version unknown"
    detail = f"{name} {version} at {found}"
    variables, files, hint = CLI_CREDENTIALS[name]
    if night.options.get("api_key"):
        return Check("agent", OK, f"{detail} · key given with --api-key")
    present = [v for v in variables if os.environ.get(v)]
    if present:
        return Check("agent", OK, f"{detail} · key in {present[0]}")
    where = night.repo or os.getcwd()
    logins = [f for f in files if Path(where, os.path.expanduser(f)).is_file()]
    if logins:
        return Check("agent", OK, f"{detail} · credentials in {logins[0]}")
    # A login kept in the macOS keychain leaves no file to see.
    status = WARN if sys.platform == "darwin" else FAIL
    return Check("agent", status, f"{detail} · no {' or '.join(variables[:2])}, no login", hint)


def api_agent_check(name: str, night: Night) -> Check:
    from autoresearch.loop.agents import build_agent
    from autoresearch.loop.agents.base import AgentOptions, AgentSetup

    options = night.options
    with tempfile.TemporaryDirectory() as state:
        setup = AgentSetup(
            options=AgentOptions(
                model=options.get("model"),
                base_url=options.get("base_url"),
                api_key=options.get("api_key"),
            ),
            repo=Path(night.repo or os.getcwd()),
            state_dir=Path(state),
            ledger_path=Path(state, "results.tsv"),
            metric=night.settings.metric if night.settings else "metric",
            direction=night.settings.direction if night.settings else "minimize",
        )
        try:
            agent: Any = build_agent(name, setup)  # checks the model, the key and the SDK
        except UserError as error:
            return Check("agent", FAIL, f"{name}: {error}", "see the agent table in the README")
    where = agent.base_url or "its default endpoint"
    key = "a key" if agent.api_key else "no key (a local server needs none)"
    return Check("agent", OK, f"{name} model {agent.model} at {where} · {key}")


def command_agent_check(night: Night) -> Check:
    command = str(night.options.get("agent_cmd") or "").strip()
    if not command:
        return Check("agent", FAIL, "command: no --agent-cmd", "give the agent's shell command")
    try:
        program = shlex.split(command)[0]
    except ValueError as error:
        return Check("agent", FAIL, f"command: cannot read {command!r}: {error}")
    if machine.find_program(program) is None and not Path(night.repo or ".", program).is_file():
        return Check(
            "agent", FAIL, f"command: {program} not found", "give its absolute path in --agent-cmd"
        )
    return Check("agent", OK, f"command `{command}`")


def tune_check(night: Night) -> Check:
    import importlib.util

    if importlib.util.find_spec("optuna") is None:
        return Check("agent", FAIL, "tune: optuna is missing", "pip install 'autoresearch[tune]'")
    if not night.knobs:
        return Check("agent", FAIL, "tune: no knobs", "declare [[knob]] tables in the settings")
    from autoresearch.loop.agents.knobs import parse_knobs

    try:
        knobs = parse_knobs(night.knobs, Path(night.repo or "."))
    except UserError as error:
        return Check("agent", FAIL, f"tune: {error}")
    return Check("agent", OK, f"tune over {', '.join(k.name for k in knobs)}")


def gpu_check(env: Mapping[str, str]) -> Check:
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return Check(
            "gpus", WARN, f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU", "unset it for GPUs"
        )
    names, why = machine.gpu_names()
    if names is None:
        return Check("gpus", INFO, f"none visible ({why}): runs use the CPU")
    shown = "; ".join(n.split(" (UUID")[0] for n in names[:4]) + (" ..." if len(names) > 4 else "")
    restricted = f" · CUDA_VISIBLE_DEVICES={visible}" if visible is not None else ""
    return Check("gpus", OK, f"{len(names)} visible: {shown}{restricted}")


def ray_check(env: Mapping[str, str]) -> Check | None:
    """Only when Ray is configured (``RAY_ADDRESS``): can its head be reached?"""
    address = env.get("RAY_ADDRESS", "").strip()
    if not address:
        return None
    if address in ("auto", "local"):
        return Check("ray", INFO, f"RAY_ADDRESS={address}: found when the run starts")
    host_port = address.split("://", 1)[-1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return Check(
            "ray", FAIL, f"RAY_ADDRESS={address} has no host:port", "e.g. ray://head:10001"
        )
    problem = machine.unreachable(host, int(port))
    if problem:
        return Check("ray", FAIL, f"{host_port} unreachable: {problem}", "start the cluster first")
    return Check("ray", OK, f"{host_port} reachable")
