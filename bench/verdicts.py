"""The greedy keep rule against the noise-aware one, on simulated sessions with a noisy metric.

Each session starts from a baseline whose true metric is 1.0 (minimized) and proposes a stream
of candidates, each a change of known true effect on the current keep ref: most do nothing, some
make it a little worse, a few improve it by 1, 2 or 3 sigma. Every run of a commit measures its
true value plus Gaussian noise of standard deviation sigma. The sessions are greedy as the engine
is: a kept candidate becomes the keep ref, and later candidates are compared with the runs that
got it kept, so the winner's curse (a lucky keep looks better than it is) is in the comparison.

- greedy: one run per candidate, kept when strictly better than the best single observed value
  (``verdict.judge`` with no sigma: the plain rule, as with ``--noise off``).
- noise-aware: ``verdict.judge`` with sigma known, run by run until it decides; the baseline is
  run twice and the keep ref's runs are the runs that got it kept.
- noise-aware, sigma estimated: the same, with sigma pooled by ``verdict.cautious_sigma`` from
  the baseline's two runs and every candidate that was run more than once so far.

Both rules see the same candidates and the same noise draws, run for run.

    python bench/verdicts.py            # 300 sessions x 200 candidates
    python bench/verdicts.py --quick    # 40 sessions x 200 candidates
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from autoresearch.rules import verdict

SIGMA = 0.005
BASELINE = 1.0
# Shares of the candidate stream; the remainder are null changes (true effect 0).
HARMFUL_SHARE = 0.20  # true effect drawn uniformly from -2 to -0.5 sigma
IMPROVEMENT_SHARES = {1: 0.05, 2: 0.05, 3: 0.05}  # true effect in sigmas -> share


@dataclass
class Session:
    """One session's candidates and noise, fixed so that every rule faces the same draws."""

    effects: np.ndarray  # true improvement of each candidate on its keep ref, in sigmas
    sizes: np.ndarray  # 0 for null or harmful, else the improvement in sigmas
    noise: np.ndarray  # (candidates, max runs) standard normal draws
    baseline_noise: np.ndarray  # two standard normal draws


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

    def count(self, size: int, kept: bool, runs: int) -> None:
        self.runs += runs
        self.candidates += 1
        if size == 0:
            self.wrong_proposed += 1
            self.wrong_kept += kept
        else:
            self.proposed_by_size[size] += 1
            self.kept_by_size[size] += kept


def make_session(rng: np.random.Generator, candidates: int, max_runs: int) -> Session:
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
    noise = rng.standard_normal((candidates, max_runs))
    return Session(effects, sizes, noise, rng.standard_normal(2))


# A rule takes the session and the tally, plays the session, and returns the final true metric.
Rule = Callable[[Session, Tally], float]


def greedy(session: Session, tally: Tally) -> float:
    true_value = BASELINE
    best = true_value + SIGMA * session.baseline_noise[0]
    for effect, size, noise in zip(session.effects, session.sizes, session.noise, strict=True):
        candidate_true = true_value - effect * SIGMA
        value = candidate_true + SIGMA * noise[0]
        plain = verdict.Evidence((value,), (best,), None, "minimize")
        kept = verdict.judge(plain).status == verdict.KEEP  # type: ignore[union-attr]
        if kept:
            true_value, best = candidate_true, value
        tally.count(int(size), kept, 1)
    return true_value


def noise_aware(estimate: bool) -> Rule:
    def play(session: Session, tally: Tally) -> float:
        true_value = BASELINE
        reference = tuple(true_value + SIGMA * session.baseline_noise)
        repeats: list[tuple[float, ...]] = [reference]
        sigma: float | None = SIGMA
        for effect, size, noise in zip(session.effects, session.sizes, session.noise, strict=True):
            if estimate:
                sigma = verdict.cautious_sigma(repeats)
            candidate_true = true_value - effect * SIGMA
            runs: list[float] = []
            decision = None
            while decision is None:
                runs.append(candidate_true + SIGMA * noise[len(runs)])
                evidence = verdict.Evidence(
                    tuple(runs), reference, sigma, "minimize", max_runs=len(noise)
                )
                decision = verdict.judge(evidence)
            kept = decision.status == verdict.KEEP
            if kept:
                true_value, reference = candidate_true, tuple(runs)
            if len(runs) > 1:
                repeats.append(tuple(runs))
            tally.count(int(size), kept, len(runs))
        return true_value

    return play


def measure(rule: Rule, sessions: list[Session]) -> Tally:
    tally = Tally()
    for session in sessions:
        tally.finals.append(rule(session, tally))
    return tally


def row(name: str, tally: Tally) -> str:
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
        name,
        f"{false_keeps:.1%}",
        *(f"{share:.0%}" for share in power),
        f"{real_share:.0%}",
        f"{final:.4f} ({gained:+.1f}σ)",
        f"{tally.runs / tally.candidates:.2f}",
    ]
    return "| " + " | ".join(cells) + " |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 sessions instead of 300")
    parser.add_argument("--sessions", type=int, default=None)
    parser.add_argument("--candidates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    count = args.sessions or (40 if args.quick else 300)
    rng = np.random.default_rng(args.seed)
    max_runs = verdict.DEFAULT_MAX_RUNS
    sessions = [make_session(rng, args.candidates, max_runs) for _ in range(count)]
    started = time.perf_counter()
    rules: dict[str, Rule] = {
        "greedy (plain rule, `--noise off`)": greedy,
        "noise-aware (`judge`), sigma known": noise_aware(estimate=False),
        "noise-aware (`judge`), sigma estimated": noise_aware(estimate=True),
    }
    rows = [row(name, measure(rule, sessions)) for name, rule in rules.items()]
    nulls = 1 - HARMFUL_SHARE - sum(IMPROVEMENT_SHARES.values())
    improvements = ", ".join(
        f"{share:.0%} at {size} sigma" for size, share in IMPROVEMENT_SHARES.items()
    )
    print(
        f"{count} sessions x {args.candidates} candidates, sigma {SIGMA}, baseline {BASELINE}"
        f" (minimize); {nulls:.0%} null, {HARMFUL_SHARE:.0%} harmful (-0.5 to -2 sigma),"
        f" {improvements}; alpha {verdict.ALPHA}, first-run bar {verdict.FIRST_RUN_BAR} sigma,"
        f" max runs {max_runs}, seed {args.seed}\n"
    )
    print(
        "| rule | false keeps | power 1σ | power 2σ | power 3σ | keeps that were real "
        "| final true metric (median) | runs per candidate |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\n{time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
