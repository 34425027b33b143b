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
from autoresearch.rules.confirmation import (
    confirmation,
    is_confirmed,
    joined,
    measured_words,
    verdict_words,
)
from autoresearch.store.files import SessionFiles

AUDIT = "Latest audit"
# The keys of an audit's verdict and of what its re-runs measured, the same words wherever
# they are shown.
VERDICT = "verdict"
MEASURED = "re-runs"
# Present when the audit re-ran a best that is no longer the keep ref: its verdict is not the
# current best's.
EARLIER = "of an earlier best"


def _latest_report(files: SessionFiles) -> Path | None:
    """The newest audit report; its file names sort by the time they were written."""
    reports = sorted(Path(files.audits).glob("audit-*.json"))
    return reports[-1] if reports else None


def latest_audit(files: SessionFiles, keep: str | None = None) -> dict[str, object] | None:
    """The newest audit report, summed up; with ``keep``, it says so when it re-ran another."""
    path = _latest_report(files)
    if path is None:
        return None
    shown = os.path.relpath(path, files.repo)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        fields = list(_audit_summary(data).items())
        audited = str(data["best_commit"])
        if keep is not None and audited != keep:  # said right after the verdict it qualifies
            fields.insert(1, (EARLIER, f"{audited[:7]} (the keep ref is now {keep[:7]})"))
        return {"file": shown, **dict(fields)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as error:
        return {"file": shown, "note": f"unreadable ({error})"}


def _audit_of(files: SessionFiles, keep: str) -> Mapping[str, Any] | None:
    """The newest audit's data when it re-ran ``keep``; None when there is no such audit
    (none yet, one of an earlier best, or one that cannot be read)."""
    path = _latest_report(files)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and data.get("best_commit") == keep else None
    except (OSError, ValueError):
        return None


def headline_verdict(files: SessionFiles, keep: str) -> str | None:
    """The verdict of the newest audit when it re-ran ``keep``, for a headline to carry beside
    the ledger's change."""
    data = _audit_of(files, keep)
    return None if data is None else verdict_words(data.get("low"), data.get("high"))


def keep_audit(files: SessionFiles, keep: str) -> str | None:
    """The newest audit's sentence when it re-ran ``keep``, as `status` shows it."""
    data = _audit_of(files, keep)
    if data is None:
        return None
    return confirmation(data.get("confirmed"), data.get("low"), data.get("high"))


def _runs_text(commit: str, runs: Sequence[float]) -> str:
    mean = formatting.value(statistics.fmean(runs) if runs else None)
    return f"{commit[:7]}: {len(runs)} runs, mean {mean}"


def _audit_summary(data: Mapping[str, Any]) -> dict[str, object]:
    claimed, confirmed = data["claimed"], data.get("confirmed")
    low, high = data.get("low"), data.get("high")
    summary: dict[str, object] = {VERDICT: verdict_words(low, high)}
    measured = measured_words(confirmed, low, high)
    if measured:
        summary[MEASURED] = measured
    summary |= {
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
        f"{audit['best']}: {audit_verdict(audit)}; the ledger claims "
        f"{audit['claimed improvement']}{of_claim}."
    )


def audit_verdict(audit: Mapping[str, object] | None) -> str | None:
    """The audit's verdict as a card shows it: the confirmation's words, or why there is none."""
    if audit is None:
        return None
    if VERDICT not in audit:
        return f"{audit['file']} is {audit.get('note')}"
    sentence = joined(str(audit[VERDICT]), str(audit.get(MEASURED, "")))
    return f"{EARLIER} {audit[EARLIER]}: {sentence}" if EARLIER in audit else sentence


def card_verdict(extras: Mapping[str, object]) -> str | None:
    """The audit's verdict for a report's cards, from the report's extras."""
    audit = extras.get(AUDIT)
    return audit_verdict(audit) if isinstance(audit, Mapping) else None
