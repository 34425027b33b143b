"""Plan a round trip through every city: the shorter the tour, the better.

`plan` gets the cities as (x, y) points and returns the order to visit them in, each city once.
It starts with the nearest-neighbour tour and improves it with a few rounds of 2-opt (reversing a
stretch of the tour when that makes it shorter). Everything here may change.
"""

from __future__ import annotations

import math

START = 0  # the city the nearest-neighbour tour starts from
TWO_OPT_ROUNDS = 1  # passes of 2-opt over every pair of edges


def distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return math.hypot(a[0] - b[0], a[1] - b[1])


def nearest_neighbour(cities: list[tuple[float, float]], start: int) -> list[int]:
    left = set(range(len(cities))) - {start}
    tour = [start]
    while left:
        here = cities[tour[-1]]
        nearest = min(left, key=lambda city: (distance(here, cities[city]), city))
        tour.append(nearest)
        left.remove(nearest)
    return tour


def two_opt(cities: list[tuple[float, float]], tour: list[int], rounds: int) -> list[int]:
    count = len(tour)
    for _ in range(rounds):
        improved = False
        for i in range(count - 1):
            for j in range(i + 2, count if i else count - 1):
                a, b = cities[tour[i]], cities[tour[i + 1]]
                c, d = cities[tour[j]], cities[tour[(j + 1) % count]]
                if distance(a, c) + distance(b, d) < distance(a, b) + distance(c, d) - 1e-12:
                    tour[i + 1 : j + 1] = reversed(tour[i + 1 : j + 1])
                    improved = True
        if not improved:
            break
    return tour


def plan(cities: list[tuple[float, float]]) -> list[int]:
    tour = nearest_neighbour(cities, START % len(cities))
    return two_opt(cities, tour, TWO_OPT_ROUNDS)
