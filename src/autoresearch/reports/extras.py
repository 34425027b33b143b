"""What a report adds when it comes from a session rather than a bare ledger: the noise
estimate, the latest audit and the holdout trend, as plain data for the HTML and Markdown
reports and the final summary."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autoresearch.engine.session import Session
from autoresearch.reports import terminal as output
from autoresearch.reports.status import holdout_trend, noise_status
from autoresearch.rules import formatting
from autoresearch.store.ledger import Ledger

NOISE = "Noise estimate"
AUDIT = "Latest audit"
HOLDOUT = "Holdout trend"


def report_extras(session: Session, ledger: Ledger) -> dict[str, object]:
    noise = noise_status(session)
    extras: dict[str, object] = {
        NOISE: {
            "estimate": output.noise_line(noise),
            "sigma": noise["sigma"],
            "repeated runs": noise["repeated_runs"],
        }
    }
    audit = latest_audit(session)
    if audit is not None:
        extras[AUDIT] = audit
    holdout = holdout_trend(ledger, session.settings.holdout_column, session.keep_ref())
    if holdout is not None:
        extras[HOLDOUT] = holdout
    return extras


def latest_audit(session: Session) -> dict[str, object] | None:
    """The newest audit report, summed up; its file names sort by the time they were written."""
    reports = sorted(Path(session.files.audits).glob("audit-*.json"))
    if not reports:
        return None
    path = reports[-1]
    shown = str(path.relative_to(session.repo))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {"file": shown, **_audit_summary(data)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        return {"file": shown, "note": f"unreadable ({error})"}


def _runs_text(commit: str, runs: Sequence[float]) -> str:
    mean = formatting.value(statistics.fmean(runs) if runs else None)
    return f"{commit[:7]}: {len(runs)} runs, mean {mean}"


def _audit_summary(data: Mapping[str, Any]) -> dict[str, object]:
    claimed, confirmed = data["claimed"], data.get("confirmed")
    part = confirmed / claimed if confirmed is not None and claimed else None
    summary: dict[str, object] = {
        "baseline": _runs_text(data["baseline_commit"], data.get("baseline_runs") or []),
        "best": _runs_text(data["best_commit"], data.get("best_runs") or []),
        "claimed improvement": claimed,
        "confirmed improvement": confirmed,
        "95% interval": formatting.interval(data.get("low"), data.get("high")),
        "share of the claim": formatting.share(part),
    }
    if data.get("crashes"):
        summary["crashed runs"] = data["crashes"]
    keeps = data.get("keeps") or []
    if keeps:
        summary["what each keep carried"] = [
            {
                "commit": keep["commit"],
                "description": keep["description"],
                "claimed": keep["claimed_gain"],
                "confirmed": keep.get("contribution"),
                "95% interval": formatting.interval(keep.get("low"), keep.get("high")),
                "note": keep.get("note") or "",
            }
            for keep in keeps
        ]
    return summary


def audit_line(audit: Mapping[str, object]) -> str:
    """One sentence for a pull request: how much of the claimed gain the re-runs confirmed."""
    if "note" in audit:
        return f"Audit: {audit['file']} is {audit['note']}."
    claimed, confirmed = audit["claimed improvement"], audit["confirmed improvement"]
    return (
        f"Audit ({Path(str(audit['file'])).name}): re-runs confirm an improvement of "
        f"{formatting.value(confirmed)} (95% interval {audit['95% interval']}) of the "
        f"{formatting.value(claimed)} the ledger claims ({audit['share of the claim']})."
    )


def _markdown_value(value: object) -> str:
    if isinstance(value, float):
        return formatting.value(value)
    if isinstance(value, Sequence) and not isinstance(value, str):
        return ", ".join(_markdown_value(item) for item in value)
    return "n/a" if value is None else str(value)


def extras_markdown(extras: Mapping[str, object]) -> str:
    """The extras as Markdown sections: one bullet per field, records as nested bullets."""
    lines: list[str] = []
    for name, section in extras.items():
        lines += [f"### {name}", ""]
        fields = section if isinstance(section, Mapping) else {"": section}
        for key, value in fields.items():
            label = f"{key}: " if key else ""
            if isinstance(value, list) and value and isinstance(value[0], Mapping):
                lines.append(f"- {label}".rstrip())
                lines += [
                    "  - " + "; ".join(f"{k}: {_markdown_value(v)}" for k, v in record.items())
                    for record in value
                ]
            else:
                lines.append(f"- {label}{_markdown_value(value)}")
        lines.append("")
    return "\n".join(lines)
