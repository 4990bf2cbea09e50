// The backtest form: validated on the server, run in its worker; progress is polled, then charts drawn.
"use strict";
(function () {
  const form = document.getElementById("backtest-form");
  const status = document.getElementById("backtest-status");
  const bar = document.getElementById("backtest-progress");
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const POLL_MS = 400;

  function request() {
    const data = new FormData(form);
    const strategies = data.getAll("strategy");
    const body = {
      strategies: strategies,
      weights: strategies.map((n) => Number(data.get("weight-" + n))),
      start: data.get("start") || null, end: data.get("end") || null,
      rebalance: data.get("rebalance") || null, fill: data.get("fill"),
      slippage_bps: Number(data.get("slippage_bps")), fee_bps: Number(data.get("fee_bps")),
      benchmark: (data.get("benchmark") || "").trim().toUpperCase() || null,
    };
    return body;
  }

  function draw(job) {
    document.getElementById("backtest-result").hidden = false;  // before plotting: Plotly sizes to its container
    const c = job.charts;
    const layout = (extra) => Object.assign({ margin: { t: 10, r: 10, b: 40, l: 60 }, legend: { orientation: "h" } }, extra);
    const config = { displaylogo: false, responsive: true };
    Plotly.newPlot("bt-equity", Object.entries(c.equity).map(([name, ys]) => ({ x: c.dates, y: ys, name: name, mode: "lines" })),
      layout({ yaxis: { type: "log", tickprefix: "$" } }), config);
    Plotly.newPlot("bt-drawdown", [{ x: c.dates, y: c.drawdown, fill: "tozeroy", mode: "lines", name: "drawdown" }],
      layout({ yaxis: { tickformat: ".0%" } }), config);
    Plotly.newPlot("bt-weights", Object.entries(c.weights).map(([name, ys]) => ({ x: c.dates, y: ys, name: name, stackgroup: "w", mode: "none" })),
      layout({ yaxis: { tickformat: ".0%", range: [0, 1] } }), config);
    const table = document.getElementById("bt-metrics");
    table.innerHTML = "";
    const head = table.createTHead().insertRow();
    for (const name of ["metric", ...job.result.table.columns]) { const th = document.createElement("th"); th.textContent = name; head.appendChild(th); }
    const body = table.createTBody();
    for (const row of job.result.table.rows) {
      const tr = body.insertRow();
      row.forEach((cell, i) => { const td = tr.insertCell(); td.textContent = cell; if (i) td.className = "num"; });
    }
    const files = document.getElementById("backtest-files");
    files.innerHTML = "Downloads: ";
    for (const name of job.files) {
      const a = document.createElement("a");
      a.href = "/api/backtests/" + job.id + "/files/" + name; a.textContent = name; a.className = "download";
      files.appendChild(a); files.appendChild(document.createTextNode(" "));
    }
  }

  function fill(req) {  // show the request a kept job ran with, so the form and the charts agree
    if (!req || !req.strategies) return;
    for (const box of form.querySelectorAll('input[name="strategy"]')) {
      const at = req.strategies.indexOf(box.value);
      box.checked = at >= 0;
      const share = form.querySelector('input[name="weight-' + box.value + '"]');
      if (at >= 0 && share) share.value = req.weights ? req.weights[at] : 1;
    }
    const set = (name, value) => { const el = form.querySelector('[name="' + name + '"]'); if (el) el.value = value ?? ""; };
    set("start", req.start); set("end", req.end); set("rebalance", req.rebalance || ""); set("fill", req.fill);
    set("slippage_bps", req.slippage_bps); set("fee_bps", req.fee_bps); set("benchmark", req.benchmark || "");
  }

  async function poll(id) {
    const response = await fetch("/api/backtests/" + id + "?charts=0");
    const job = await response.json();
    if (!response.ok) { status.textContent = "error: " + job.error; return; }
    if (job.status === "done") {
      const full = await (await fetch("/api/backtests/" + id)).json();
      if (status.dataset.show === id) fill(full.request);
      bar.hidden = true;
      status.textContent = "done: " + full.result.start + " → " + full.result.end + ", " + full.result.days + " sessions";
      draw(full);
    } else if (job.status === "failed" || job.status === "interrupted") {
      bar.hidden = true;
      status.textContent = job.status + ": " + job.error;
    } else {
      bar.hidden = false;
      bar.max = job.progress.total || 1; bar.value = job.progress.done;
      status.textContent = job.status + "… " + job.progress.done + " / " + (job.progress.total || "?");
      window.setTimeout(() => poll(id), POLL_MS);
    }
  }

  async function start(url, body) {
    document.getElementById("backtest-result").hidden = true;
    status.textContent = "starting…";
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify(body),
    });
    const job = await response.json();
    if (!response.ok) { status.textContent = "refused: " + job.error; return; }
    poll(job.id);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    start("/api/backtests", request());
  });
  for (const button of document.querySelectorAll("button.rerun")) {
    button.addEventListener("click", () => start("/api/backtests/" + button.dataset.job + "/rerun", {}));
  }
  if (status.dataset.show) poll(status.dataset.show);  // /backtests?job=ID shows a kept result
})();
