"""One summary of a ledger: the facts `status`, `report`, `dashboard` and the plot's title show.

Every figure is defined here once, so that they agree for the same ledger:

- **experiments**: every row of the ledger, the baseline and crashes included.
- **baseline**: the first measured row (a crashed first attempt is counted as a crash).
- **kept changes**: rows kept after the baseline; the baseline itself is not a change.
- **discards**, **crashes**: rows with that status (a crash before the baseline included).
- **keep rate**: kept changes / experiments after the baseline, crashes included.
- **best**: the best kept result, the baseline included; **change**: best against baseline, in
  percent of the baseline, signed as the metric moved.
- **wall time** and **experiments per hour**: by the session's clock when a session is known
  (its start to the ledger's last write; rows imported from another ledger are not counted),
  else by the ``seconds`` column summed over the rows, which leaves out the time between runs.
  A rate is given only from 3 experiments and 10 minutes on: before that it is one run's
  duration turned upside down ("1078.9/hour" after one run of 3 seconds).
- a **crash** has no value: its metric cells hold the ledger's ``0`` placeholder, shown as
  ``—``, with its reason where the ledger has one (a ``reason`` cell).
- **gain** of a kept change: against the best kept result before it (the baseline to begin
  with), since every experiment builds on the last kept state; positive when the metric got
  better, whichever the direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from autoresearch.errors import UserError
from autoresearch.rules import formatting
from autoresearch.rules.formatting import NO_VALUE
from autoresearch.rules.verdict import DIRECTIONS, change_percent
from autoresearch.store.ledger import Ledger, Row

TOP_HITS = 10
# From when a rate per hour means something: not one run's duration turned upside down.
RATE_FROM_EXPERIMENTS = 3
RATE_FROM_SECONDS = 600.0
REASON_COLUMN = "reason"
# Where the wall time comes from, as the headline names it.
SESSION_CLOCK = "wall time"
SUMMED_SECONDS = "run time (summed)"


def check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise UserError(f"direction must be 'minimize' or 'maximize', not {direction!r}")


class Clock(NamedTuple):
    """When a session ran: from its start to its ledger's last write."""

    started: float
    last_write: float
    imported_rows: int = 0


class KeptChange(NamedTuple):
    """A kept experiment after the baseline; ``number`` is its position in the ledger."""

    number: int
    row: Row
    previous_best: float
    gain: float

    @property
    def gain_pct(self) -> float | None:
        return None if self.previous_best == 0 else self.gain / abs(self.previous_best) * 100


class Summary(NamedTuple):
    metric: str
    direction: str
    baseline: float | None
    best: float | None
    best_commit: str
    best_description: str
    experiments: int
    after_baseline: int
    kept_changes: list[KeptChange]
    discards: int
    crashes: int
    wall_seconds: float | None
    wall_label: str
    experiments_per_hour: float | None
    cost_usd: float | None

    @property
    def keeps(self) -> int:
        """Kept changes, the baseline not counted."""
        return len(self.kept_changes)

    @property
    def change_pct(self) -> float | None:
        """The signed change from baseline to best, in percent of the baseline."""
        if self.baseline is None or self.best is None:
            return None
        return change_percent(self.best, self.baseline)

    @property
    def keep_rate(self) -> float | None:
        return self.keeps / self.after_baseline if self.after_baseline else None

    @property
    def top_hits(self) -> list[KeptChange]:
        """Kept changes that improved the best, biggest gain first."""
        improving = [change for change in self.kept_changes if change.gain > 0]
        return sorted(improving, key=lambda change: change.gain, reverse=True)

    def value_text(self, value: float | None) -> str:
        return formatting.value(value)

    def gain_text(self, gain: float) -> str:
        return formatting.signed_value(gain)

    def counts_text(self) -> str:
        return formatting.counts(
            self.experiments, self.baseline is not None, self.keeps, self.discards, self.crashes
        )

    def headline(self) -> list[tuple[str, str]]:
        """Label and formatted value of each headline number that is known."""
        metric = self.metric
        lines = [
            (f"baseline {metric}", formatting.value(self.baseline)),
            (f"best {metric}", formatting.value(self.best)),
        ]
        if self.change_pct is not None:
            lines.append(("change", formatting.percent(self.change_pct)))
        lines += [
            ("experiments", str(self.experiments)),
            ("kept changes", str(self.keeps)),
            ("discarded", str(self.discards)),
            ("crashed", str(self.crashes)),
        ]
        if self.keep_rate is not None:
            lines.append(("keep rate", formatting.share(self.keep_rate)))
        if self.wall_seconds:
            lines.append((self.wall_label, formatting.duration(self.wall_seconds)))
        if self.experiments_per_hour is not None:
            lines.append(("experiments per hour", formatting.rate(self.experiments_per_hour)))
        if self.cost_usd is not None:
            lines.append(("total cost", formatting.money(self.cost_usd)))
        return lines

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON."""
        return {
            "metric": self.metric,
            "direction": self.direction,
            "baseline": self.baseline,
            "best": self.best,
            "best_commit": self.best_commit,
            "best_description": self.best_description,
            "change_pct": self.change_pct,
            "experiments": self.experiments,
            "keeps": self.keeps,
            "discards": self.discards,
            "crashes": self.crashes,
            "keep_rate": self.keep_rate,
            "wall_seconds": self.wall_seconds,
            "experiments_per_hour": self.experiments_per_hour,
            "cost_usd": self.cost_usd,
            "headline": [list(line) for line in self.headline()],
            "kept_changes": [
                {
                    "number": change.number,
                    "commit": change.row.commit,
                    "value": change.row.value,
                    "gain": change.gain,
                    "gain_pct": change.gain_pct,
                    "description": change.row.description,
                }
                for change in self.kept_changes
            ],
        }


class Chapter(NamedTuple):
    """A session that a later one continues: the protected harness changed after it, so its
    numbers are its own, never compared with the next session's."""

    tag: str
    ledger: Ledger
    direction: str


class SessionFacts(NamedTuple):
    """What a session knows beyond its ledger: its tag, its clock, the sessions it continues
    (oldest first)."""

    tag: str | None = None
    clock: Clock | None = None
    earlier: tuple[Chapter, ...] = ()

    def handovers(self) -> list[tuple[Chapter, str | None]]:
        """Each earlier session with the tag of the session that continued it."""
        following = [chapter.tag for chapter in self.earlier[1:]]
        return list(zip(self.earlier, [*following, self.tag][: len(self.earlier)], strict=True))


def harness_changed(tag: str | None) -> str:
    """The marker every view puts where a session continues an earlier one."""
    who = f"session {tag}" if tag else "the next session"
    return (
        f"The protected harness changed here: {who} began from the fix and measured its "
        "baseline again. Its numbers are not comparable with those before."
    )


def continues_note(facts: SessionFacts) -> str:
    """What a view says first of a session that continues others; empty when it does not."""
    if not facts.earlier:
        return ""
    chain = " → ".join(chapter.tag for chapter in facts.earlier)
    return (
        f"This session continues {chain}, after a change of the protected harness: each "
        "session is shown in its own numbers, which are not comparable across the change. "
        "The headline is this session's."
    )


def summarize(ledger: Ledger, direction: str, clock: Clock | None = None) -> Summary:
    check_direction(direction)
    sign = 1.0 if direction == "minimize" else -1.0
    rows = ledger.rows
    crashes = sum(row.status == "crash" for row in rows)
    first = next((i for i, row in enumerate(rows) if row.status != "crash"), None)
    kept_changes: list[KeptChange] = []
    discards = 0
    best_row: Row | None = None
    if first is not None:
        best_row = rows[first]
        discards += best_row.status == "discard"
        best_score = sign * best_row.value
        for number in range(first + 1, len(rows)):
            row = rows[number]
            if row.status == "discard":
                discards += 1
            if row.status != "keep":
                continue
            score = sign * row.value
            kept_changes.append(KeptChange(number, row, sign * best_score, best_score - score))
            if score < best_score:
                best_score, best_row = score, row
    wall_seconds, wall_label, per_hour = _pace(ledger, clock)
    has_cost = "cost_usd" in ledger.run_columns
    costs = [ledger.run_number(row, "cost_usd") for row in rows] if has_cost else []
    known_costs = [cost for cost in costs if cost is not None]
    return Summary(
        metric=ledger.metric,
        direction=direction,
        baseline=None if first is None else rows[first].value,
        best=None if best_row is None else best_row.value,
        best_commit="" if best_row is None else best_row.commit,
        best_description="" if best_row is None else best_row.description,
        experiments=len(rows),
        after_baseline=0 if first is None else len(rows) - first - 1,
        kept_changes=kept_changes,
        discards=discards,
        crashes=crashes,
        wall_seconds=wall_seconds,
        wall_label=wall_label,
        experiments_per_hour=per_hour,
        # The column is always there; only agents that report their cost fill it.
        cost_usd=sum(known_costs) if known_costs else None,
    )


def _pace(ledger: Ledger, clock: Clock | None) -> tuple[float | None, str, float | None]:
    """Wall time, where it comes from, and experiments per hour (None until it means
    something)."""
    if clock is not None:
        seconds = max(clock.last_write - clock.started, 0.0)
        counted = max(len(ledger.rows) - clock.imported_rows, 0)
        return seconds, SESSION_CLOCK, _per_hour(counted, seconds)
    if "seconds" not in ledger.run_columns:
        return None, SUMMED_SECONDS, None
    seconds = sum(ledger.run_number(row, "seconds") or 0.0 for row in ledger.rows)
    return seconds, SUMMED_SECONDS, _per_hour(len(ledger.rows), seconds)


def _per_hour(experiments: int, seconds: float) -> float | None:
    if experiments < RATE_FROM_EXPERIMENTS or seconds < RATE_FROM_SECONDS:
        return None
    return experiments / (seconds / 3600)


def metric_columns(ledger: Ledger) -> list[str]:
    """The columns that hold a metric: the primary one, then the secondary ones."""
    return [ledger.metric, *ledger.secondary]


def crash_reason(row: Row) -> str:
    """Why a crash crashed, where the ledger says (its ``reason`` cell); else empty."""
    return row.values.get(REASON_COLUMN, "").strip() if row.status == "crash" else ""


def shown_cells(ledger: Ledger, row: Row) -> dict[str, str]:
    """A row's cells as every view of the ledger shows them: metrics as people read them, a
    crash's metrics as ``—`` (it measured nothing, the ``0`` is a placeholder), the rest as
    written."""
    cells = dict(row.values)
    for column in metric_columns(ledger):
        if row.status == "crash":
            cells[column] = NO_VALUE
        else:
            number = row.number(column)
            cells[column] = formatting.value(number) if number is not None else cells[column]
    return cells


def diff_for(diffs: Mapping[str, str], commit: str) -> str | None:
    """The caller's diff for a commit, matching full hashes against short ones either way."""
    if commit in diffs:
        return diffs[commit]
    if len(commit) < 4:
        return None
    for key, text in diffs.items():
        if len(key) >= 4 and (key.startswith(commit) or commit.startswith(key)):
            return text
    return None
