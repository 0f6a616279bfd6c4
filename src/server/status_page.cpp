#include "server/status_page.h"

namespace batchwise {

std::string_view status_page_html() {
  static constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>batchwise serve</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1b1f24; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  h2 { font-size: 16px; margin: 24px 0 8px; }
  table { border-collapse: collapse; width: 100%; background: #fff; }
  th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #e3e6ea; white-space: nowrap; }
  th { background: #f0f2f5; font-weight: 600; }
  .bar { width: 160px; height: 10px; background: #e3e6ea; border-radius: 5px; overflow: hidden; display: inline-block; }
  .bar > span { display: block; height: 100%; background: #2f81f7; }
  .muted { color: #667; }
  .err { color: #b42318; font-family: monospace; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>batchwise serve</h1>
<div class="muted" id="updated">loading…</div>
<h2>Batches</h2>
<table id="batches"><thead><tr><th>batch</th><th>status</th><th>model</th><th>progress</th><th>done</th>
<th>failed</th><th>req/s</th><th>tok/s</th><th>ETA</th></tr></thead><tbody></tbody></table>
<h2>Models</h2>
<table id="models"><thead><tr><th>model</th><th>loaded</th><th>in flight</th><th>tokens generated</th>
<th>tok/s</th><th>loads</th><th>evictions</th></tr></thead><tbody></tbody></table>
<h2>GPU</h2>
<div id="gpu" class="muted">no GPU seen (NVML)</div>
<h2>Recent errors</h2>
<div id="errors" class="muted">none</div>
<script>
"use strict";
let last = null;
const text = (v) => (v === null || v === undefined ? "–" : String(v));
const eta = (s) => (s === null || s === undefined ? "–" : s < 60 ? Math.round(s) + "s" :
  s < 3600 ? Math.floor(s / 60) + "m" + String(Math.round(s % 60)).padStart(2, "0") + "s" :
  Math.floor(s / 3600) + "h" + String(Math.round((s % 3600) / 60)).padStart(2, "0") + "m");
function cell(row, value) { const td = document.createElement("td"); td.textContent = value; row.appendChild(td); return td; }
function render(s) {
  const body = document.querySelector("#batches tbody");
  body.replaceChildren();
  for (const b of s.batches) {
    const c = b.request_counts || {total: 0, completed: 0, failed: 0};
    const done = c.completed + c.failed;
    const row = document.createElement("tr");
    cell(row, b.id); cell(row, b.status); cell(row, b.model || "–");
    const bar = document.createElement("span"); bar.className = "bar";
    const fill = document.createElement("span"); fill.style.width = (c.total ? 100 * done / c.total : 0) + "%";
    bar.appendChild(fill); const td = cell(row, ""); td.appendChild(bar);
    td.append(" " + (c.total ? (100 * done / c.total).toFixed(1) : "0.0") + "%");
    cell(row, done + " / " + c.total); cell(row, c.failed);
    cell(row, b.requests_per_s === undefined ? "–" : b.requests_per_s.toFixed(1));
    cell(row, b.tokens_per_s === undefined ? "–" : b.tokens_per_s.toFixed(0)); cell(row, eta(b.eta_s));
    body.appendChild(row);
  }
  const models = document.querySelector("#models tbody");
  models.replaceChildren();
  for (const m of s.models) {
    const row = document.createElement("tr");
    // Its running batches' rate (the server's, since each started); with none, the tokens it generated between
    // two polls (interactive requests).
    let rate = m.tokens_per_s === undefined ? "–" : m.tokens_per_s.toFixed(0);
    if (m.tokens_per_s === undefined && last) {
      const prev = last.models.find((p) => p.id === m.id);
      const dt = s.time - last.time;
      if (prev && dt > 0) rate = ((m.generated_tokens - prev.generated_tokens) / dt).toFixed(0);
    }
    cell(row, m.id); cell(row, m.loaded ? "yes" : "no"); cell(row, m.in_flight); cell(row, m.generated_tokens);
    cell(row, rate); cell(row, m.loads); cell(row, m.evictions);
    models.appendChild(row);
  }
  if (s.gpu) document.getElementById("gpu").textContent = (s.gpu.memory_used_bytes / 2 ** 30).toFixed(1) +
    " GiB in use, " + s.gpu.utilization_percent.toFixed(0) + "% busy";
  const errors = document.getElementById("errors");
  errors.className = s.recent_errors.length ? "err" : "muted";
  errors.textContent = s.recent_errors.length ? s.recent_errors.slice().reverse().join("\n") : "none";
  document.getElementById("updated").textContent = "updated " + new Date(s.time * 1000).toLocaleTimeString();
  last = s;
}
async function refresh() {
  try { const r = await fetch("status.json"); if (r.ok) render(await r.json()); } catch (e) {}
  setTimeout(refresh, 2000);
}
refresh();
</script>
</body>
</html>
)html";
  return kPage;
}

}  // namespace batchwise
