// Sleeve values over time (Plotly, served locally).
"use strict";
(function () {
  function draw() {
    const holder = document.getElementById("sleeve-chart");
    if (!holder || !window.Plotly) return;
    const series = JSON.parse(document.getElementById("sleeve-data").textContent);
    const names = JSON.parse(document.getElementById("sleeve-names").textContent);
    const traces = series.map((points, i) => ({ x: points.map((p) => p[0]), y: points.map((p) => p[1]), name: names[i], mode: "lines+markers" }));
    Plotly.newPlot(holder, traces, { margin: { t: 10, r: 10, b: 40, l: 70 }, yaxis: { tickprefix: "$" }, legend: { orientation: "h" } },
      { displaylogo: false, responsive: true });
  }
  draw();
  document.addEventListener("live-updated", draw);
})();
