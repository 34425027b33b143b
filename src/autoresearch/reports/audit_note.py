"""The latest audit of a session, summed up for the report, the dashboard and the final
summary: each shows the audit's verdict in the words of `rules.confirmation`."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from autoresearch.rules import formatting
from autoresearch.rules.confirmation import confirmation, is_confirmed
from autoresearch.store.files import SessionFiles

AUDIT = "Latest audit"
# The key of an audit's one-line verdict, the same words wherever it is shown.
VERDICT = "re-runs"


def latest_audit(files: SessionFiles) -> dict[str, object] | None:
    """The newest audit report, summed up; its file names sort by the time they were written."""
    reports = sorted(Path(files.audits).glob("audit-*.json"))
    if not reports:
        return None
    path = reports[-1]
    shown = os.path.relpath(path, files.repo)
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
    low, high = data.get("low"), data.get("high")
    summary: dict[str, object] = {
        VERDICT: confirmation(confirmed, low, high),
        "baseline": _runs_text(data["baseline_commit"], data.get("baseline_runs") or []),
        "best": _runs_text(data["best_commit"], data.get("best_runs") or []),
        "claimed improvement": formatting.signed_value(claimed),
    }
    if confirmed is not None and claimed and is_confirmed(low, high):
        summary["share of the claim"] = formatting.share(confirmed / claimed)
    if data.get("crashes"):
        summary["crashed runs"] = data["crashes"]
    keeps = data.get("keeps") or []
    if keeps:
        summary["what each keep carried"] = [
            {
                "commit": keep["commit"],
                "description": keep["description"],
                "claimed": formatting.signed_value(keep["claimed_gain"]),
                "re-runs": keep.get("note")
                or confirmation(keep.get("contribution"), keep.get("low"), keep.get("high")),
            }
            for keep in keeps
        ]
    return summary


def audit_line(audit: Mapping[str, object]) -> str:
    """One sentence for a pull request: the audit's verdict and what the ledger claims."""
    if "note" in audit:
        return f"Audit: {audit['file']} is {audit['note']}."
    share = audit.get("share of the claim")
    of_claim = f", {share} of the claim" if share else ""
    return (
        f"Audit ({Path(str(audit['file'])).name}) of {audit['baseline']} against "
        f"{audit['best']}: {audit[VERDICT]}; the ledger claims "
        f"{audit['claimed improvement']}{of_claim}."
    )


def audit_verdict(audit: Mapping[str, object] | None) -> str | None:
    """The audit's verdict as a card shows it: the confirmation's words, or why there is none."""
    if audit is None:
        return None
    return str(audit.get(VERDICT) or f"{audit['file']} is {audit.get('note')}")
