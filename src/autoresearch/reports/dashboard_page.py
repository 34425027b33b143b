"""The dashboard's one page: inline style and script, no external assets.

Data goes into the page only through textContent, never as markup, so whatever a description
or a log line holds is shown as text.
"""

from __future__ import annotations

from autoresearch.reports.html import BASE_STYLE

_PAGE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>autoresearch dashboard</title>
<style>
/*BASE_STYLE*/
#status { color: #5b6472; font-size: 12px; margin: 2px 0 14px; }
#error { display: none; background: #fdecea; color: #8a1c12; padding: 8px 12px;
         border-radius: 6px; margin-bottom: 12px; }
#inflight { display: none; background: #fff; border: 1px solid #dde1e7; border-radius: 6px;
            padding: 10px 14px; margin-top: 16px; }
#inflight h2 { margin-top: 0; border: none; }
.bar { background: #e7eaef; border-radius: 4px; height: 10px; margin: 6px 0; overflow: hidden; }
.bar div { background: #2ecc71; height: 100%; width: 0; }
.bar.over div { background: #e67e22; }
pre { background: #11151c; color: #d6dde6; padding: 8px 10px; border-radius: 6px;
      max-height: 420px; overflow: auto; font-size: 12px; margin: 8px 0 0; }
.muted { color: #5b6472; }
</style></head><body><main>
<h1 id="title">autoresearch</h1>
<div id="status">connecting...</div>
<div id="error"></div>
<p id="continues" class="marker" style="display: none"></p>
<div class="cards" id="cards"></div>
<div id="workers"></div>
<div id="inflight">
  <h2>In flight: <span id="inflight-title"></span></h2>
  <div id="inflight-time" class="muted"></div>
  <div class="bar" id="inflight-bar"><div></div></div>
  <div id="inflight-log-name" class="muted"></div>
  <pre id="inflight-log"></pre>
</div>
<h2 id="plot-title">Progress</h2>
<img id="plot" class="plot" alt="progress plot">
<h2 id="rows-title">Ledger</h2>
<div class="scroll"><table id="rows"><thead></thead><tbody></tbody></table></div>
</main>
<script>
"use strict";
const POLL_MS = 2000;
let shownLedgerKey = null;
let plotKey = null;

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "?";
  seconds = Math.round(seconds);
  const h = Math.floor(seconds / 3600), m = Math.floor(seconds / 60) % 60, s = seconds % 60;
  const pad = (n) => String(n).padStart(2, "0");
  // The style of rules/formatting.py duration: 0m45s, 5m02s, 1h05m.
  return h ? `${h}h${pad(m)}m` : `${m}m${pad(s)}s`;
}

function showCards(summary, audit) {
  const cards = document.getElementById("cards");
  cards.replaceChildren();
  const headline = summary ? [...summary.headline] : [];
  if (audit) headline.push(["audit", audit]);
  for (const [label, value] of headline) {
    const card = element("div", null, "card");
    card.append(element("div", label, "label"), element("div", value, "value"));
    cards.append(card);
  }
}

function showWorkers(workers) {
  const box = document.getElementById("workers");
  box.replaceChildren();
  for (const worker of workers || []) {
    const doing = worker.busy
      ? `busy: #${worker.experiment} ${worker.commit} ${worker.description}` : "idle";
    box.append(element("div", `worker ${worker.worker}: ${doing}`, "worker"));
  }
}

function showInflight(inflight) {
  const box = document.getElementById("inflight");
  if (!inflight) { box.style.display = "none"; return; }
  box.style.display = "block";
  const name = inflight.experiment !== null && inflight.experiment !== undefined
    ? `#${inflight.experiment} ` : "";
  const commit = inflight.commit ? `${inflight.commit} ` : "";
  document.getElementById("inflight-title").textContent =
    `${name}${commit}${inflight.description}`;
  const budget = inflight.budget ? ` of ${duration(inflight.budget)} budget` : " (no budget)";
  document.getElementById("inflight-time").textContent =
    `running for ${duration(inflight.elapsed)}${budget}`;
  const bar = document.getElementById("inflight-bar");
  bar.style.display = inflight.fraction === null ? "none" : "block";
  bar.classList.toggle("over", inflight.fraction > 1);
  bar.firstElementChild.style.width = `${Math.min(100, 100 * (inflight.fraction || 0))}%`;
  document.getElementById("inflight-log-name").textContent = inflight.log || "";
  const log = document.getElementById("inflight-log");
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.textContent = inflight.log_tail.join("\\n");
  log.style.display = inflight.log ? "block" : "none";
  if (atBottom) log.scrollTop = log.scrollHeight;
}

function showRows(data) {
  const head = document.querySelector("#rows thead");
  const body = document.querySelector("#rows tbody");
  const header = element("tr");
  header.append(element("th", "#"));
  for (const column of data.columns) header.append(element("th", column));
  head.replaceChildren(header);
  const statusAt = data.columns.indexOf("status");
  const rows = [];
  // Newest first: the row that just landed is the one to look at.
  for (let i = data.rows.length - 1; i >= 0; i--) {
    const cells = data.rows[i];
    const row = element("tr", null, statusAt >= 0 ? cells[statusAt] : "");
    row.dataset.commit = cells[0];
    row.append(element("td", data.first_row + i));
    for (const cell of cells) row.append(element("td", cell));
    rows.push(row);
  }
  body.replaceChildren(...rows);
  const shown = data.rows.length < data.rows_total
    ? ` (latest ${data.rows.length} of ${data.rows_total})` : ` (${data.rows_total} rows)`;
  document.getElementById("rows-title").textContent = `Ledger${shown}`;
}

function showPlot(data) {
  const image = document.getElementById("plot");
  if (!data.ledger_key || data.ledger_key === plotKey) return;
  plotKey = data.ledger_key;
  image.style.display = "block";
  image.src = `plot.png?v=${encodeURIComponent(plotKey)}`;
}

function show(data) {
  const error = document.getElementById("error");
  const problems = data.problems && data.problems.length
    ? `Skipped ledger lines: ${data.problems.join("; ")}` : "";
  error.textContent = [data.error, problems].filter(Boolean).join(" | ");
  error.style.display = error.textContent ? "block" : "none";
  if (data.metric) {
    document.title = `autoresearch: ${data.metric}`;
    document.getElementById("title").textContent =
      `autoresearch: ${data.metric} (${data.direction})`;
    document.getElementById("plot-title").textContent = `Progress of ${data.metric}`;
  }
  const continues = document.getElementById("continues");
  continues.textContent = data.continues || "";
  continues.style.display = data.continues ? "block" : "none";
  showCards(data.summary, data.audit);
  showInflight(data.inflight);
  showWorkers(data.workers);
  if (data.ledger_key !== shownLedgerKey) {
    showRows(data);
    shownLedgerKey = data.ledger_key;
  }
  showPlot(data);
}

async function poll() {
  const status = document.getElementById("status");
  try {
    const response = await fetch("api/state", { cache: "no-store" });
    const data = await response.json();
    show(data);
    status.textContent = `${data.ledger_path}, updated ${new Date().toLocaleTimeString()}`;
  } catch (problem) {
    status.textContent = `dashboard not reachable (${problem}); retrying`;
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

document.getElementById("plot").addEventListener("error", (event) => {
  event.target.style.display = "none";
  plotKey = null;  // try again at the next poll: the error may have been a passing one
});
poll();
</script>
</body></html>
"""

PAGE = _PAGE_TEMPLATE.replace("/*BASE_STYLE*/", BASE_STYLE)
