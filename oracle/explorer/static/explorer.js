// Proofcast Explorer: draws the Plotly charts of the current page and, when served live, polls
// the page's JSON endpoint and swaps in the fresh server-rendered fragment (no page reload).
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("explorer-config").textContent);
  const status = document.getElementById("refresh-status");

  function drawCharts() {
    const data = document.getElementById("chart-data");
    if (!data || typeof Plotly === "undefined") return;
    const charts = JSON.parse(data.textContent);
    for (const [id, figure] of Object.entries(charts)) {
      const el = document.getElementById(id);
      if (el) Plotly.react(el, figure.data, figure.layout, { displayModeBar: false, responsive: true });
    }
  }

  async function refresh() {
    try {
      const response = await fetch(config.api, { cache: "no-store" });
      const body = await response.json();
      if (!response.ok) throw new Error(body.detail || response.status);
      document.getElementById("page").innerHTML = body.html;
      drawCharts();
      status.textContent = "live: block " + body.block + ", refreshed " + new Date().toLocaleTimeString();
      status.dataset.refreshes = String(Number(status.dataset.refreshes || 0) + 1);
    } catch (err) {
      status.textContent = "refresh failed: " + err.message + " (retrying)";
    }
  }

  drawCharts();
  if (config.api && config.refresh > 0) setInterval(refresh, config.refresh * 1000);
})();
