"""The built-in numeric tuner: Optuna's TPE over the declared knobs, no model needed.

Each experiment it picks values for the knobs, writes them into their literals in the working
tree and hears the verdict back. Values are absolute, not steps: the engine resets the tree to
the keep ref after a discard, and a point in the search space means the same thing from there.

The study is kept in a journal file under the session's state folder, so a resumed session
goes on where it stopped. A study that does not know the ledger's experiments yet learns them
first: each row's knob values are read back from its commit, and at the least the keep ref's
values are recorded with the best kept metric.
"""

from __future__ import annotations

import math
import random
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.errors import UserError
from autoresearch.loop.agents.base import (
    AgentError,
    AgentRequest,
    AgentSetup,
    Outcome,
    Proposal,
)
from autoresearch.loop.agents.knobs import (
    Knob,
    Value,
    describe_change,
    locate,
    parse_knobs,
    read_values,
    same_value,
)
from autoresearch.loop.agents.knobs import rewrite as rewrite_knobs
from autoresearch.store import git
from autoresearch.store.ledger import Ledger, Row, read_ledger

try:
    import optuna
except ImportError:  # the optional extra autoresearch[tune]
    optuna = None

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial, Trial

STUDY_NAME = "autoresearch"
JOURNAL_FILE = "tune.journal"
# Draws before giving up on the sampler and nudging one knob: each draw is cheap, and only a
# search space nearly used up keeps giving back the current values.
DRAWS_PER_PROPOSAL = 5
MEASURED = ("keep", "discard")


class TuneAgent:
    name = "tune"
    # A crash is a point to avoid, not code to repair: the loop goes on to the next proposal.
    can_fix = False

    def __init__(self, setup: AgentSetup) -> None:
        if optuna is None:
            raise UserError("the tuner needs optuna: pip install 'autoresearch[tune]'")
        if not setup.knobs:
            raise UserError(
                "the tuner has nothing to tune: declare knobs as [[knob]] tables in the settings"
            )
        _silence_optuna()
        self._setup = setup
        self._knobs = parse_knobs(setup.knobs, setup.repo)
        self._distributions = {knob.name: _distribution(knob) for knob in self._knobs}
        self._journal = setup.state_dir / JOURNAL_FILE
        self._study = self._open_study()
        # Proposals whose verdict has not come yet, oldest first; more than one only when the
        # loop runs several experiments at once (``in_flight``).
        self._pending: list[Trial] = []
        self.in_flight = 1
        self._caught_up = False
        self._nudges = random.Random(setup.seed)

    @property
    def study(self) -> optuna.Study:
        return self._study

    def propose(self, request: AgentRequest) -> Proposal:
        self._abandon_pending()
        try:
            current = read_values(self._knobs, request.workdir)
        except UserError as error:
            raise AgentError(str(error)) from None
        if not self._caught_up:
            self._learn_from_ledger(current)
            self._caught_up = True
        values = self._choose(current)
        self._study.enqueue_trial(values)
        trial = self._study.ask(self._distributions)
        try:
            rewrite_knobs(self._knobs, request.workdir, values)
        except (UserError, OSError) as error:
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise AgentError(f"could not write the knobs: {error}") from None
        self._pending.append(trial)
        return Proposal(
            description=describe_change(current, values),
            details={"trial": trial.number, "knobs": dict(values)},
        )

    def observe(self, outcome: Outcome) -> None:
        trial = self._pending_for(outcome)
        if trial is None:
            return
        trial.set_user_attr("commit", outcome.commit)
        trial.set_user_attr("verdict", outcome.status)
        if _measured(outcome.status, outcome.value):
            self._study.tell(trial, outcome.value)
        else:
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _open_study(self) -> optuna.Study:
        self._journal.parent.mkdir(parents=True, exist_ok=True)
        storage = optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(self._journal))
        )
        # Every trial's values are enqueued, so this sampler only ever returns them.
        study = optuna.create_study(
            storage=storage,
            study_name=STUDY_NAME,
            direction=self._setup.direction,
            load_if_exists=True,
            sampler=optuna.samplers.RandomSampler(seed=self._setup.seed),
        )
        if study.direction.name.lower() != self._setup.direction:
            raise UserError(
                f"the tuner's study in {self._journal} was made to "
                f"{study.direction.name.lower()}, not {self._setup.direction}: remove it to"
                " start afresh"
            )
        for trial in study.get_trials(deepcopy=False):
            self._check_compatible(trial)
            if trial.state == optuna.trial.TrialState.RUNNING:
                # Proposed by a session that stopped before its verdict: never measured.
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        return study

    def _check_compatible(self, trial: FrozenTrial) -> None:
        for name, recorded in trial.distributions.items():
            if name not in self._distributions:
                continue
            try:
                optuna.distributions.check_distribution_compatibility(
                    recorded, self._distributions[name]
                )
            except ValueError:
                raise UserError(
                    f"knob {name} changed its kind since the tuner's study in {self._journal}"
                    " began: remove that file to start afresh"
                ) from None

    def _abandon_pending(self) -> None:
        """A proposal whose verdict never came was never measured: it teaches nothing."""
        while len(self._pending) >= self.in_flight:
            trial = self._pending.pop(0)
            trial.set_user_attr("verdict", "not run")
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)

    def _pending_for(self, outcome: Outcome) -> Trial | None:
        """The proposal this verdict is about: the one whose values the commit holds (verdicts
        of parallel experiments come in any order); a failed attempt is the latest proposal.
        None for a commit the tuner did not propose (one carried onto a newer keep ref)."""
        if not self._pending:
            return None
        if not outcome.commit or self.in_flight == 1:
            return self._pending.pop()
        values = self._values_at(outcome.commit)
        for index, trial in enumerate(self._pending):
            if values is not None and _same_point(self._knobs, trial.params, values):
                return self._pending.pop(index)
        return None

    def _choose(self, current: Mapping[str, Value]) -> dict[str, Value]:
        sampling = self._sampling_study()
        values: dict[str, Value] = dict(current)
        for _ in range(DRAWS_PER_PROPOSAL):
            drawn = sampling.ask(self._distributions)
            values = {knob.name: knob.snap(drawn.params[knob.name]) for knob in self._knobs}
            if not _same_point(self._knobs, values, current):
                return values
        knob = self._nudges.choice(self._knobs)
        values[knob.name] = knob.nudge(current[knob.name], self._nudges)
        return values

    def _sampling_study(self) -> optuna.Study:
        """An in-memory copy of what the study knows, in which the sampler draws freely.

        Drawing here, then enqueueing the rounded values in the journal's study, makes the
        study record exactly what the file and the ledger say, and only what was proposed. A
        crash is shown to the sampler as a pruned trial, which it ranks among the worst, so it
        learns to stay away; a proposal that was never run is not shown at all.
        """
        known = self._study.get_trials(deepcopy=False)
        in_flight = {trial.number for trial in self._pending} if self.in_flight > 1 else set()
        shown = []
        for trial in known:
            if not self._fits(trial.params):
                continue
            if trial.state == optuna.trial.TrialState.COMPLETE:
                shown.append(self._frozen(trial.params, value=trial.value))
            elif trial.number in in_flight:
                # In flight: the sampler's constant liar keeps the next draw away from it.
                shown.append(self._frozen(trial.params, state=optuna.trial.TrialState.RUNNING))
            elif trial.user_attrs.get("verdict") == "crash":
                shown.append(self._frozen(trial.params, state=optuna.trial.TrialState.PRUNED))
        seed = self._setup.seed
        sampler = optuna.samplers.TPESampler(
            # Seeded per trial count, so a resumed session does not replay its first draws.
            seed=None if seed is None else (seed * 1_000_003 + len(known)) % 2**32,
            multivariate=True,
            constant_liar=True,
        )
        sampling = optuna.create_study(direction=self._setup.direction, sampler=sampler)
        sampling.add_trials(shown)
        return sampling

    def _learn_from_ledger(self, current: Mapping[str, Value]) -> None:
        """Record the ledger's experiments the study does not know yet (see the module doc)."""
        ledger = _read_ledger_if_any(self._setup.ledger_path)
        if ledger is None:
            return
        known = [trial.user_attrs.get("commit", "") for trial in self._study.trials]
        for row in ledger.rows:
            if any(_same_commit(row.commit, commit) for commit in known):
                continue
            values = self._values_at(row.commit)
            if values is not None and self._fits(values):
                measured = _measured(row.status, row.value)
                self._record(values, row.value if measured else None, row.commit, row.status)
        best = _best_kept(ledger.rows, self._setup.direction)
        completed = self._study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        already = any(_same_point(self._knobs, t.params, current) for t in completed)
        if best is not None and not already and self._fits(current):
            self._record(current, best.value, best.commit, "keep")

    def _values_at(self, commit: str) -> dict[str, Value] | None:
        """The knobs' values as committed in ``commit``, or None when they cannot be read."""
        sources: dict[str, bytes] = {}
        values: dict[str, Value] = {}
        for knob in self._knobs:
            if knob.file not in sources:
                text = git.git(self._setup.repo, "show", f"{commit}:{knob.file}", check=False)
                sources[knob.file] = text.encode("utf-8", errors="surrogateescape")
            try:
                values[knob.name] = locate(sources[knob.file], knob.file, knob.name).value
            except UserError:
                return None
        return values

    def _record(
        self, values: Mapping[str, Value], value: float | None, commit: str, verdict: str
    ) -> None:
        state = optuna.trial.TrialState
        self._study.add_trial(
            self._frozen(
                values,
                value=value,
                state=state.COMPLETE if value is not None else state.FAIL,
                user_attrs={"commit": commit, "verdict": verdict, "from": "ledger"},
            )
        )

    def _frozen(self, params: Mapping[str, Any], **fields: Any) -> FrozenTrial:
        return optuna.trial.create_trial(
            params=dict(params), distributions=self._distributions, **fields
        )

    def _fits(self, params: Mapping[str, Any]) -> bool:
        """Whether a point lies in the search space as declared now (ranges may have moved)."""
        return all(knob.name in params and knob.contains(params[knob.name]) for knob in self._knobs)


def _distribution(knob: Knob) -> BaseDistribution:
    distributions = optuna.distributions
    if knob.kind == "choice":
        return distributions.CategoricalDistribution(knob.choices)
    if knob.kind == "int":
        return distributions.IntDistribution(int(knob.low), int(knob.high), log=knob.log)
    return distributions.FloatDistribution(float(knob.low), float(knob.high), log=knob.log)


def _silence_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _measured(status: str, value: float | None) -> bool:
    return status in MEASURED and value is not None and math.isfinite(value)


def _same_point(knobs: Iterable[Knob], left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    return all(
        knob.name in left and knob.name in right and same_value(left[knob.name], right[knob.name])
        for knob in knobs
    )


def _same_commit(left: str, right: str) -> bool:
    """Hashes may be abbreviated differently in the ledger and in the study."""
    return bool(left) and bool(right) and (left.startswith(right) or right.startswith(left))


def _best_kept(rows: Iterable[Row], direction: str) -> Row | None:
    kept = [row for row in rows if row.status == "keep"]
    if not kept:
        return None
    pick = min if direction == "minimize" else max
    return pick(kept, key=lambda row: row.value)


def _read_ledger_if_any(path: Path) -> Ledger | None:
    try:
        return read_ledger(path)
    except (OSError, ValueError):
        return None
