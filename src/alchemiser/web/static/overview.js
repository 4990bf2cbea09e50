// The equity chart: every run's before/after snapshot (Plotly, served locally).
"use strict";
(function () {
  function draw() {
    const holder = document.getElementById("equity-chart");
    const source = document.getElementById("equity-data");
    if (!holder || !source || !window.Plotly) return;
    const points = JSON.parse(source.textContent);
    const trace = {
      x: points.map((p) => p.at), y: points.map((p) => p.equity), mode: "lines+markers", name: "run snapshots (before/after)",
      text: points.map((p) => p.run_id + " (" + p.kind + ")"), hovertemplate: "%{y:$,.2f}<br>%{text}<extra></extra>",
    };
    const marks = JSON.parse(document.getElementById("marks-data").textContent);
    const daily = { x: marks.map((m) => m.day + "T21:00:00Z"), y: marks.map((m) => m.equity), mode: "lines",
      name: "daily close", line: { width: 1 } };
    Plotly.newPlot(holder, [daily, trace], {
      margin: { t: 10, r: 10, b: 40, l: 70 }, yaxis: { tickprefix: "$" }, legend: { orientation: "h" },
    }, { displaylogo: false, responsive: true });
  }
  draw();
  document.addEventListener("live-updated", draw);
})();
