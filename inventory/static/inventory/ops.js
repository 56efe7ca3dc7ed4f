// The ops page: streams stock changes and low-stock alerts from /ws/inventory/ (session cookie auth).
// No build step: plain ES2017, loaded with `defer`.
(function () {
  "use strict";

  const body = document.body;
  const MAX_ROWS = Number(body.dataset.maxRows) || 200;
  const PING_MS = 25000;
  const warehouses = JSON.parse(document.getElementById("warehouse-data").textContent);
  const warehouseCodes = new Map(warehouses.map((w) => [w.id, w.code]));
  const select = document.getElementById("warehouse");
  const stateEl = document.getElementById("state");
  const changesBody = document.querySelector("#changes tbody");
  const alertsBody = document.querySelector("#alerts tbody");

  let socket = null;
  let attempt = 0;
  let pingTimer = null;
  let wanted = new Map(); // channel name -> subscribe frame, for the current filter
  let acked = new Set(); // channels the server confirmed on this connection
  let alertFetch = 0; // bumps so a slow, outdated fetch is ignored
  const alerts = new Map(); // alert id -> {alert_id, product_id, sku, warehouse_id, ...}

  function setState(state) {
    stateEl.dataset.state = state;
    stateEl.textContent = state;
  }

  function selectedWarehouse() {
    return select.value ? Number(select.value) : null;
  }

  function inFilter(warehouseId) {
    const selected = selectedWarehouse();
    return selected === null || selected === warehouseId;
  }

  function warehouseLabel(id) {
    return warehouseCodes.get(id) || "#" + id;
  }

  function timeLabel(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString();
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  // --- subscriptions (group names as the server names them, see the README) -----------------

  function wantedSubscriptions() {
    const result = new Map();
    const selected = selectedWarehouse();
    const ids = selected === null ? warehouses.map((w) => w.id) : [selected];
    for (const id of ids) {
      result.set("inventory.warehouse." + id, { type: "subscribe:warehouse", warehouse_id: id });
    }
    if (selected === null) {
      result.set("inventory.low_stock", { type: "subscribe:low-stock" });
    } else {
      result.set("inventory.low_stock." + selected, { type: "subscribe:low-stock", warehouse_id: selected });
    }
    return result;
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function updateLiveState() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    for (const channel of wanted.keys()) {
      if (!acked.has(channel)) {
        setState("connecting");
        return;
      }
    }
    setState("live");
  }

  function resubscribe() {
    wanted = wantedSubscriptions();
    for (const channel of Array.from(acked)) {
      if (!wanted.has(channel)) {
        send({ type: "unsubscribe", channel: channel });
        acked.delete(channel);
      }
    }
    for (const [channel, frame] of wanted) {
      if (!acked.has(channel)) send(frame);
    }
    updateLiveState();
  }

  // --- stock changes ------------------------------------------------------------------------

  function addChange(item, ts) {
    const row = document.createElement("tr");
    row.className = "fresh" + (item.available_quantity <= item.reorder_point ? " low" : "");
    row.dataset.productId = item.product_id;
    row.dataset.warehouseId = item.warehouse_id;
    cell(row, timeLabel(ts));
    cell(row, item.sku, "sku");
    cell(row, warehouseLabel(item.warehouse_id));
    cell(row, item.available_quantity, "num available");
    cell(row, item.reserved_quantity, "num reserved");
    cell(row, item.total_quantity, "num total");
    cell(row, item.reorder_point, "num");
    changesBody.insertBefore(row, changesBody.firstChild);
    while (changesBody.rows.length > MAX_ROWS) changesBody.deleteRow(-1);
    document.getElementById("no-changes").hidden = true;
  }

  // --- alerts -------------------------------------------------------------------------------

  function renderAlerts() {
    const sorted = Array.from(alerts.values()).sort((a, b) => b.alert_id - a.alert_id);
    const rows = sorted.map((alert) => {
      const row = document.createElement("tr");
      row.className = "low";
      row.dataset.alertId = alert.alert_id;
      row.dataset.productId = alert.product_id;
      row.dataset.warehouseId = alert.warehouse_id;
      cell(row, alert.sku, "sku");
      cell(row, warehouseLabel(alert.warehouse_id));
      cell(row, alert.current_quantity, "num available");
      cell(row, alert.reorder_point, "num");
      cell(row, alert.status || "open", "status");
      cell(row, timeLabel(alert.created_at));
      return row;
    });
    alertsBody.replaceChildren(...rows);
    document.getElementById("alert-count").textContent = "(" + rows.length + ")";
    document.getElementById("no-alerts").hidden = rows.length > 0;
  }

  function loadAlerts() {
    const token = ++alertFetch;
    const params = new URLSearchParams({ status: "active", page_size: "500" });
    const selected = selectedWarehouse();
    if (selected !== null) params.set("warehouse_id", String(selected));
    fetch(body.dataset.alertsUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status))))
      .then((page) => {
        if (token !== alertFetch) return;
        for (const alert of page.results) {
          alerts.set(alert.id, Object.assign({ alert_id: alert.id }, alert));
        }
        renderAlerts();
      })
      .catch((error) => console.warn("loading low-stock alerts failed:", error));
  }

  function onAlert(data, ts) {
    if (!inFilter(data.warehouse_id)) return;
    alerts.set(data.alert_id, Object.assign({ status: "open", created_at: ts }, data));
    renderAlerts();
  }

  function followItem(item) {
    // An update tells whether the item's alert is still current: above the reorder point resolves it.
    let changed = false;
    for (const [id, alert] of alerts) {
      if (alert.product_id !== item.product_id || alert.warehouse_id !== item.warehouse_id) continue;
      if (item.available_quantity > item.reorder_point) alerts.delete(id);
      else alert.current_quantity = item.available_quantity;
      changed = true;
    }
    if (changed) renderAlerts();
  }

  // --- the socket ---------------------------------------------------------------------------

  function onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    switch (message.type) {
      case "inventory:update":
        if (!inFilter(message.data.warehouse_id)) return;
        addChange(message.data, message.ts);
        followItem(message.data);
        break;
      case "low-stock:alert":
        onAlert(message.data, message.ts);
        break;
      case "subscribed":
        if (wanted.has(message.channel)) acked.add(message.channel);
        else send({ type: "unsubscribe", channel: message.channel }); // answer to an outdated filter
        updateLiveState();
        break;
      case "error":
        console.warn("live feed error:", message.code, message.detail);
        break;
      default:
        break;
    }
  }

  function connect() {
    setState(attempt === 0 ? "connecting" : "reconnecting");
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const ws = new WebSocket(scheme + window.location.host + body.dataset.wsPath);
    socket = ws;
    ws.addEventListener("open", () => {
      attempt = 0;
      acked = new Set();
      alerts.clear();
      renderAlerts();
      resubscribe();
      loadAlerts();
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
    });
    ws.addEventListener("message", onMessage);
    ws.addEventListener("close", () => {
      if (socket !== ws) return;
      clearInterval(pingTimer);
      socket = null;
      attempt += 1;
      setState("reconnecting");
      // Exponential backoff with jitter: 0.5 s, 1 s, 2 s ... up to 30 s.
      const delay = Math.min(30000, 500 * 2 ** Math.min(attempt - 1, 6)) * (0.5 + Math.random() / 2);
      setTimeout(connect, delay);
    });
  }

  select.addEventListener("change", () => {
    alerts.clear();
    renderAlerts();
    changesBody.replaceChildren();
    document.getElementById("no-changes").hidden = false;
    resubscribe();
    loadAlerts();
  });

  connect();
})();
