#include "fedsign/net/dashboard.h"

#include <nlohmann/json.hpp>

#include "fedsign/fl/run/run_metrics.h"

namespace fedsign::net {

void RunBoard::set_phase(int64_t round, const std::string& phase) {
  std::lock_guard lock(mutex_);
  round_ = round;
  phase_ = phase;
}

void RunBoard::add_round(const fl::RoundMetrics& metrics, const nlohmann::json& extra) {
  nlohmann::json row = nlohmann::json::parse(fl::metrics_to_json({metrics})).at(0);
  for (const auto& [key, value] : extra.items()) row[key] = value;
  std::lock_guard lock(mutex_);
  history_.push_back(std::move(row));
}

nlohmann::json RunBoard::status(nlohmann::json base) const {
  std::lock_guard lock(mutex_);
  base["round"] = round_;
  base["phase"] = phase_;
  base["history"] = history_;
  base["last_round"] = history_.empty() ? nlohmann::json() : history_.back();
  return base;
}

nlohmann::json RunBoard::last_round() const {
  std::lock_guard lock(mutex_);
  return history_.empty() ? nlohmann::json() : history_.back();
}

// The page. Plain DOM and <canvas>: a chart library would be larger than everything else here
// and the curves need only lines, axes and a legend. Element ids (round, phase, accuracy, ...)
// are what tests and users' scripts read.
const std::string& dashboard_page() {
  static const std::string page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>fedsign dashboard</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; background: #fafafa; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .sub { color: #666; margin-bottom: 12px; }
  .cards { display: flex; flex-wrap: wrap; gap: 10px; margin-bottom: 14px; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 120px; }
  .card .k { color: #666; font-size: 12px; }
  .card .v { font-size: 20px; font-weight: 600; }
  .charts { display: flex; flex-wrap: wrap; gap: 14px; }
  canvas { background: #fff; border: 1px solid #ddd; border-radius: 6px; }
  table { border-collapse: collapse; background: #fff; margin-top: 14px; }
  th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
  th { background: #f0f0f0; }
  td.l, th.l { text-align: left; }
  #error { color: #b00; margin: 8px 0; }
</style>
</head>
<body>
<h1>fedsign <span id="kind">federated run</span></h1>
<div class="sub"><span id="strategy"></span> <span id="model"></span> &middot; updated <span id="updated">never</span></div>
<div id="error"></div>
<div class="cards">
  <div class="card"><div class="k">round</div><div class="v" id="round">-</div></div>
  <div class="card"><div class="k">phase</div><div class="v" id="phase">-</div></div>
  <div class="card"><div class="k">central accuracy</div><div class="v" id="accuracy">-</div></div>
  <div class="card"><div class="k">federated accuracy</div><div class="v" id="federated">-</div></div>
  <div class="card"><div class="k">clients</div><div class="v" id="clients">-</div></div>
  <div class="card"><div class="k">failed / rejected</div><div class="v" id="failed">-</div></div>
  <div class="card"><div class="k">privacy (&epsilon;)</div><div class="v" id="epsilon">-</div></div>
  <div class="card"><div class="k">bytes on the wire</div><div class="v" id="bytes">-</div></div>
</div>
<div class="charts">
  <canvas id="accuracy-chart" width="520" height="300"></canvas>
  <canvas id="loss-chart" width="520" height="300"></canvas>
</div>
<table id="client-table"></table>
<script>
"use strict";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const pct = v => (v === null || v === undefined) ? "-" : (100 * v).toFixed(2) + "%";
const bytes = n => { const u = ["B", "KB", "MB", "GB", "TB"]; let i = 0;
  while (n >= 1000 && i < u.length - 1) { n /= 1000; i++; } return n.toFixed(i ? 1 : 0) + " " + u[i]; };
const set = (id, text) => { document.getElementById(id).textContent = text; };
function lastOf(history, key) {
  for (let i = history.length - 1; i >= 0; i--) {
    const v = history[i][key];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}
function draw(id, title, history, series, unit) {
  const c = document.getElementById(id), g = c.getContext("2d");
  const W = c.width, H = c.height, L = 52, R = 12, T = 28, B = 34;
  g.clearRect(0, 0, W, H);
  g.fillStyle = "#222"; g.font = "13px system-ui, sans-serif"; g.fillText(title, L, 18);
  const pts = series.map(s => history.filter(r => r[s.key] !== null && r[s.key] !== undefined)
                                      .map(r => [r.round, r[s.key] * (unit === "%" ? 100 : 1)]));
  const all = pts.flat();
  if (!all.length) { g.fillStyle = "#888"; g.fillText("waiting for the first round", L, H / 2); return; }
  let x0 = 1, x1 = Math.max(2, ...all.map(p => p[0]));
  let y0 = unit === "%" ? 0 : 0, y1 = unit === "%" ? 100 : Math.max(...all.map(p => p[1])) * 1.05 || 1;
  const X = x => L + (x - x0) / (x1 - x0) * (W - L - R), Y = y => H - B - (y - y0) / (y1 - y0) * (H - T - B);
  g.strokeStyle = "#ccc"; g.fillStyle = "#666"; g.font = "11px system-ui, sans-serif";
  for (let k = 0; k <= 4; k++) {
    const y = y0 + k * (y1 - y0) / 4;
    g.beginPath(); g.moveTo(L, Y(y)); g.lineTo(W - R, Y(y)); g.stroke();
    g.fillText(unit === "%" ? y.toFixed(0) + "%" : y.toFixed(2), 6, Y(y) + 4);
  }
  g.fillText("round", W - R - 34, H - 8);
  g.fillText(String(x0), X(x0) - 3, H - B + 14); g.fillText(String(x1), X(x1) - 8, H - B + 14);
  series.forEach((s, i) => {
    const p = pts[i];
    g.strokeStyle = s.color; g.fillStyle = s.color; g.lineWidth = 2;
    g.beginPath(); p.forEach(([x, y], j) => j ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y))); g.stroke();
    if (p.length === 1) { g.beginPath(); g.arc(X(p[0][0]), Y(p[0][1]), 3, 0, 7); g.fill(); }
    g.lineWidth = 1; g.fillRect(L + 90 + i * 120, 11, 12, 3);
    g.fillText(s.label, L + 106 + i * 120, 16);
  });
}
function clientTable(status) {
  const t = document.getElementById("client-table");
  if (Array.isArray(status.clients) && status.clients.length) {
    const rows = status.clients.map(c => `<tr><td>${c.id}</td><td class="l">${String(c.name).replace(/[<>&]/g, "")}</td>` +
      `<td class="l">${c.connected ? "connected" : "gone"}</td><td class="l">${c.state}</td>` +
      `<td>${c.train_examples}</td><td>${c.test_examples}</td><td>${c.seconds_since_seen.toFixed(1)}</td></tr>`);
    t.innerHTML = "<tr><th>id</th><th class='l'>name</th><th class='l'>link</th><th class='l'>state</th>" +
      "<th>train images</th><th>test images</th><th>last seen (s)</th></tr>" + rows.join("");
  } else {
    const h = (status.history || []).slice(-10).reverse();
    t.innerHTML = "<tr><th>round</th><th>sampled</th><th>trained</th><th>failed</th><th>central acc</th>" +
      "<th>train loss</th><th>seconds</th></tr>" + h.map(r => `<tr><td>${r.round}</td><td>${r.clients_sampled}</td>` +
      `<td>${r.clients_trained}</td><td>${r.failures}</td><td>${pct(r.central_accuracy)}</td>` +
      `<td>${r.train_loss === null ? "-" : r.train_loss.toFixed(4)}</td><td>${r.seconds.toFixed(2)}</td></tr>`).join("");
  }
}
function show(s) {
  const h = s.history || [];
  set("kind", s.kind || "federated run");
  set("strategy", s.strategy || ""); set("model", s.model ? "· model " + s.model : "");
  set("round", `${s.round}/${s.rounds}`);
  set("phase", s.phase);
  set("accuracy", pct(lastOf(h, "central_accuracy")));
  set("federated", pct(lastOf(h, "federated_accuracy")));
  const last = h.length ? h[h.length - 1] : null;
  if (s.connected_clients !== undefined) set("clients", `${s.connected_clients} connected`);
  else if (last) set("clients", `${last.clients_trained}/${last.clients_sampled} of ${s.clients}`);
  else set("clients", String(s.clients ?? "-"));
  const failed = h.reduce((a, r) => a + (r.failures || 0), 0);
  // The network server counts rejected updates; in simulation a robust rule's leftovers are.
  const rejected = s.rejected_updates ?? h.reduce((a, r) => { const sel = (r.columns || {}).robust_selected;
    return a + (sel === undefined || sel === null ? 0 : Math.max(0, r.clients_trained - sel)); }, 0);
  set("failed", `${failed} / ${rejected}`);
  const eps = lastOf(h, "dp_epsilon");
  set("epsilon", eps === null ? "off" : eps.toPrecision(4));
  const sent = s.bytes_sent ?? h.reduce((a, r) => a + ((r.columns || {}).bytes_down || 0), 0);
  const received = s.bytes_received ?? h.reduce((a, r) => a + ((r.columns || {}).bytes_up || 0), 0);
  set("bytes", sent || received ? `↓${bytes(sent)} ↑${bytes(received)}` : "-");
  draw("accuracy-chart", "accuracy", h, [
    {key: "central_accuracy", label: "central", color: "#1f77b4"},
    {key: "federated_accuracy", label: "federated", color: "#2ca02c"},
    {key: "train_accuracy", label: "clients (train)", color: "#ff7f0e"}], "%");
  draw("loss-chart", "loss", h, [
    {key: "central_loss", label: "central", color: "#1f77b4"},
    {key: "train_loss", label: "clients (train)", color: "#ff7f0e"}], "");
  clientTable(s);
  set("updated", new Date().toLocaleTimeString());
  document.body.dataset.round = String(s.round);
}
async function poll() {
  try {
    const r = await fetch("status", {headers: token ? {Authorization: "Bearer " + token} : {}, cache: "no-store"});
    if (r.status === 401) { set("error", "this run's status needs its token: open the page as …/#token=YOUR_TOKEN"); }
    else if (!r.ok) { set("error", "status: HTTP " + r.status); }
    else { set("error", ""); show(await r.json()); }
  } catch (e) { set("error", "the run is not answering (finished or stopped?)"); }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)html";
  return page;
}

}  // namespace fedsign::net
