"""What a report adds when it comes from a session rather than a bare ledger: the noise
estimate, the latest audit and the holdout trend, as plain data for the HTML and Markdown
reports and the final summary."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autoresearch.engine.session import Session
from autoresearch.reports import terminal as output
from autoresearch.reports.audit_note import AUDIT, latest_audit
from autoresearch.reports.status import holdout_trend, noise_status
from autoresearch.rules import formatting
from autoresearch.store.ledger import Ledger

NOISE = "Noise estimate"
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
    audit = latest_audit(session.files, session.keep_ref())
    if audit is not None:
        extras[AUDIT] = audit
    holdout = holdout_trend(ledger, session.settings.holdout_column, session.keep_ref())
    if holdout is not None:
        extras[HOLDOUT] = holdout
    return extras


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
