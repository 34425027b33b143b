"""The greedy keep rule against the noise-aware one, on simulated sessions with a noisy metric:
Gaussian noise, heavy-tailed noise (load spikes) and slow drift.

Each session starts from a baseline whose true metric is 1.0 (minimized) and proposes a stream
of candidates, each a change of known true effect on the current keep ref: most do nothing, some
make it a little worse, a few improve it by 1, 2 or 3 sigma. Every run measures its commit's true
value plus noise, drawn in the order the runs are made (a run's noise depends on when it runs):

- gaussian: standard deviation sigma, independent from run to run;
- spikes: the same, and one run in twenty lands 10 to 100 sigma worse (another job's load);
- drift: the same, plus a slow wander shared by runs close in time (an AR(1) process of standard
  deviation 1.5 sigma whose correlation falls to 1/e over 100 runs), so that back-to-back repeats
  agree better than runs minutes apart.

The sessions are greedy as the engine is: a kept candidate becomes the keep ref, and later
candidates are compared with the keep ref's runs, so the winner's curse (a lucky keep looks
better than it is) is in the comparison.

- greedy: one run per candidate, kept when strictly better than the best single observed value
  (``verdict.judge`` with no sigma: the plain rule, as with ``--noise off``).
- noise-aware, sigma known: ``verdict.judge`` with sigma the Gaussian part's, run by run until it
  decides; the baseline is run twice and the keep ref's runs are the runs that got it kept.
- noise-aware, as sessions run: as the engine measures (``engine.judging``): the baseline run
  three times, sigma by ``rules.noise.session_noise`` from every run made so far, the keep ref run
  again before each further run of a candidate (and before its first when none of the latest 16
  runs was the keep ref's), its latest runs (``rules.noise.reference_runs``) the reference:
  recent, and spread over time so that they show the drift.
- the same with a candidate's runs back to back, the keep ref never run again and the baseline
  run twice, as the engine did before: what running the keep ref again buys.

    python bench/verdicts.py            # 300 sessions x 200 candidates per kind of noise
    python bench/verdicts.py --quick    # 40 sessions x 200 candidates
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autoresearch.engine.judging import BASELINE_RUNS, STALE_AFTER_RUNS
from autoresearch.rules import noise, verdict

SIGMA = 0.005
BASELINE = 1.0
# Shares of the candidate stream; the remainder are null changes (true effect 0).
HARMFUL_SHARE = 0.20  # true effect drawn uniformly from -2 to -0.5 sigma
IMPROVEMENT_SHARES = {1: 0.05, 2: 0.05, 3: 0.05}  # true effect in sigmas -> share
SPIKE_SHARE, SPIKE_SIGMAS = 0.05, (10.0, 100.0)
DRIFT_SIGMAS, DRIFT_RUNS = 1.5, 100.0
KINDS = ("gaussian", "spikes", "drift")


@dataclass
class Session:
    """One session's candidates and noise, fixed so that every rule faces the same draws."""

    effects: np.ndarray  # true improvement of each candidate on its keep ref, in sigmas
    sizes: np.ndarray  # 0 for null or harmful, else the improvement in sigmas
    noise: np.ndarray  # the noise of the session's n-th run, in metric units


class Clock:
    """The session's runs in the order they are made: each takes the next noise draw."""

    def __init__(self, session: Session) -> None:
        self.noise = session.noise
        self.made = 0

    def run(self, true_value: float) -> float:
        self.made += 1
        return true_value + float(self.noise[self.made - 1])


def by_size() -> dict[int, int]:
    return dict.fromkeys(IMPROVEMENT_SHARES, 0)


@dataclass
class Tally:
    wrong_kept: int = 0
    wrong_proposed: int = 0
    kept_by_size: dict[int, int] = field(default_factory=lambda: by_size())
    proposed_by_size: dict[int, int] = field(default_factory=lambda: by_size())
    runs: int = 0
    candidates: int = 0
    finals: list[float] = field(default_factory=list)

    def count(self, size: int, kept: bool) -> None:
        self.candidates += 1
        if size == 0:
            self.wrong_proposed += 1
            self.wrong_kept += kept
        else:
            self.proposed_by_size[size] += 1
            self.kept_by_size[size] += kept


def draw_noise(rng: np.random.Generator, kind: str, runs: int) -> np.ndarray:
    drawn = rng.standard_normal(runs)
    if kind == "spikes":
        spiking = rng.random(runs) < SPIKE_SHARE
        drawn[spiking] += rng.uniform(*SPIKE_SIGMAS, spiking.sum())
    elif kind == "drift":
        keep = float(np.exp(-1.0 / DRIFT_RUNS))
        steps = rng.standard_normal(runs) * DRIFT_SIGMAS * np.sqrt(1 - keep**2)
        wander = np.empty(runs)
        wander[0] = rng.standard_normal() * DRIFT_SIGMAS
        for i in range(1, runs):
            wander[i] = keep * wander[i - 1] + steps[i]
        drawn += wander
    return drawn * SIGMA


def make_session(rng: np.random.Generator, kind: str, candidates: int, max_runs: int) -> Session:
    kinds = rng.random(candidates)
    effects = np.zeros(candidates)
    sizes = np.zeros(candidates, dtype=int)
    harmful = kinds < HARMFUL_SHARE
    effects[harmful] = -rng.uniform(0.5, 2.0, harmful.sum())
    edge = HARMFUL_SHARE
    for size, share in IMPROVEMENT_SHARES.items():
        chosen = (kinds >= edge) & (kinds < edge + share)
        effects[chosen], sizes[chosen] = size, size
        edge += share
    # Enough draws for every candidate at its most runs, each after a run of its keep ref.
    return Session(effects, sizes, draw_noise(rng, kind, candidates * 2 * max_runs + 4))


# A rule takes the session and the tally, plays the session, and returns the final true metric.
Rule = Callable[[Session, Tally], float]


def greedy(session: Session, tally: Tally) -> float:
    clock = Clock(session)
    true_value = BASELINE
    best = clock.run(true_value)
    for effect, size in zip(session.effects, session.sizes, strict=True):
        candidate_true = true_value - effect * SIGMA
        value = clock.run(candidate_true)
        plain = verdict.Evidence((value,), (best,), None, "minimize")
        kept = verdict.judge(plain).status == verdict.KEEP  # type: ignore[union-attr]
        if kept:
            true_value, best = candidate_true, value
        tally.count(int(size), kept)
    tally.runs += clock.made - 1
    return true_value


def known_sigma(session: Session, tally: Tally) -> float:
    clock = Clock(session)
    true_value = BASELINE
    reference = (clock.run(true_value), clock.run(true_value))
    max_runs = verdict.DEFAULT_MAX_RUNS
    for effect, size in zip(session.effects, session.sizes, strict=True):
        candidate_true = true_value - effect * SIGMA
        runs: list[float] = []
        decision = None
        while decision is None:
            runs.append(clock.run(candidate_true))
            evidence = verdict.Evidence(
                tuple(runs), reference, SIGMA, "minimize", max_runs=max_runs
            )
            decision = verdict.judge(evidence)
        kept = decision.status == verdict.KEEP
        if kept:
            true_value, reference = candidate_true, tuple(runs)
        tally.count(int(size), kept)
    tally.runs += clock.made - 2
    return true_value


def as_sessions_run(interleaved: bool) -> Rule:
    """As the engine measures: the noise from every run made so far, the keep ref's latest runs as
    the reference; ``interleaved``: each further run of a candidate after a run of its keep ref
    (and the baseline run three times, else twice)."""
    baseline_runs = BASELINE_RUNS if interleaved else 2

    def play(session: Session, tally: Tally) -> float:
        clock = Clock(session)
        true_value, keep = BASELINE, 0
        made = [
            {"commit": keep, "experiment": 0, "value": clock.run(true_value)}
            for _ in range(baseline_runs)
        ]
        max_runs = verdict.DEFAULT_MAX_RUNS
        for number, (effect, size) in enumerate(
            zip(session.effects, session.sizes, strict=True), 1
        ):
            candidate_true = true_value - effect * SIGMA
            runs: list[float] = []
            decision = None
            stale = all(run["commit"] != keep for run in made[-STALE_AFTER_RUNS:])
            if interleaved and stale and noise.session_noise(made, keep):
                made.append({"commit": keep, "experiment": number, "value": clock.run(true_value)})
            while decision is None:
                if runs and interleaved:
                    made.append(
                        {"commit": keep, "experiment": number, "value": clock.run(true_value)}
                    )
                runs.append(clock.run(candidate_true))
                judged = (
                    *made,
                    *({"commit": number, "experiment": number, "value": v} for v in runs),
                )
                sigma = noise.session_noise(judged, keep)
                reference = noise.reference_runs(made, keep, None)
                evidence = verdict.Evidence(
                    tuple(runs), reference, sigma, "minimize", max_runs=max_runs
                )
                decision = verdict.judge(evidence)
            made.extend({"commit": number, "experiment": number, "value": v} for v in runs)
            kept = decision.status == verdict.KEEP
            if kept:
                true_value, keep = candidate_true, number
            tally.count(int(size), kept)
        tally.runs += clock.made - baseline_runs
        return true_value

    return play


def measure(rule: Rule, sessions: list[Session]) -> Tally:
    tally = Tally()
    for session in sessions:
        tally.finals.append(rule(session, tally))
    return tally


def row(kind: str, name: str, tally: Tally) -> str:
    false_keeps = tally.wrong_kept / tally.wrong_proposed
    power = [
        tally.kept_by_size[size] / max(tally.proposed_by_size[size], 1)
        for size in IMPROVEMENT_SHARES
    ]
    real_keeps = sum(tally.kept_by_size.values())
    real_share = real_keeps / max(real_keeps + tally.wrong_kept, 1)
    final = statistics.median(tally.finals)
    gained = (BASELINE - final) / SIGMA
    cells = [
        kind,
        name,
        f"{false_keeps:.1%}",
        *(f"{share:.0%}" for share in power),
        f"{real_share:.0%}",
        f"{final:.4f} ({gained:+.1f}σ)",
        f"{tally.runs / tally.candidates:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


RULES: dict[str, Rule] = {
    "greedy (plain rule, `--noise off`)": greedy,
    "noise-aware, sigma known": known_sigma,
    "noise-aware, as sessions run (keep ref run again between repeats)": as_sessions_run(
        interleaved=True
    ),
    "the same, repeats back to back, baseline twice": as_sessions_run(interleaved=False),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 sessions instead of 300")
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kind", choices=KINDS, action="append", help="noise (default: all)")
    args = parser.parse_args()
    count = args.sessions or (40 if args.quick else 300)
    max_runs = verdict.DEFAULT_MAX_RUNS
    started = time.perf_counter()
    rows = []
    for kind in args.kind or KINDS:
        rng = np.random.default_rng(args.seed)
        sessions = [make_session(rng, kind, args.candidates, max_runs) for _ in range(count)]
        rows += [row(kind, name, measure(rule, sessions)) for name, rule in RULES.items()]
    nulls = 1 - HARMFUL_SHARE - sum(IMPROVEMENT_SHARES.values())
    improvements = ", ".join(
        f"{share:.0%} at {size} sigma" for size, share in IMPROVEMENT_SHARES.items()
    )
    print(
        f"{count} sessions x {args.candidates} candidates, sigma {SIGMA}, baseline {BASELINE}"
        f" (minimize); {nulls:.0%} null, {HARMFUL_SHARE:.0%} harmful (-0.5 to -2 sigma),"
        f" {improvements}; spikes: {SPIKE_SHARE:.0%} of runs {SPIKE_SIGMAS[0]:g} to"
        f" {SPIKE_SIGMAS[1]:g} sigma worse; drift: {DRIFT_SIGMAS:g} sigma over about"
        f" {DRIFT_RUNS:g} runs; alpha {verdict.ALPHA}, first-run bar {verdict.FIRST_RUN_BAR}"
        f" sigma, max runs {max_runs}, seed {args.seed}\n"
    )
    print(
        "| noise | rule | false keeps | power 1σ | power 2σ | power 3σ | keeps that were real "
        "| final true metric (median) | runs per candidate |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
