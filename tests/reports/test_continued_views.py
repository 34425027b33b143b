"""A session that continues another after a change of the harness: report and plot show both
as one history, the old session first, a marker where the harness changed, each on its own
scale."""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

from report_support import png_size
from support import EVENT_DEADLINE, Cli

from autoresearch.engine.session import Session
from autoresearch.reports.dashboard import create_dashboard_server
from autoresearch.reports.plot import _draw
from autoresearch.reports.status import session_facts

MARKER = "The protected harness changed here: session t2 began from the fix"


def test_html_report_shows_the_old_session_then_the_marker_then_the_new(
    repo: Path, chained: Cli
) -> None:
    made = chained("report", "-o", "report.html")
    assert made.returncode == 0, made.stderr
    page = (repo / "report.html").read_text()
    assert "This session continues t, after a change of the protected harness" in page
    old = page.index("<h2>Session t, before the harness changed</h2>")
    marker = page.index(MARKER)
    new = page.index("<h2>Full ledger (2 rows)</h2>")
    assert old < page.index("<h2>Ledger of session t (3 rows)</h2>") < marker < new
    # Each session's own experiments sit on their side of the marker.
    assert page.index(">worse<") < marker < page.index(">better under the fixed harness<")
    old_part = page[old:marker]
    assert ">1<" in old_part and ">0.8<" in old_part and ">8<" not in old_part


def test_markdown_report_shows_the_chain_in_order(chained: Cli) -> None:
    text = chained("report", "--format", "md").stdout
    old = text.index("### Session t, before the harness changed")
    assert text.index("**val_bpb** 1 → **0.8** (-20.00%)") > old
    marker = text.index(f"> **{MARKER}")
    new = text.index("### Session t2")
    assert old < marker < new < text.index("**val_bpb** 8 → **6** (-25.00%)")
    assert text.index("- 1 `") < marker  # the old session's kept change, before the change


def test_plot_gives_each_session_its_own_panel_and_scale(repo: Path, chained: Cli) -> None:
    made = chained("plot", "-o", "progress.png")
    assert made.returncode == 0, made.stderr
    assert png_size((repo / "progress.png").read_bytes())[0] > 800
    session = Session.open(str(repo))
    figure = _draw(session.read_ledger(), "minimize", "val_bpb", session_facts(session))
    old, new = figure.axes
    assert old.get_title(loc="left") == "session t"
    assert new.get_title(loc="left") == "session t2 (harness changed before it)"
    assert old.get_ylim()[0] < 0.8 < 1.0 < old.get_ylim()[1] < 2
    assert 5 < new.get_ylim()[0] < 6 < 8 < new.get_ylim()[1]
    assert old.get_position().x1 < new.get_position().x0  # side by side, apart
    assert "continues t, each on its own scale" in figure._suptitle.get_text()
    key = next(text for text in figure.texts if text.get_gid() == "key").get_text()
    assert key.index("Kept in session t, by #") < key.index("Kept in session t2, by #")
    assert "better under the fixed harness" in key


def test_dashboard_names_the_earlier_session_and_plots_both(repo: Path, chained: Cli) -> None:
    session = Session.open(str(repo))
    server = create_dashboard_server(session.files, "minimize", facts=session_facts(session))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(server.url + "api/state", timeout=EVENT_DEADLINE) as answer:
            state = json.loads(answer.read())
        with urllib.request.urlopen(server.url + "plot.png", timeout=EVENT_DEADLINE) as answer:
            plot = answer.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=EVENT_DEADLINE)
    assert state["continues"].startswith("This session continues t, after a change of the")
    assert state["summary"]["baseline"] == 8.0  # the headline is the new session's
    assert png_size(plot)[0] > 800


def test_a_session_that_continues_none_looks_as_before(repo: Path, kept_session: Cli) -> None:
    page_made = kept_session("report", "-o", "report.html")
    assert page_made.returncode == 0
    page = (repo / "report.html").read_text()
    assert "harness changed" not in page and "continues" not in page
    assert "harness" not in kept_session("report", "--format", "md").stdout
    session = Session.open(str(repo))
    assert len(_draw(session.read_ledger(), "minimize", None, session_facts(session)).axes) == 1
    assert "continues" not in kept_session("status").stdout
