"""What a session achieved, from its ledger: the summary, and reports in HTML and Markdown.

Gains are direction-aware and always positive when the metric got better: each kept change is
measured against the best kept result before it (the baseline to begin with), since every
experiment builds on the last kept state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from autoresearch.reports.plot import check_direction
from autoresearch.rules.verdict import change_percent
from autoresearch.store.ledger import Ledger, Row

TOP_HITS = 10


@dataclass(frozen=True)
class KeptChange:
    """A kept experiment after the baseline; ``number`` is its position in the ledger."""

    number: int
    row: Row
    previous_best: float
    gain: float

    @property
    def gain_pct(self) -> float | None:
        return None if self.previous_best == 0 else self.gain / abs(self.previous_best) * 100


@dataclass
class Summary:
    metric: str
    direction: str
    baseline: float | None = None
    best: float | None = None
    best_commit: str = ""
    best_description: str = ""
    experiments: int = 0
    keeps: int = 0
    discards: int = 0
    crashes: int = 0
    wall_seconds: float | None = None
    cost_usd: float | None = None
    kept_changes: list[KeptChange] = field(default_factory=list)

    @property
    def change_pct(self) -> float | None:
        """The signed change from baseline to best, in percent of the baseline."""
        if self.baseline is None or self.best is None:
            return None
        return change_percent(self.best, self.baseline)

    @property
    def keep_rate(self) -> float | None:
        """Kept changes among the decided experiments after the baseline (crashes excluded)."""
        decided = len(self.kept_changes) + self.discards
        return len(self.kept_changes) / decided if decided else None

    @property
    def experiments_per_hour(self) -> float | None:
        if not self.wall_seconds:
            return None
        return self.experiments / (self.wall_seconds / 3600)

    @property
    def top_hits(self) -> list[KeptChange]:
        """Kept changes that improved the best, biggest gain first."""
        improving = [change for change in self.kept_changes if change.gain > 0]
        return sorted(improving, key=lambda change: change.gain, reverse=True)

    @property
    def decimals(self) -> int:
        """Six decimals as Karpathy's ledger writes them, fewer for large metrics, more for tiny."""
        scale = abs(self.baseline or self.best or 0.0)
        if scale == 0:
            return 6
        integer_digits = math.floor(math.log10(scale)) + 1
        if integer_digits >= 1:
            return max(0, 7 - integer_digits)
        return min(9, 6 - integer_digits)

    def value_text(self, value: float | None) -> str:
        return "n/a" if value is None else f"{value:.{self.decimals}f}"

    def gain_text(self, gain: float) -> str:
        return f"{gain:+.{self.decimals}f}"

    def headline(self) -> list[tuple[str, str]]:
        """Label and formatted value of each headline number that is known."""
        metric = self.metric
        lines = [
            (f"baseline {metric}", self.value_text(self.baseline)),
            (f"best {metric}", self.value_text(self.best)),
        ]
        if self.change_pct is not None:
            lines.append(("change", format_pct(self.change_pct)))
        lines += [
            ("experiments", str(self.experiments)),
            ("kept", str(self.keeps)),
            ("discarded", str(self.discards)),
            ("crashed", str(self.crashes)),
        ]
        if self.keep_rate is not None:
            lines.append(("keep rate", f"{self.keep_rate:.1%}"))
        if self.wall_seconds:
            lines.append(("wall time", format_duration(self.wall_seconds)))
        if self.experiments_per_hour is not None:
            lines.append(("experiments per hour", f"{self.experiments_per_hour:.1f}"))
        if self.cost_usd is not None:
            lines.append(("total cost", f"${self.cost_usd:,.2f}"))
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


def summarize(ledger: Ledger, direction: str) -> Summary:
    check_direction(direction)
    sign = 1.0 if direction == "minimize" else -1.0
    summary = Summary(metric=ledger.metric, direction=direction)
    seconds_total = cost_total = 0.0
    cost_known = False  # the column is always there; only agents that report fill it
    has_seconds = "seconds" in ledger.run_columns
    has_cost = "cost_usd" in ledger.run_columns
    best_score: float | None = None
    for number, row in enumerate(ledger.rows):
        summary.experiments += 1
        if has_seconds:
            seconds_total += ledger.run_number(row, "seconds") or 0.0
        cost = ledger.run_number(row, "cost_usd") if has_cost else None
        if cost is not None:
            cost_total += cost
            cost_known = True
        if row.status == "crash":
            summary.crashes += 1
            continue
        if summary.baseline is None:
            # The first finished row is the baseline whatever its status says.
            summary.baseline = row.value
            best_score = sign * row.value
            summary.best, summary.best_commit = row.value, row.commit
            summary.best_description = row.description
            summary.keeps += row.status == "keep"
            summary.discards += row.status == "discard"
            continue
        if row.status == "discard":
            summary.discards += 1
            continue
        summary.keeps += 1
        score = sign * row.value
        assert best_score is not None
        summary.kept_changes.append(
            KeptChange(
                number=number, row=row, previous_best=sign * best_score, gain=best_score - score
            )
        )
        if score < best_score:
            best_score = score
            summary.best, summary.best_commit = row.value, row.commit
            summary.best_description = row.description
    summary.wall_seconds = seconds_total if has_seconds else None
    summary.cost_usd = cost_total if cost_known else None
    return summary


def format_value(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def format_pct(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:+.0f}%" if abs(value) >= 100 else f"{value:+.3g}%"


def format_duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


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
