// The sweep page's headline curve (stitched out-of-sample equity, or the best configuration's), with plotly.
"use strict";
(function () {
  const holder = document.getElementById("curve-data");
  if (!holder) return;
  const curve = JSON.parse(holder.textContent);
  Plotly.newPlot("sweep-curve", [{ x: curve.dates, y: curve.equity, mode: "lines", name: "equity" }],
    { margin: { t: 10, r: 10, b: 40, l: 70 }, yaxis: { type: "log", tickprefix: "$" } },
    { displaylogo: false, responsive: true });
})();
