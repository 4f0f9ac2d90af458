// The feedback dashboard: reads /v1/reports/* with the admin token kept in sessionStorage.
"use strict";
(function () {
  const KEY = "handoff.adminToken";
  const REFRESH_MS = 10000;
  const $ = (id) => document.getElementById(id);
  const layout = (extra) => Object.assign({ margin: { t: 10, r: 10, b: 40, l: 50 }, showlegend: true,
    legend: { orientation: "h" }, font: { size: 12 } }, extra || {});
  const config = { displaylogo: false, responsive: true, modeBarButtonsToRemove: ["toImage"] };
  let timer = null;
  let generation = 0;

  function token() { return sessionStorage.getItem(KEY); }

  async function api(path) {
    const response = await fetch(path, { headers: { Authorization: "Bearer " + token() } });
    if (response.status === 401 || response.status === 403) { logout("That token was refused."); throw new Error("refused"); }
    if (!response.ok) {
      // A problem (RFC 9457): its detail says what is wrong (a 422 names the parameter).
      let detail = "";
      try { detail = (await response.json()).detail || ""; } catch (error) { detail = ""; }
      throw new Error(detail || path.split("?")[0] + ": " + response.status);
    }
    return response.json();
  }

  function showLogin(message) {
    $("app").classList.add("hidden");
    $("login").classList.remove("hidden");
    $("login-error").textContent = message || "";
    $("token").focus();
  }

  function logout(message) {
    sessionStorage.removeItem(KEY);
    if (timer) { clearInterval(timer); timer = null; }
    showLogin(message);
  }

  function range() {
    const days = Number($("f-days").value);
    const end = new Date();
    end.setDate(end.getDate() + 1);
    const start = new Date(end);
    start.setDate(start.getDate() - days);
    const day = (d) => d.toISOString().slice(0, 10);
    return "from=" + day(start) + "&to=" + day(end);
  }

  function segment() {  // the chosen values as they are: any character works, none is a separator
    const query = new URLSearchParams();
    ["source", "campaign", "team", "rep"].filter((name) => $("f-" + name).value)
      .forEach((name) => query.set(name, $("f-" + name).value));
    return query.toString();
  }

  async function fillFilter(name, groupBy) {
    const select = $("f-" + name);
    const summary = await api("/v1/reports/summary?group_by=" + groupBy + "&" + range());
    const chosen = select.value;  // read after the wait: the user may have changed it meanwhile
    const values = summary.rows.map((row) => row.segment[name]).filter(Boolean).sort();
    if (chosen && !values.includes(chosen)) { values.push(chosen); }  // keep the choice in a shorter range
    select.replaceChildren(new Option("all", ""), ...values.map((v) => new Option(v, v, false, v === chosen)));
  }

  function pct(x) { return (100 * x).toFixed(1) + " %"; }

  function drawTotals(total) {
    $("kpi-mqls").textContent = total.mqls;
    $("kpi-accepted").textContent = total.accepted;
    $("kpi-rejected").textContent = total.rejected;
    $("kpi-acceptance").textContent = total.decisions ? pct(total.acceptance_rate) : "–";
    $("kpi-sqls").textContent = total.sqls;
    $("kpi-sal-sql").textContent = total.accepted ? pct(total.sal_to_sql_rate) : "–";
    Plotly.react("funnel", [{ type: "funnel", y: ["MQL", "assigned", "accepted", "SQL"],
      x: [total.mqls, total.assigned, total.accepted, total.sqls], textinfo: "value+percent initial" }],
      layout({ showlegend: false, margin: { t: 10, r: 10, b: 20, l: 80 } }), config);
    const reasons = Object.entries(total.rejected_by_reason).sort((a, b) => b[1] - a[1]);
    Plotly.react("reasons", [{ type: "bar", orientation: "h", y: reasons.map((r) => r[0]), x: reasons.map((r) => r[1]) }],
      layout({ showlegend: false, margin: { t: 10, r: 10, b: 30, l: 150 }, yaxis: { autorange: "reversed" } }), config);
  }

  function drawSeries(points, thresholds) {
    const low = thresholds.acceptance_below, high = thresholds.acceptance_above;
    $("band").textContent = pct(low) + " and " + pct(high);
    const x = points.map((p) => p.window_start);
    const decided = points.map((p) => (p.decisions ? p.acceptance_rate : null));
    const band = (y0, y1, color) => ({ type: "rect", xref: "paper", x0: 0, x1: 1, y0: y0, y1: y1,
      fillcolor: color, opacity: 0.15, line: { width: 0 }, layer: "below" });
    Plotly.react("acceptance", [{ type: "scatter", mode: "lines+markers", name: "acceptance rate", x: x, y: decided,
      connectgaps: false }], layout({ yaxis: { range: [0, 1], tickformat: ".0%" },
      shapes: [band(0, low, "#d93025"), band(low, high, "#1e8e3e"), band(high, 1, "#f29900")] }), config);
    const minutes = (s) => (s === null ? null : s / 60);
    Plotly.react("time-to-accept", [
      { type: "scatter", mode: "lines+markers", name: "p50", x: x, y: points.map((p) => minutes(p.seconds_to_accept_p50)) },
      { type: "scatter", mode: "lines+markers", name: "p90", x: x, y: points.map((p) => minutes(p.seconds_to_accept_p90)) },
    ], layout({ yaxis: { title: { text: "minutes" }, rangemode: "tozero" } }), config);
    Plotly.react("escalations", ["remind", "escalate", "reassign"].map((level) => ({ type: "bar", name: level, x: x,
      y: points.map((p) => p.escalations[level] || 0) })), layout({ barmode: "stack" }), config);
  }

  function table(rows, columns) {
    if (!rows.length) { const p = document.createElement("p"); p.className = "empty"; p.textContent = "None."; return p; }
    const element = document.createElement("table");
    const head = element.createTHead().insertRow();
    columns.forEach((c) => { const th = document.createElement("th"); th.textContent = c[0]; head.appendChild(th); });
    const body = element.createTBody();
    rows.forEach((row) => {
      const tr = body.insertRow();
      columns.forEach((c) => { const td = tr.insertCell(); const v = c[1](row); td.textContent = v;
        if (c[2] && c[2](row)) { td.className = "flag"; } });
    });
    return element;
  }

  // A long table shows its first LIMIT rows (the ones that matter are sorted first) and a
  // button for the rest: with hundreds of reps the page stays one screen, not metres long.
  const LIMIT = 20;
  const expanded = {};
  function capped(id, rows, columns) {
    const all = expanded[id] || rows.length <= LIMIT;
    const shown = table(all ? rows : rows.slice(0, LIMIT), columns);
    if (rows.length <= LIMIT) { $(id).replaceChildren(shown); return; }
    const more = document.createElement("button");
    more.type = "button";
    more.className = "more";
    more.textContent = all ? "show the first " + LIMIT : "show all " + rows.length;
    more.addEventListener("click", () => { expanded[id] = !all; capped(id, rows, columns); });
    const note = document.createElement("p");
    note.className = "count";
    note.textContent = (all ? rows.length : LIMIT) + " of " + rows.length + " shown ";
    note.appendChild(more);
    $(id).replaceChildren(shown, note);
  }

  function drawAlerts(alerts) {
    capped("alerts", alerts.firing, [
      ["segment", (a) => Object.entries(a.segment).map((e) => e[0] + " " + e[1]).join(" · ") || "all"], ["direction", (a) => a.direction + " " + pct(a.threshold)],
      ["rate", (a) => (a.acceptance_rate === null ? "" : pct(a.acceptance_rate))], ["decisions", (a) => a.decisions],
      ["since", (a) => (a.since || "").replace("T", " ").slice(0, 16)]]);
  }

  function drawReps(reps) {
    const team = $("f-team").value, rep = $("f-rep").value;
    const rows = reps.rows.filter((r) => (!team || r.team_id === team) && (!rep || r.rep_id === rep));
    const decisions = (r) => r.accepted + r.rejected;
    rows.sort((a, b) => (b.flagged - a.flagged) || (decisions(b) - decisions(a))
      || a.team_id.localeCompare(b.team_id) || a.rep_id.localeCompare(b.rep_id));  // flagged, then busiest
    capped("reps", rows, [
      ["team", (r) => r.team_id], ["rep", (r) => r.rep_id],
      ["accepted", (r) => r.accepted], ["rejected", (r) => r.rejected], ["SQLs", (r) => r.sqls],
      ["signal", (r) => r.signals.filter((s) => s.flagged).map((s) => s.kind + ": " + s.why).join("; ") || "—", (r) => r.flagged]]);
  }

  function fillFilters() {  // on every refresh: a new campaign or rep appears without a reload
    return Promise.all([fillFilter("team", "team"), fillFilter("rep", "rep"), fillFilter("source", "source"),
      fillFilter("campaign", "campaign")]);
  }

  function showProblem(message) {
    $("problem").textContent = message;
    $("problem").classList.toggle("hidden", !message);
  }

  async function refresh() {
    const mine = ++generation;  // a filter change starts a refresh while another is in flight
    try {
      $("status").textContent = "refreshing…";
      await fillFilters();
      const [series, alerts, reps] = await Promise.all([
        api("/v1/reports/timeseries?" + segment() + "&window=" + $("f-window").value + "&" + range()),
        api("/v1/reports/alerts"),
        api("/v1/reports/reps?" + range()),
      ]);
      if (mine !== generation) { return; }  // a later refresh draws: its filters are the current ones
      drawTotals(series.total);
      drawSeries(series.points, alerts.thresholds);
      drawAlerts(alerts);
      drawReps(reps);
      showProblem("");
      $("status").textContent = "updated " + new Date().toLocaleTimeString() + " · every " + REFRESH_MS / 1000 + " s";
    } catch (error) {
      if (!token() || mine !== generation) { return; }  // refused (the login form says so), or stale
      showProblem("Could not refresh: " + error.message);
      $("status").textContent = "could not refresh";
    }
  }

  async function start() {
    $("login").classList.add("hidden");
    $("app").classList.remove("hidden");
    await refresh();
    if (token() && !timer) { timer = setInterval(refresh, REFRESH_MS); }  // not after a refused token
  }

  $("login").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("token").value.trim());
    $("token").value = "";
    start();
  });
  $("logout").addEventListener("click", () => logout(""));
  ["f-team", "f-rep", "f-source", "f-campaign", "f-days", "f-window"].forEach((id) => $(id).addEventListener("change", refresh));
  if (token()) { start(); } else { showLogin(""); }
})();
