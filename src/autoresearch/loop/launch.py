"""Setting up a loop: the request (its settings read once, checked before anything starts),
the session to continue, and the agent, workers and trackers, started and closed around it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from autoresearch.engine.session import BRANCH_PREFIX, Session
from autoresearch.engine.workers import WorkerPlan, plan_workers, started_workers
from autoresearch.errors import UserError
from autoresearch.history.trackers import require as require_trackers
from autoresearch.loop.agents import build_agent
from autoresearch.loop.agents.base import Agent, AgentOptions, AgentSetup
from autoresearch.loop.agents.choose import chosen_agent
from autoresearch.loop.driver import Loop, LoopReport, LoopSetup, StopRules
from autoresearch.loop.editable import refuse_uneditable
from autoresearch.loop.parallel import ParallelLoop
from autoresearch.loop.tracking import Tracking
from autoresearch.rules.scope import Scope
from autoresearch.rules.setting_parsers import parse_trackers
from autoresearch.rules.settings import Given
from autoresearch.rules.settings_table import LOOP, checked, flag_values, merged
from autoresearch.store import git
from autoresearch.store.files import SessionFiles
from autoresearch.store.settings_file import read_settings_file


class LoopRequest(NamedTuple):
    """One `loop` as asked for, checked before anything starts."""

    repo: str
    given: Given  # the settings file, read once, and the session's settings given as flags
    options: Mapping[str, Any]  # every loop setting, read by the table (defaults filled in)
    plan: WorkerPlan
    track: tuple[str, ...] = ()  # the trackers named for this loop (a session may add more)
    no_baseline: bool = False
    from_file: frozenset[str] = frozenset()  # the loop settings the settings file set

    @property
    def rules(self) -> StopRules:
        limits = {name: self.options[name] for name in StopRules._fields if name in self.options}
        settings_file = self.given.settings_file or ""
        return StopRules(**limits, from_file=self.from_file, settings_file=settings_file)


def loop_request(repo: str, flags: Mapping[str, Any]) -> LoopRequest:
    """The loop asked for by ``flags`` (the command line's values, None where not given) and
    the repository's settings file; a UserError names the first bad value."""
    file_values, settings_file = read_settings_file(repo)
    options = checked(loop_options(flags, file_values), LOOP)
    track = parse_trackers(flags.get("track") or file_values.get("track"))
    require_trackers(track)
    plan = plan_workers(repo, options)
    check_knobs(repo, file_values, options.get("agent"))
    given = Given(file_values, settings_file, flag_values(flags))
    from_file = frozenset(n for n in file_values if flags.get(n) is None and n in options)
    no_baseline = bool(flags.get("no_baseline"))
    return LoopRequest(repo, given, options, plan, track, no_baseline, from_file)


def loop_options(flags: Mapping[str, Any], file_values: Mapping[str, Any]) -> dict[str, Any]:
    """The loop's options as given, not yet checked: flags first, then the settings file."""
    return merged(flags, file_values, LOOP)


def check_knobs(repo: str, file_values: Mapping[str, Any], agent: str | None) -> None:
    """A knob that cannot be tuned is an error before anything runs."""
    knobs = file_values.get("knob") or []
    if knobs and agent in (None, "tune"):
        from autoresearch.loop.agents.knobs import parse_knobs

        parse_knobs(knobs, Path(repo))


def existing_session(
    repo: str, tag: str | None, check: Callable[[Session], None] = lambda _: None
) -> Session | None:
    """The session to continue: the one named (checked out if need be), or the checked-out one;
    None when a new one must be started. ``check`` refuses it (a UserError) before the loop
    goes on; a refusal leaves the branch that was checked out as it was."""
    branch = git.current_branch(repo) or ""
    if tag and SessionFiles(repo, tag).exists():
        if branch == BRANCH_PREFIX + tag:
            session = Session.open(repo, tag)
            check(session)
            return session
        if not git.status(repo).clean:
            raise UserError("tracked files have uncommitted changes; commit or stash first")
        came_from = branch or git.head(repo) or ""
        git.checkout(repo, BRANCH_PREFIX + tag)
        try:
            session = Session.open(repo, tag)
            check(session)
        except UserError:
            git.checkout(repo, came_from)
            raise
        return session
    if not tag and branch.startswith(BRANCH_PREFIX):
        session = Session.open(repo)
        check(session)
        return session
    return None


def loop_knobs(request: LoopRequest, session_knobs: Sequence[Mapping[str, Any]]) -> tuple[Any, ...]:
    """The tuner's knobs: the settings file's, else the session's."""
    return tuple(request.given.file_values.get("knob") or session_knobs)


def agent_name(request: LoopRequest, knobs: Sequence[Mapping[str, Any]]) -> str:
    """The agent named (by flag or settings), else the first this machine can run."""
    return chosen_agent(request.options, bool(knobs))


def refuse_idle_agent(
    request: LoopRequest, scope: Scope, session_knobs: Sequence[Mapping[str, Any]]
) -> None:
    """Refuse, before a session starts or a loop runs, an agent that may edit nothing."""
    knobs = loop_knobs(request, session_knobs)
    refuse_uneditable(request.repo, scope, agent_name(request, knobs), knobs)


def build_loop_agent(session: Session, request: LoopRequest) -> tuple[Agent, str]:
    """The agent named (by flag or settings), else the first this machine can run."""
    options = request.options
    knobs = loop_knobs(request, session.settings.knobs)
    name = agent_name(request, knobs)
    setup = AgentSetup(
        options=AgentOptions(
            model=options.get("model"),
            base_url=options.get("base_url"),
            api_key=options.get("api_key"),
            command=options.get("agent_cmd"),
            timeout=options.get("agent_timeout"),
            extra_args=tuple(options.get("agent_arg") or ()),
        ),
        repo=Path(session.repo),
        state_dir=Path(session.files.dir),
        ledger_path=Path(session.files.ledger),
        metric=session.settings.metric,
        direction=session.settings.direction,
        knobs=knobs,
        seed=options.get("seed"),
        confine=session.confine,
    )
    return build_agent(str(name), setup), str(name)


def program_path(options: Mapping[str, Any]) -> Path | None:
    program = Path(options["program"]) if options.get("program") else None
    if program is not None and not program.is_file():
        raise UserError(f"no research program at {program}")
    return program


def start_tracking(
    session: Session, track: Sequence[str], report: LoopReport, known: Mapping[str, Any]
) -> Tracking | None:
    """The session's trackers and those named with --track now, sending in the background."""
    names = list(dict.fromkeys([*session.settings.track, *track]))
    if not names:
        return None
    require_trackers(names)
    tracking = Tracking(session.files, names, report.say, known)
    tracking.start()
    report.say(f"tracking: every experiment goes to {', '.join(names)} too")
    return tracking


@contextlib.contextmanager
def running(session: Session, request: LoopRequest, report: LoopReport) -> Iterator[Loop]:
    """The loop on ``session``, its agent made and its workers and trackers started; the
    workers and trackers are closed when the block ends, however it ends."""
    session.require_run()
    agent, name = build_loop_agent(session, request)
    program = program_path(request.options)
    report.say(
        f"loop: agent {name} on session {session.tag}; Ctrl-C stops after the running experiment"
    )
    known = {"agent": name, "model": request.options.get("model")}
    with contextlib.ExitStack() as stack:
        tracking = start_tracking(session, request.track, report, known)
        if tracking is not None:
            stack.callback(tracking.close)
        executors = stack.enter_context(started_workers(session, request.plan))
        setup = LoopSetup(
            agent, name, request.rules, program, tuple(executors), request.plan, tracking
        )
        yield (ParallelLoop if request.plan.parallel else Loop)(session, setup, report)
