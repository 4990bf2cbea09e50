// Shared behaviour: confirmed actions (POST with the CSRF header) and live refresh on server-sent events.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function refreshLive() {
    const live = document.getElementById("live");
    if (!live) return;
    const response = await fetch(window.location.href, { headers: { Accept: "text/html" } });
    if (!response.ok) return;
    const doc = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = doc.getElementById("live");
    if (fresh) {
      live.innerHTML = fresh.innerHTML;
      document.dispatchEvent(new Event("live-updated"));
    }
  }
  window.alchemiserRefresh = refreshLive;

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  }

  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    if (!window.confirm(button.dataset.confirm)) return;
    const result = document.getElementById("action-result");
    try {
      if (button.dataset.action === "kill") {
        await post("/api/controls/kill", { on: button.dataset.on === "true" });
      } else if (button.dataset.action === "run") {
        await post("/api/controls/run", { broker: button.dataset.broker });
      } else if (button.dataset.action === "pause") {
        await post("/api/controls/pause", { strategy: button.dataset.strategy, paused: button.dataset.paused === "true" });
      } else if (button.dataset.action === "liquidate") {
        await post("/api/controls/liquidate", { broker: button.dataset.broker });
      }
      await refreshLive();
      const again = document.getElementById("action-result");
      if (again) again.textContent = "done";
    } catch (error) {
      if (result) result.textContent = "refused: " + error.message;
    }
  });

  if (document.getElementById("live") && window.EventSource) {
    const events = new EventSource("/api/events");
    events.addEventListener("run", () => { refreshLive(); });
    window.addEventListener("beforeunload", () => events.close());
  }
})();
