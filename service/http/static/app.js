// The dashboard: polls the JSON API every few seconds and draws it. Every text from the server goes in as text
// (textContent), never as HTML: ids, reasons and notes come from the database and the exchange.
"use strict";

const POLL_MS = 3000;
const COLOURS = ["#3366cc", "#dc3912", "#ff9900", "#109618", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e"];
let selected = null;

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (cls) node.className = cls;
  return node;
}

async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

function fillTable(id, rows, cells, onClick) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren();
  for (const row of rows) {
    const tr = el("tr");
    for (const cell of cells(row)) {
      const td = el("td", cell === null || cell === undefined ? "-" : cell);
      if (typeof cell === "string" && /^-?\d/.test(cell) && cell.includes(".")) td.className = "num";
      tr.append(td);
    }
    if (onClick) {
      tr.classList.add("clickable");
      tr.addEventListener("click", () => onClick(row));
    }
    body.append(tr);
  }
}

function showStatus(status) {
  const service = status.service;
  const badge = document.getElementById("service");
  badge.textContent = service.running ? "running" : "not running";
  badge.className = `pill ${service.running ? "up" : "down"}`;
  const gate = status.gate || { state: "not created", reason: "" };
  const state = document.getElementById("gate-state");
  state.textContent = gate.state;
  state.className = `state ${gate.state}`;
  document.getElementById("gate-reason").textContent = gate.reason || "";
  for (const id of ["halt", "resume"]) document.getElementById(id).disabled = status.read_only;

  const policy = document.getElementById("policy");
  policy.replaceChildren();
  if (status.policy) {
    const p = status.policy;
    policy.append(
      el("div", `${p.risk_profile}, exit ${p.exit_mode}, min confidence ${Number(p.min_confidence).toFixed(2)}, ` +
        `max risk ${(Number(p.max_risk_pct) * 100).toFixed(2)}%` + (p.allow_new_trades ? "" : ", no new trades")),
      el("div", p.note, "muted"),
    );
  } else {
    policy.textContent = "no policy yet";
  }

  const health = document.getElementById("health");
  health.replaceChildren();
  const age = service.heartbeat_age_s;
  health.append(el("div", `heartbeat: ${age === null ? "never" : `${age.toFixed(1)} s ago`}`));
  if (status.lease) {
    const lease = status.lease;
    health.append(el("div", `lease: ${lease.owner.host} pid ${lease.owner.pid}, token ${lease.token}, ` +
      `renewed ${lease.age_s.toFixed(1)} s ago${lease.expired ? " (expired)" : ""}`));
  }
  for (const [stream, problem] of Object.entries(status.streams || {})) {
    health.append(el("div", `${stream} stream: ${problem || "healthy"}`, problem ? "neg" : ""));
  }
  if (status.last_event_age_s !== null && status.last_event_age_s !== undefined) {
    health.append(el("div", `last candle: ${status.last_event_age_s.toFixed(1)} s ago`));
  }
  if (status.read_only) health.append(el("div", "read-only view: halt and resume are disabled here", "muted"));

  fillTable("positions", status.positions, (p) => [
    p.id, p.symbol, p.side, p.state, p.open_quantity, p.entry_price, p.stop_price, p.take_profit_price,
    p.mark_price || p.last_price, p.unrealized_pnl,
  ], (p) => { selected = p.id; showTimeline(); });
}

async function showTimeline() {
  if (!selected) return;
  const detail = await getJson(`/api/positions/${encodeURIComponent(selected)}`);
  document.getElementById("timeline-panel").hidden = false;
  document.getElementById("timeline-id").textContent = `${detail.position.id} (${detail.position.symbol})`;
  const list = document.getElementById("timeline");
  list.replaceChildren();
  for (const t of detail.transitions) {
    list.append(el("li", `${t.at}  ${t.from || "∅"} → ${t.to} (${t.trigger}): ${t.reason}`));
  }
}

function drawEquity(points) {
  const svg = document.getElementById("equity");
  svg.replaceChildren();
  const values = points.map((p) => Number(p.equity));
  const range = document.getElementById("equity-range");
  if (values.length < 2) { range.textContent = "not enough equity snapshots yet"; return; }
  const low = Math.min(...values), high = Math.max(...values), span = high - low || 1;
  const path = values.map((v, i) => `${i ? "L" : "M"}${(i / (values.length - 1)) * 800},${190 - ((v - low) / span) * 180}`);
  const line = document.createElementNS("http://www.w3.org/2000/svg", "path");
  line.setAttribute("d", path.join(" "));
  line.setAttribute("fill", "none");
  line.setAttribute("stroke", "#3366cc");
  line.setAttribute("stroke-width", "2");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.append(line);
  range.textContent = `${points[0].at} → ${points[points.length - 1].at}: ${low.toFixed(2)} – ${high.toFixed(2)} USDT`;
}

function drawDecisions(counts) {
  const box = document.getElementById("decisions");
  box.replaceChildren();
  if (!counts.length) { box.textContent = "no decisions in the last 24 h"; return; }
  const reasons = [...new Set(counts.map((c) => c.reason))].sort();
  const buckets = [...new Set(counts.map((c) => c.at))].sort();
  const most = Math.max(...buckets.map((b) => counts.filter((c) => c.at === b).reduce((s, c) => s + c.count, 0)));
  const legend = el("div");
  reasons.forEach((reason, i) => {
    const swatch = el("span", "", "bar");
    swatch.style.width = "12px";
    swatch.style.background = COLOURS[i % COLOURS.length];
    legend.append(swatch, el("span", ` ${reason}  `));
  });
  box.append(legend);
  for (const bucket of buckets) {
    const row = el("div");
    row.append(el("span", `${bucket.slice(11, 16)} `, "muted"));
    reasons.forEach((reason, i) => {
      const found = counts.find((c) => c.at === bucket && c.reason === reason);
      if (!found) return;
      const bar = el("span", "", "bar");
      bar.style.width = `${(found.count / most) * 600}px`;
      bar.style.background = COLOURS[i % COLOURS.length];
      bar.title = `${reason}: ${found.count}`;
      row.append(bar);
    });
    box.append(row);
  }
}

async function refresh() {
  try {
    const [status, equity, counts, orders] = await Promise.all([
      getJson("/api/status"), getJson("/api/equity?limit=500"), getJson("/api/decisions/counts?since=24h"),
      getJson("/api/orders?limit=15"),
    ]);
    showStatus(status);
    drawEquity(equity.items);
    drawDecisions(counts);
    fillTable("orders", orders.items, (o) => [
      o.created_at, o.position_id, o.purpose, o.side, o.type, o.quantity, o.average_price || o.trigger_price,
      o.status, o.reject_code ? `${o.reject_code} ${o.reject_message || ""}` : "",
    ]);
    await showTimeline();
    document.getElementById("updated").textContent = `updated ${new Date().toISOString()}`;
  } catch (error) {
    document.getElementById("updated").textContent = `update failed: ${error.message}`;
  }
}

async function command(name) {
  const result = document.getElementById("command-result");
  const token = window.prompt(`Token to ${name} the gate (QT_HTTP__TOKEN):`);
  if (token === null) return;
  const reason = name === "halt" ? "halted from the dashboard" : "resumed from the dashboard";
  result.textContent = `${name}…`;
  result.className = "";
  const response = await fetch(`/api/gate/${name}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({ reason }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok) {
    result.textContent = body.outcome;
  } else {
    result.textContent = `refused (${response.status}): ${body.detail || response.statusText}`;
    result.className = "refused";
  }
  refresh();
}

document.getElementById("halt").addEventListener("click", () => command("halt"));
document.getElementById("resume").addEventListener("click", () => command("resume"));
refresh();
setInterval(refresh, POLL_MS);
