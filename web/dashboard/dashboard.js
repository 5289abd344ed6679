// The live dashboard (docs/observability.md, "Dashboard"): once a second it reads /admin/stats,
// /admin/alerts and /admin/deployments from the gateway that served the page and redraws.
//
// Every request's outcome is handled as a value (status and body, or status 0 when the gateway
// could not be reached), never as an uncaught rejection: a route this gateway does not have
// (404) marks its panels "not available" and is asked again every 30 s; a 401 means the gateway
// has an admin key, so polling stops and a form asks for it. The key is kept in sessionStorage
// (this tab only) and sent as `Authorization: Bearer`.

import {
  Chart,
  formatInteger,
  formatPercent,
  formatRate,
  formatSeconds,
  formatSecondsPair,
  formatUsd,
} from "./charts.js";

const POLL_MS = 1000;
const MISSING_RETRY_MS = 30_000;  // a 404 route is asked again this often
const STALE_MS = 5000;            // the status line turns amber without fresh data for this long
const KEY_STORAGE = "sluice.adminKey";

const $ = (id) => document.getElementById(id);

const state = {
  key: sessionStorage.getItem(KEY_STORAGE) || "",
  keyTried: false,         // the key in use was typed into the form (so a 401 means it is wrong)
  waitingForKey: false,
  retryAt: { stats: 0, alerts: 0 },
  lastData: 0,
  timer: null,
};

// ---------------------------------------------------------------------------------------------
// Fetching

async function get(path) {
  const headers = state.key ? { authorization: `Bearer ${state.key}` } : {};
  let response;
  try {
    response = await fetch(path, { headers, cache: "no-store" });
  } catch (err) {
    return { status: 0, error: err.message || String(err) };
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    if (response.ok) return { status: response.status, error: "the answer is not JSON" };
  }
  return { status: response.status, body };
}

function messageOf(result) {
  if (result.status === 0) return `the gateway could not be reached (${result.error})`;
  return result.body?.error?.message || result.error || `HTTP ${result.status}`;
}

// ---------------------------------------------------------------------------------------------
// The admin key form

function askForKey() {
  state.waitingForKey = true;
  document.body.classList.add("locked");
  $("key-form").hidden = false;
  $("forget-key").hidden = true;
  const error = $("key-error");
  if (state.keyTried) {
    error.textContent = "The gateway did not accept that key.";
    error.hidden = false;
  } else {
    error.hidden = true;
  }
  state.key = "";
  state.keyTried = false;
  sessionStorage.removeItem(KEY_STORAGE);
  setStatus("waiting for the admin key", "stale");
  $("key-input").focus();
}

$("key-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("key-input").value.trim();
  if (!key) return;
  state.key = key;
  state.keyTried = true;
  state.waitingForKey = false;
  sessionStorage.setItem(KEY_STORAGE, key);
  $("key-input").value = "";
  setStatus("checking the key…", "");
  schedule(0);
});

$("forget-key").addEventListener("click", () => {
  sessionStorage.removeItem(KEY_STORAGE);
  state.key = "";
  location.reload();
});

function keyAccepted() {
  if (!$("key-form").hidden) {
    $("key-form").hidden = true;
    $("key-error").hidden = true;
    document.body.classList.remove("locked");
  }
  $("forget-key").hidden = !state.key;
  state.keyTried = false;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = text;
  el.className = `status ${kind}`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function emptyRow(tbody, columns, text) {
  const tr = document.createElement("tr");
  const td = cell(text, "empty");
  td.colSpan = columns;
  tr.append(td);
  tbody.replaceChildren(tr);
}

function showUnavailable(id, path, result) {
  const el = $(id);
  el.textContent =
    result.status === 404
      ? `Not available: this gateway has no ${path} (404).`
      : `Not available: ${path} answered ${messageOf(result)}.`;
  el.hidden = false;
}

const HEALTH = {
  healthy: ["up", "up"],
  ejected: ["ejected", "down"],
  breaker_open: ["breaker open", "down"],
  probe_down: ["probe down", "down"],
  cooling_down: ["cooling down", "warn"],
  half_open: ["half-open", "warn"],
};

function clock(unixMs) {
  return new Date(unixMs).toLocaleTimeString();
}

function renderDeployments(result) {
  const tbody = $("deployments").tBodies[0];
  if (result.status !== 200) {
    showUnavailable("deployments-unavailable", "/admin/deployments", result);
    return;
  }
  $("deployments-unavailable").hidden = true;
  const rows = [];
  for (const model of result.body.data ?? []) {
    for (const d of model.deployments ?? []) {
      const tr = document.createElement("tr");
      tr.dataset.model = model.model;
      tr.dataset.deployment = d.id;
      const [word, tone] = HEALTH[d.state] ?? [d.state, "warn"];
      const health = document.createElement("td");
      health.className = "health";
      health.dataset.state = d.state;
      const badge = document.createElement("span");
      badge.className = `badge ${tone}`;
      badge.textContent = word;
      health.append(badge);
      if (d.ejected_until != null) health.title = `ejected until ${clock(d.ejected_until)}`;
      else if (d.cooldown_until != null) health.title = `cooling down until ${clock(d.cooldown_until)}`;
      const breaker = d.breaker === "closed" ? "closed" : `${d.breaker.replace("_", "-")}`;
      const inFlight = d.concurrency_limit != null ? `${d.in_flight} / ${d.concurrency_limit}` : `${d.in_flight}`;
      tr.append(
        cell(model.model),
        cell(d.id),
        health,
        cell(`${breaker} · ${formatPercent(d.breaker_failure_ratio)}`, "opt"),
        cell(d.requests > 0 ? formatSeconds(d.ewma_latency_ms / 1000) : "–", "num"),
        cell(inFlight, "num opt"),
        cell(formatInteger(d.requests), "num opt"),
        cell(d.requests > 0 ? formatPercent(d.error_rate) : "–", "num"),
      );
      rows.push(tr);
    }
  }
  if (rows.length === 0) emptyRow(tbody, 8, "no deployments configured");
  else tbody.replaceChildren(...rows);
}

function renderTop(tableId, items, columns) {
  const tbody = $(tableId).tBodies[0];
  if (!items || items.length === 0) {
    emptyRow(tbody, columns.length, "no traffic yet");
    return;
  }
  tbody.replaceChildren(
    ...items.map((item) => {
      const tr = document.createElement("tr");
      tr.append(...columns.map(([field, format, cls]) => cell(format(item[field]), cls)));
      return tr;
    }),
  );
}

function renderStats(result) {
  const available = result.status === 200;
  $("cards").hidden = !available;
  $("charts").hidden = !available;
  if (!available) {
    showUnavailable("stats-unavailable", "/admin/stats", result);
    for (const id of ["top-models", "top-keys"]) {
      emptyRow($(id).tBodies[0], $(id).tHead.rows[0].cells.length, "not available");
    }
    return;
  }
  $("stats-unavailable").hidden = true;
  const body = result.body;
  const w = body.windows?.["1m"] ?? {};
  setText("stat-requests", formatInteger(w.requests));
  setText("stat-rps", `${formatRate(w.requests_per_second)} req/s`);
  setText("stat-error-rate", formatPercent(w.error_rate));
  setText("stat-errors",
          `${formatInteger(w.errors)} errors · ${formatInteger(w.rate_limited)} limited · ` +
          `${formatInteger(w.retries)} retries`);
  const latency = w.latency_seconds ?? {};
  setText("stat-latency", formatSecondsPair(latency.p50, latency.p99));
  setText("stat-latency-p90", `p90 ${formatSeconds(latency.p90)}`);
  const ttft = w.ttft_seconds ?? {};
  setText("stat-ttft", formatSeconds(ttft.p50));
  setText("stat-ttft-p99", `p99 ${formatSeconds(ttft.p99)}`);
  const cache = w.cache ?? {};
  setText("stat-hit-rate", formatPercent(cache.hit_rate));
  setText("stat-hits",
          `${formatInteger(cache.hits)} hits · ${formatInteger(cache.misses)} misses · ` +
          `${formatInteger(w.coalesced)} coalesced`);
  setText("stat-tokens", formatRate(w.tokens_per_second));
  const tokens = w.tokens ?? {};
  setText("stat-tokens-io", `${formatInteger(tokens.input)} in · ${formatInteger(tokens.output)} out`);
  setText("stat-cost", formatUsd(w.cost_usd));
  setText("stat-saved", `saved ${formatUsd(w.saved_usd)}`);
  const slowest = body.slowest_stage;
  setText("stat-slowest", slowest ?? "–");
  const stage = slowest ? w.stages?.[slowest] : null;
  setText("stat-slowest-share",
          stage ? `${formatPercent(stage.share)} of the time · ${formatSeconds(stage.seconds_per_request)}/req`
                : "");
  if (body.uptime_seconds != null) setText("uptime", `up ${formatUptime(body.uptime_seconds)}`);

  renderTop("top-models", body.top_models, [
    ["model", String],
    ["requests", formatInteger, "num"],
    ["tokens", formatInteger, "num"],
    ["cost_usd", formatUsd, "num"],
  ]);
  renderTop("top-keys", body.top_keys, [
    ["key", String],
    ["requests", formatInteger, "num"],
    ["cost_usd", formatUsd, "num"],
  ]);
  renderCharts(body.series?.points ?? []);
}

function formatUptime(s) {
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${Math.floor(s % 60)}s`;
  return `${Math.floor(s)}s`;
}

function renderAlerts(result) {
  const list = $("alerts");
  if (result.status !== 200) {
    showUnavailable("alerts-unavailable", "/admin/alerts", result);
    list.replaceChildren();
    return;
  }
  $("alerts-unavailable").hidden = true;
  const alerts = [...(result.body.alerts ?? [])].sort(
    (a, b) => (b.state === "firing") - (a.state === "firing") || a.name.localeCompare(b.name));
  const items = alerts.map((a) => {
    const li = document.createElement("li");
    li.dataset.alert = a.name;
    li.dataset.state = a.state;
    const badge = document.createElement("span");
    badge.className = `badge ${a.state === "firing" ? "down" : "up"}`;
    badge.textContent = a.state;
    const name = document.createElement("strong");
    name.textContent = a.name;
    const detail = document.createElement("span");
    detail.className = "detail";
    const since = a.since != null ? ` · since ${clock(a.since * 1000)}` : "";
    detail.textContent = `${a.kind}: ${a.value ?? "–"} against ${a.threshold ?? "–"} over ` +
                         `${a.window_seconds ?? "–"} s${since}`;
    li.append(badge, name, detail);
    return li;
  });
  if (items.length === 0) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = "No alert rules.";
    items.push(li);
  } else if (!result.body.firing) {
    const li = document.createElement("li");
    li.className = "none";
    li.textContent = "Nothing firing.";
    items.unshift(li);
  }
  list.replaceChildren(...items);
}

// ---------------------------------------------------------------------------------------------
// Charts, built on first data (uPlot sizes itself to a visible panel)

let charts = null;

function makeCharts() {
  return {
    requests: new Chart($("chart-requests"), {
      series: [
        { label: "requests/s", color: "--accent" },
        { label: "errors/s", color: "--bad" },
      ],
      format: formatRate,
    }),
    latency: new Chart($("chart-latency"), {
      series: [
        { label: "p50", color: "--accent" },
        { label: "p99", color: "--accent-2" },
      ],
      format: formatSeconds,
    }),
    ttft: new Chart($("chart-ttft"), {
      series: [{ label: "p50", color: "--accent" }],
      format: formatSeconds,
    }),
    hitRate: new Chart($("chart-hit-rate"), {
      series: [{ label: "hit rate", color: "--good" }],
      format: formatPercent,
      range: [0, 1],
    }),
    tokens: new Chart($("chart-tokens"), {
      series: [{ label: "tokens/s", color: "--accent" }],
      format: formatRate,
    }),
    cost: new Chart($("chart-cost"), {
      series: [
        { label: "cost", color: "--accent-2" },
        { label: "saved", color: "--good" },
      ],
      format: formatUsd,
    }),
  };
}

function column(points, field) {
  return points.map((p) => (p[field] == null ? null : p[field]));
}

function renderCharts(points) {
  if (!charts) charts = makeCharts();
  const xs = points.map((p) => p.t);
  charts.requests.update(xs, [column(points, "requests_per_second"), column(points, "errors_per_second")]);
  charts.latency.update(xs, [column(points, "p50_seconds"), column(points, "p99_seconds")]);
  charts.ttft.update(xs, [column(points, "ttft_p50_seconds")]);
  charts.hitRate.update(xs, [column(points, "hit_rate")]);
  charts.tokens.update(xs, [column(points, "tokens_per_second")]);
  charts.cost.update(xs, [column(points, "cost_usd"), column(points, "saved_usd")]);
}

// Charts take their colours from the scheme in force: rebuild them when it changes.
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  if (!charts) return;
  for (const chart of Object.values(charts)) {
    chart.build();
    chart.update(chart.data[0], chart.data.slice(1));
  }
});

// ---------------------------------------------------------------------------------------------
// The loop

function schedule(ms) {
  clearTimeout(state.timer);
  state.timer = setTimeout(poll, ms);
}

async function poll() {
  const now = Date.now();
  const askStats = now >= state.retryAt.stats;
  const askAlerts = now >= state.retryAt.alerts;
  const [deployments, stats, alerts] = await Promise.all([
    get("/admin/deployments"),
    askStats ? get("/admin/stats") : null,
    askAlerts ? get("/admin/alerts") : null,
  ]);
  if (state.waitingForKey) return;  // the form was shown meanwhile
  const results = [deployments, stats, alerts].filter(Boolean);
  if (results.some((r) => r.status === 401)) {
    askForKey();
    return;
  }
  if (deployments.status === 0) {
    setStatus("gateway unreachable; retrying", "down");
    schedule(POLL_MS);
    return;
  }
  keyAccepted();
  renderDeployments(deployments);
  if (stats) {
    if (stats.status === 404) state.retryAt.stats = now + MISSING_RETRY_MS;
    renderStats(stats);
  }
  if (alerts) {
    if (alerts.status === 404) state.retryAt.alerts = now + MISSING_RETRY_MS;
    renderAlerts(alerts);
  }
  if (deployments.status === 200) state.lastData = Date.now();
  if (Date.now() - state.lastData > STALE_MS) {
    setStatus(`no fresh data: ${messageOf(deployments)}`, "stale");
  } else {
    setStatus(`live · ${new Date().toLocaleTimeString()}`, "live");
  }
  // Aligned to the second, so the charts' points and the clock move together.
  schedule(POLL_MS - (Date.now() % POLL_MS));
}

poll();
