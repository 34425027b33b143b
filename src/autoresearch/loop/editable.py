"""Whether the agent a loop would use has anything in scope to edit.

A loop whose agent may change none of its files measures a baseline, fails every attempt and
stops: the tuner's knob files must be in scope and not protected, and for any other agent the
scope must allow at least one file that exists or that it could create. `doctor` and `loop`
both ask before anything starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from autoresearch.errors import UserError
from autoresearch.rules.scope import Scope, first_editable
from autoresearch.store import git


class AgentFiles(NamedTuple):
    """What the agent may edit (``detail``), or why it may edit nothing (``problem``)."""

    detail: str
    problem: str | None = None


def _scope_words(scope: Scope) -> str:
    if scope.include:
        return "scope: " + ", ".join(scope.include)
    return "scope: the tracked files"


def _knob_files(repo: str, knobs: Sequence[Mapping[str, Any]]) -> list[str]:
    from autoresearch.loop.agents.knobs import parse_knobs

    root = Path(repo).resolve()
    files = (
        os.path.relpath((root / knob.file).resolve(), root) for knob in parse_knobs(knobs, root)
    )
    return list(dict.fromkeys(Path(file).as_posix() for file in files))


def tuner_files(repo: str, scope: Scope, knobs: Sequence[Mapping[str, Any]]) -> AgentFiles:
    files = _knob_files(repo, knobs)
    refused = [path for path in files if not scope.allows(path)]
    if not refused:
        return AgentFiles(f"the tuner's knob files are in scope: {', '.join(files)}")
    reasons = ", ".join(f"{path} ({scope.explain(path)})" for path in refused)
    return AgentFiles(
        "",
        f"the tuner cannot set its knobs: {reasons}; {_scope_words(scope)}, "
        f"protected: {', '.join(scope.protect) or 'nothing'}",
    )


def agent_files(
    repo: str, scope: Scope, agent: str, knobs: Sequence[Mapping[str, Any]]
) -> AgentFiles:
    """What ``agent`` may edit under ``scope`` in ``repo``, or why it may edit nothing."""
    if agent == "tune":
        return tuner_files(repo, scope, knobs)
    existing = [*git.tracked_files(repo), *git.status(repo).untracked]
    example = first_editable(scope, existing)
    if example is not None:
        return AgentFiles(f"the agent may edit {example} ({_scope_words(scope)})")
    return AgentFiles(
        "",
        "the agent may edit no file: none that exists or could be created is in scope and not "
        f"protected ({_scope_words(scope)}; protected: {', '.join(scope.protect) or 'nothing'})",
    )


def refuse_uneditable(
    repo: str, scope: Scope, agent: str, knobs: Sequence[Mapping[str, Any]]
) -> None:
    """One line, before anything starts, when the agent could not make one experiment."""
    problem = agent_files(repo, scope, agent, knobs).problem
    if problem is not None:
        raise UserError(f"refused: {problem}")
