"""Score `tour.plan` on fixed sets of cities: the total length of the round trips it plans.

This file is protected: the cities, the check that every tour visits each city exactly once,
and the length computed here stay as they are. The score is deterministic: the same code gives
the same number on every run.
"""

from __future__ import annotations

import math
import random
import sys
import time

import tour

MAPS = 4
CITIES = 120


def make_cities(seed: int) -> list[tuple[float, float]]:
    """Cities in a few clusters on a 100 x 100 map, as towns are."""
    rng = random.Random(seed)
    centres = [(rng.uniform(10, 90), rng.uniform(10, 90)) for _ in range(6)]
    cities = []
    for _ in range(CITIES):
        x, y = rng.choice(centres)
        cities.append((x + rng.gauss(0, 8), y + rng.gauss(0, 8)))
    return cities


def tour_length(cities: list[tuple[float, float]], order: list[int]) -> float:
    return sum(
        math.dist(cities[order[i]], cities[order[(i + 1) % len(order)]]) for i in range(len(order))
    )


def main() -> int:
    start = time.perf_counter()
    total = 0.0
    for seed in range(MAPS):
        cities = make_cities(seed)
        order = list(tour.plan(list(cities)))
        if sorted(order) != list(range(len(cities))):
            print(f"map {seed}: the tour does not visit every city exactly once", file=sys.stderr)
            return 1
        total += tour_length(cities, order)
    print(f"tour_length: {total:.4f}")
    print(f"plan_seconds: {time.perf_counter() - start:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
