"""Setting up a loop: its options and stop rules, the session to continue, the agent to call."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.errors import UserError
from autoresearch.loop.agents import build_agent
from autoresearch.loop.agents.base import Agent, AgentOptions, AgentSetup
from autoresearch.loop.agents.choose import default_agent_name
from autoresearch.loop.driver import StopRules
from autoresearch.rules.settings import LOOP_KEYS
from autoresearch.store import git
from autoresearch.store.files import SessionFiles


def loop_options(flags: Mapping[str, Any], file_values: Mapping[str, Any]) -> dict[str, Any]:
    """The loop's options: flags first, then the settings file, then the defaults."""
    merged = {k: v for k, v in file_values.items() if k in LOOP_KEYS}
    for key in LOOP_KEYS:
        value = flags.get(key)
        if value is not None:
            merged[key] = value
    if flags.get("api_key"):
        merged["api_key"] = flags["api_key"]  # flags only: a key does not belong in a settings file
    return merged


def _number(options: Mapping[str, Any], key: str, kind: type, minimum: float = 0) -> Any:
    value = options.get(key)
    if value is None:
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise UserError(f"{key.replace('_', '-')} must be a number, not {value!r}") from None
    if number < minimum:
        raise UserError(f"{key.replace('_', '-')} must be at least {minimum}, not {value!r}")
    return number


def stop_rules(options: Mapping[str, Any]) -> StopRules:
    fixes = _number(options, "max_fix_attempts", int)
    failures = _number(options, "max_failures", int, 1)
    crashes = _number(options, "max_crashes", int)
    return StopRules(
        max_experiments=_number(options, "max_experiments", int, 1),
        max_hours=_number(options, "max_hours", float),
        target=_number(options, "target", float, float("-inf")),
        plateau=_number(options, "plateau", int, 1),
        max_cost=_number(options, "max_cost", float),
        max_fix_attempts=2 if fixes is None else fixes,
        max_failures=5 if failures is None else failures,
        max_crashes=10 if crashes is None else crashes,
    )


def check_knobs(repo: str, file_values: Mapping[str, Any], agent: str | None) -> None:
    """A knob that cannot be tuned is an error before anything runs."""
    knobs = file_values.get("knob") or []
    if knobs and agent in (None, "tune"):
        from autoresearch.loop.agents.knobs import parse_knobs

        parse_knobs(knobs, Path(repo))


def existing_session(repo: str, tag: str | None) -> Session | None:
    """The session to continue: the one named (checked out if need be), or the checked-out one;
    None when a new one must be started."""
    branch = git.current_branch(repo) or ""
    if tag and SessionFiles(repo, tag).exists():
        if branch != BRANCH_PREFIX + tag:
            if not git.status(repo).clean:
                raise UserError("tracked files have uncommitted changes; commit or stash first")
            git.checkout(repo, BRANCH_PREFIX + tag)
        return Session.open(repo, tag)
    if not tag and branch.startswith(BRANCH_PREFIX):
        return Session.open(repo)
    return None


def build_loop_agent(
    session: Session,
    options: Mapping[str, Any],
    file_values: Mapping[str, Any],
    name: str | None,
    seed: int | None,
) -> tuple[Agent, str]:
    """The agent named (by flag or settings), else the first this machine can run."""
    knobs = tuple(file_values.get("knob") or session.settings.knobs)
    name = name or options.get("agent") or default_agent_name(os.environ, bool(knobs))
    setup = AgentSetup(
        options=AgentOptions(
            model=options.get("model"),
            base_url=options.get("base_url"),
            api_key=options.get("api_key"),
            command=options.get("agent_cmd"),
            timeout=_number(options, "agent_timeout", float),
            extra_args=tuple(options.get("agent_arg") or ()),
        ),
        repo=Path(session.repo),
        state_dir=Path(session.files.dir),
        ledger_path=Path(session.files.ledger),
        metric=session.settings.metric,
        direction=session.settings.direction,
        knobs=knobs,
        seed=seed,
    )
    return build_agent(str(name), setup), str(name)


def program_path(options: Mapping[str, Any]) -> Path | None:
    program = Path(options["program"]) if options.get("program") else None
    if program is not None and not program.is_file():
        raise UserError(f"no research program at {program}")
    return program
