from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from report_support import OURS_COLUMNS, OURS_ROWS, png_size, write_rows
from support import EVENT_DEADLINE

from autoresearch.reports.dashboard import create_dashboard_server, serve_dashboard
from autoresearch.reports.dashboard_files import LOG_TAIL_MAX_BYTES, tail_lines
from autoresearch.store.files import SessionFiles
from autoresearch.store.ledger import append_row

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Site:
    url: str
    repo: Path
    ledger: Path
    state: Path


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=EVENT_DEADLINE) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def state(site: Site, query: str = "") -> dict:
    status, kind, body = get(site.url + "api/state" + query)
    assert status == 200 and kind == "application/json"
    return json.loads(body)


def files_in(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(path.relative_to(folder)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    repo = tmp_path / "project"
    files = SessionFiles(str(repo), "t")
    state_dir = Path(files.dir)
    state_dir.mkdir(parents=True)
    ledger = write_rows(Path(files.ledger), OURS_COLUMNS, OURS_ROWS[:3])
    before = files_in(repo)
    server = create_dashboard_server(files, "minimize")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(server.url, repo, ledger, state_dir)
    server.shutdown()
    server.server_close()
    thread.join(timeout=EVENT_DEADLINE)
    after = files_in(repo)
    # Read-only: whatever the test itself wrote, the server added or touched nothing.
    written = set(after) - set(before)
    test_wrote = {"results.tsv", ".autoresearch/t/inflight.json", "run.log", ".autoresearch/t/logs"}
    assert {p for p in written if not p.startswith(".autoresearch/t/logs/")} <= test_wrote


def row_cells(index: int) -> dict[str, object]:
    return {
        "commit": f"{index:07x}",
        "val_bpb": 0.99 - index * 1e-4,
        "memory_gb": 40.0,
        "seconds": 300,
        "cost_usd": 0.1,
        "status": "discard",
        "description": f"experiment {index} complete",
    }


def test_binds_loopback_by_default(site: Site) -> None:
    assert site.url.startswith("http://127.0.0.1:")
    assert not site.url.endswith(":0/")


def test_state_has_headline_rows_and_metric(site: Site) -> None:
    data = state(site)
    assert data["metric"] == "val_bpb" and data["error"] is None
    assert data["columns"] == OURS_COLUMNS
    assert [row[0] for row in data["rows"]] == ["a1b2c3d", "b2c3d4e", "c3d4e5f"]
    assert data["rows_total"] == 3 and data["inflight"] is None
    assert data["summary"]["best"] == 0.99
    assert ["best val_bpb", "0.99"] in data["summary"]["headline"]


def test_state_while_a_writer_appends_with_partial_lines(site: Site) -> None:
    """Each row is written in two pieces, so readers often see a half-written last line."""
    total = 120
    template = "\t".join(["{commit}", "0.98", "40.0", "300", "0.1", "discard", "{description}"])

    def writer() -> None:
        for index in range(total):
            line = template.format(commit=f"{index:07x}", description=f"experiment {index} done")
            with open(site.ledger, "a", encoding="utf-8") as handle:
                handle.write(line[:-7])
                handle.flush()
                time.sleep(0.002)
                handle.write(line[-7:] + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    seen: list[int] = []
    while thread.is_alive() or not seen or seen[-1] < 3 + total:
        data = state(site, "?rows=all")
        assert data["error"] is None and data["problems"] == []
        rows = data["rows"]
        assert all(len(row) == len(OURS_COLUMNS) for row in rows)
        assert all(re.fullmatch(r"experiment \d+ done", row[-1]) for row in rows[3:])
        seen.append(data["rows_total"])
    thread.join()
    assert seen == sorted(seen) and seen[-1] == 3 + total


def test_partial_last_line_is_skipped_until_complete(site: Site) -> None:
    with open(site.ledger, "a", encoding="utf-8") as handle:
        handle.write("abcdef0\t0.97\t40.0\t300\t0.1\tkeep\tstill wri")
    data = state(site)
    assert data["rows_total"] == 3 and data["problems"] == []
    with open(site.ledger, "a", encoding="utf-8") as handle:
        handle.write("ting\n")
    data = state(site)
    assert data["rows_total"] == 4 and data["rows"][-1][-1] == "still writing"
    assert data["summary"]["best"] == 0.97


def test_missing_or_headerless_ledger_is_reported_not_an_error_page(site: Site) -> None:
    site.ledger.unlink()
    data = state(site)
    assert "no ledger yet" in data["error"] and data["rows"] == []
    site.ledger.write_text("commit\tval_b")
    assert "not readable yet" in state(site)["error"]
    status, _, _ = get(site.url + "plot.png")
    assert status == 404


def test_row_limit(site: Site) -> None:
    for index in range(5):
        append_row(site.ledger, row_cells(index))
    data = state(site, "?rows=2")
    assert data["rows_total"] == 8 and data["first_row"] == 6 and len(data["rows"]) == 2


def test_inflight_experiment_with_log_tail(site: Site) -> None:
    log = site.state / "logs" / "0007-abc1234.log"  # where the session archives its run's log
    log.parent.mkdir(exist_ok=True)
    with open(log, "w", encoding="utf-8") as handle:
        for step in range(200_000):
            handle.write(f"step {step} loss {1 / (step + 1):.5f}\n")
        handle.write("\x1b[32mval_bpb: 0.981\x1b[0m\n10%\r55%")
    started = time.time() - 90
    inflight = {
        "experiment": 7,
        "commit": "abc1234",
        "description": "try <b>this</b>",
        "started": started,
        "budget": 300,
    }
    (site.state / "inflight.json").write_text(json.dumps(inflight))
    shown = state(site)["inflight"]
    assert shown["experiment"] == 7 and shown["description"] == "try <b>this</b>"
    assert 89 <= shown["elapsed"] < 120 and 0.29 < shown["fraction"] < 0.4
    assert shown["log"] == str(log.relative_to(site.repo))
    tail = shown["log_tail"]
    assert len(tail) == 40
    assert tail[-3:] == ["step 199999 loss 0.00001", "val_bpb: 0.981", "55%"]
    (site.state / "inflight.json").write_text('{"experiment": 8, "sta')
    assert state(site)["inflight"] is None


def test_tail_of_a_file_with_one_enormous_line(tmp_path: Path) -> None:
    path = tmp_path / "log"
    path.write_bytes(b"first\n" + b"x" * (LOG_TAIL_MAX_BYTES * 3) + b"\nlast\n")
    tail = tail_lines(path, 5)
    assert tail[-1] == "last" and len(tail[0]) < LOG_TAIL_MAX_BYTES
    (tmp_path / "short").write_text("a\nb\n")
    assert tail_lines(tmp_path / "short") == ["a", "b"]


def test_plot_is_served_and_cached_until_the_ledger_changes(site: Site) -> None:
    status, kind, first = get(site.url + "plot.png")
    assert status == 200 and kind == "image/png" and png_size(first)[0] > 800
    assert get(site.url + "plot.png")[2] == first
    append_row(site.ledger, row_cells(1))
    assert get(site.url + "plot.png")[2] != first


def test_page_is_self_contained_and_unknown_paths_are_404(site: Site) -> None:
    status, kind, body = get(site.url)
    page = body.decode()
    assert status == 200 and kind.startswith("text/html")
    assert "api/state" in page and "setTimeout(poll" in page
    assert not re.search(r"https?://", page)
    assert get(site.url + "nothing")[0] == 404


def test_serve_dashboard_reports_its_url(tmp_path: Path) -> None:
    files = SessionFiles(str(tmp_path), "t")
    write_rows(Path(files.ledger), OURS_COLUMNS, OURS_ROWS)
    urls: list[str] = []
    ready = threading.Event()

    def announce(url: str) -> None:
        urls.append(url)
        ready.set()

    arguments = (files, "maximize")
    thread = threading.Thread(
        target=serve_dashboard, args=arguments, kwargs={"ready": announce}, daemon=True
    )
    thread.start()
    assert ready.wait(EVENT_DEADLINE)
    status, _, body = get(urls[0] + "api/state")
    assert status == 200 and json.loads(body)["direction"] == "maximize"


def test_live_page_in_a_real_browser(site: Site) -> None:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="needs Playwright for Python (pip install playwright)"
    )
    log = site.state / "logs" / "0003-abc1234.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("warming up\nstep 10 loss 3.2\n")
    inflight = {"experiment": 3, "commit": "abc1234", "description": "bigger batch"}
    inflight.update(started=time.time() - 5, budget=300)
    (site.state / "inflight.json").write_text(json.dumps(inflight))
    requested: list[str] = []
    patience = EVENT_DEADLINE * 1000  # Playwright counts in milliseconds
    sync_api.expect.set_options(timeout=patience)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, timeout=patience
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(patience)
            page.on("request", lambda request: requested.append(request.url))
            page.goto(site.url)
            rows = page.locator("#rows tbody tr")
            sync_api.expect(rows).to_have_count(3)
            sync_api.expect(page.locator("#title")).to_have_text("autoresearch: val_bpb (minimize)")
            sync_api.expect(page.locator("#inflight-log")).to_contain_text("step 10 loss 3.2")
            sync_api.expect(page.locator("#inflight-title")).to_contain_text("bigger batch")
            sync_api.expect(page.locator("img#plot")).to_be_visible()

            append_row(site.ledger, {**row_cells(9), "description": "a row appended live"})
            sync_api.expect(rows).to_have_count(4)
            sync_api.expect(rows.first).to_contain_text("a row appended live")
            sync_api.expect(page.locator("#cards")).to_contain_text("experiments4")
        finally:
            browser.close()
    assert requested and all(url.startswith(site.url) for url in requested)


def test_the_log_shown_is_the_sessions_own_never_a_path_named_by_the_inflight_file(
    site: Site, tmp_path: Path
) -> None:
    secret = tmp_path / "id_ed25519"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    inflight = {"experiment": 4, "commit": "abc1234", "description": "x", "log": str(secret)}
    (site.state / "inflight.json").write_text(json.dumps(inflight))
    shown = state(site)["inflight"]
    assert shown["log"] is None and shown["log_tail"] == []
    # Nor through a symlink planted where the session's log would be.
    planted = site.state / "logs" / "0004-abc1234.log"
    planted.parent.mkdir(exist_ok=True)
    planted.symlink_to(secret)
    shown = state(site)["inflight"]
    assert "PRIVATE KEY" not in json.dumps(shown)


def test_a_request_under_another_host_name_is_refused_and_pages_cannot_frame_it(
    site: Site,
) -> None:
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(site.url)
    for host, status in (("attacker.example", 421), (address.netloc, 200)):
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        connection.request("GET", "/api/state", headers={"Host": host})
        answer = connection.getresponse()
        body = answer.read()
        connection.close()
        assert answer.status == status, (host, body)
        if status == 421:
            assert b"val_bpb" not in body
        else:
            policy = answer.getheader("Content-Security-Policy") or ""
            assert "frame-ancestors 'none'" in policy
            assert answer.getheader("X-Frame-Options") == "DENY"
