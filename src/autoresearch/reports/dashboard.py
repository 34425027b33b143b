"""A local, read-only web dashboard of a running session.

``/`` is a page that polls ``/api/state`` every two seconds; ``/plot.png`` is the progress
picture, rendered on demand and cached until the ledger changes. The server only reads: the
ledger (up to its last complete line, since the loop may be appending to it at that moment),
``inflight.json`` in the state folder, and the end of the running experiment's log.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from autoresearch.engine.inflight import worker_states
from autoresearch.errors import UserError
from autoresearch.reports.audit_note import audit_verdict, latest_audit
from autoresearch.reports.dashboard_files import (
    read_complete_ledger,
    read_inflight,
    short_commit,
)
from autoresearch.reports.dashboard_page import PAGE
from autoresearch.reports.plot import plot_png
from autoresearch.reports.summary import (
    SessionFacts,
    Summary,
    check_direction,
    continues_note,
    shown_cells,
    summarize,
)
from autoresearch.store import git
from autoresearch.store.files import SessionFiles
from autoresearch.store.ledger import Ledger

DEFAULT_ROW_LIMIT = 1000
PROBLEMS_SHOWN = 20

LedgerKey = tuple[int, int]


class _Snapshot(NamedTuple):
    key: LedgerKey | None = None
    ledger: Ledger | None = None
    summary: Summary | None = None
    error: str | None = None


class Dashboard:
    """What the server shows, with the parsed ledger and the plot cached by file size and mtime.

    Of ``facts.clock`` (the session's, see `session_clock`), the start and the imported rows
    are used, so that the session's pace reads as `status` and `report` show it; the last write
    is read from the ledger. Without a clock the summed run seconds are used. The sessions it
    continues (``facts.earlier``) are in the plot, a panel each, and named above the numbers.
    """

    def __init__(
        self, files: SessionFiles, direction: str, facts: SessionFacts | None = None
    ) -> None:
        self.files = files
        self.repo = Path(files.repo)
        self.workers_path = files.workers_json  # a parallel loop's workers, busy or idle
        self.ledger_path = Path(files.ledger)
        self.state_dir = Path(files.dir)
        self.direction = direction
        self.facts = facts or SessionFacts()
        self._snapshot = _Snapshot()
        self._plot: tuple[LedgerKey | None, bytes | None] = (None, None)
        self._lock = threading.Lock()
        self._plot_lock = threading.Lock()

    def snapshot(self) -> _Snapshot:
        try:
            stat = self.ledger_path.stat()
        except OSError:
            return _Snapshot(error=f"no ledger yet at {self.ledger_path}")
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._snapshot.key == key:
                return self._snapshot
            clock = None
            if self.facts.clock is not None:
                clock = self.facts.clock._replace(last_write=stat.st_mtime)
            try:
                ledger = read_complete_ledger(self.ledger_path)
                snapshot = _Snapshot(key, ledger, summarize(ledger, self.direction, clock))
            except (OSError, ValueError) as error:
                # Most likely the header itself is still being written: show it, retry later.
                snapshot = _Snapshot(key=None, error=f"ledger not readable yet: {error}")
            self._snapshot = snapshot
            return snapshot

    def state(self, row_limit: int | None = DEFAULT_ROW_LIMIT) -> dict[str, Any]:
        now = time.time()
        snapshot = self.snapshot()
        state: dict[str, Any] = {
            "now": now,
            "direction": self.direction,
            "ledger_path": str(self.ledger_path),
            "ledger_key": "-".join(map(str, snapshot.key)) if snapshot.key else None,
            "error": snapshot.error,
            "metric": None,
            "columns": [],
            "rows": [],
            "rows_total": 0,
            "first_row": 0,
            "problems": [],
            "summary": None,
            "inflight": read_inflight(self.files, now),
            "workers": [short_commit(worker) for worker in worker_states(self.workers_path)],
            "audit": self.audit(),
            "continues": continues_note(self.facts) or None,
        }
        ledger, summary = snapshot.ledger, snapshot.summary
        if ledger is None or summary is None:
            return state
        total = len(ledger.rows)
        first = 0 if row_limit is None else max(0, total - row_limit)
        state.update(
            metric=ledger.metric,
            columns=ledger.columns,
            rows=[
                [cells.get(column, "") for column in ledger.columns]
                for cells in (shown_cells(ledger, row) for row in ledger.rows[first:])
            ],
            rows_total=total,
            first_row=first,
            problems=ledger.problems[-PROBLEMS_SHOWN:],
            summary=summary.as_dict(),
        )
        return state

    def audit(self) -> str | None:
        """The latest audit's verdict, saying so when it re-ran a best that is no longer the
        keep ref (git is asked only when there is an audit)."""
        if latest_audit(self.files) is None:
            return None
        keep = git.resolve(self.files.repo, f"refs/autoresearch/{self.files.tag}/keep")
        return audit_verdict(latest_audit(self.files, keep))

    def plot(self) -> bytes | None:
        snapshot = self.snapshot()
        if snapshot.ledger is None:
            return None
        with self._plot_lock:
            key, png = self._plot
            if key != snapshot.key or png is None:
                png = plot_png(snapshot.ledger, self.direction, facts=self.facts)
                self._plot = (snapshot.key, png)
            return png

    def warm_up(self) -> None:
        # Whatever fails here fails again, and is reported, when the page asks for the plot.
        with contextlib.suppress(Exception):
            self.plot()


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], dashboard: Dashboard) -> None:
        if ":" in address[0]:
            import socket

            self.address_family = socket.AF_INET6
        self.dashboard = dashboard
        super().__init__(address, _Handler)

    def serves(self, host_header: str | None) -> bool:
        """Whether a request's ``Host`` names this server: its own address or, on loopback,
        ``localhost``, with its port."""
        if not host_header:
            return False
        host, port = self.server_address[:2]
        host = str(host)
        names = {host, f"[{host}]"}
        if host in ("127.0.0.1", "::1", "localhost"):
            names |= {"localhost", "127.0.0.1", "[::1]"}
        if host in ("0.0.0.0", "::"):  # bound everywhere by the user's choice: any address
            return True
        return host_header.lower() in {f"{name}:{port}" for name in names}

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = str(host)
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: DashboardServer
    server_version = "autoresearch-dashboard"

    def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches to)
        url = urlsplit(self.path)
        dashboard = self.server.dashboard
        if not self.server.serves(self.headers.get("Host")):
            # DNS rebinding: a page elsewhere that names this address under its own host name
            # must not read the session.
            self._send(HTTPStatus.MISDIRECTED_REQUEST, "text/plain; charset=utf-8", b"wrong host\n")
            return
        try:
            if url.path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", PAGE.encode("utf-8"))
            elif url.path == "/api/state":
                self._send_json(dashboard.state(_row_limit(url.query)))
            elif url.path == "/plot.png":
                self._send_plot(dashboard)
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser went away mid-answer
        except Exception as error:  # a bad moment must not take the dashboard down
            self._send_json({"error": f"{type(error).__name__}: {error}"})

    def _send_plot(self, dashboard: Dashboard) -> None:
        try:
            png = dashboard.plot()
        except UserError as error:
            message = f"{error}\n".encode()
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, "text/plain; charset=utf-8", message)
            return
        if png is None:
            self._send(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"no ledger yet\n")
        else:
            self._send(HTTPStatus.OK, "image/png", png)

    def _send_json(self, data: object) -> None:
        body = json.dumps(data, allow_nan=False, default=str).encode("utf-8")
        self._send(HTTPStatus.OK, "application/json", body)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # Framed by no page, running no script or style from elsewhere, never sniffed.
        self.send_header("Content-Security-Policy", _POLICY)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # one line per poll would drown the terminal the loop reports to


_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'"
)


def _row_limit(query: str) -> int | None:
    """``?rows=all`` for the whole ledger, ``?rows=N`` for the last N rows."""
    value = parse_qs(query).get("rows", [""])[-1]
    if value == "all":
        return None
    return int(value) if value.isdigit() else DEFAULT_ROW_LIMIT


def create_dashboard_server(
    files: SessionFiles,
    direction: str,
    host: str = "127.0.0.1",
    port: int = 0,
    facts: SessionFacts | None = None,
) -> DashboardServer:
    """A bound, not yet serving, dashboard server of the session whose files are ``files``
    (port 0 picks a free port)."""
    check_direction(direction)
    dashboard = Dashboard(files, direction, facts)
    try:
        return DashboardServer((host, port), dashboard)
    except OSError as error:
        raise UserError(f"cannot serve the dashboard on {host}:{port}: {error.strerror}") from error


def serve_dashboard(
    files: SessionFiles,
    direction: str,
    host: str = "127.0.0.1",
    port: int = 0,
    ready: Callable[[str], None] | None = None,
    facts: SessionFacts | None = None,
) -> None:
    """Serve until interrupted; ``ready`` receives the URL once the port is bound."""
    server = create_dashboard_server(files, direction, host, port, facts)
    # The first plot pays for importing matplotlib; pay it before the first visitor asks.
    threading.Thread(target=server.dashboard.warm_up, daemon=True).start()
    try:
        if ready is not None:
            ready(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
