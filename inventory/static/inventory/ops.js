// The ops dashboard: tiles per warehouse, the last hour's charts, the latest changes and the open alerts.
// No build step: plain ES2017, loaded with `defer` after charts.js.
//
// Where the data comes from: the page opens with GET /ops/api/dashboard, read in one database snapshot
// (tiles, chart history, open alerts, the latest changes of the filter) with the change-feed position it
// stands at (`next_after`, plus `counted`: later events already in the figures). From there it follows the
// change feed with GET /ops/api/activity?after=..., so nothing is missed or counted twice. The WebSocket
// (/ws/inventory/, session cookie) is the doorbell: any message, and every (re)connect, makes the page read
// the activity at once; a slow poll covers warehouses beyond the socket's subscription limit.
(function () {
  "use strict";

  const body = document.body;
  const MAX_ROWS = Number(body.dataset.maxRows) || 200;
  const PING_MS = 25000;
  const POLL_MS = 15000;
  const MINUTE = 60000;
  const WINDOW = 60; // minutes in the charts
  const COLORS = ["#2563eb", "#d97706", "#059669", "#9333ea", "#db2777", "#0891b2", "#65a30d", "#dc2626"];
  const RESERVATION_SERIES = [
    { key: "created", label: "Created", color: "#2563eb" },
    { key: "confirmed", label: "Confirmed", color: "#059669" },
    { key: "released", label: "Released", color: "#9ca3af" },
    { key: "expired", label: "Expired", color: "#d97706" },
  ];

  const warehouses = JSON.parse(document.getElementById("warehouse-data").textContent);
  const bellWarehouses = JSON.parse(document.getElementById("bell-data").textContent);
  const warehouseCodes = new Map(warehouses.map((w) => [w.id, w.code]));
  const select = document.getElementById("warehouse");
  const stateEl = document.getElementById("state");
  const tilesEl = document.getElementById("tiles");
  const changesBody = document.querySelector("#changes tbody");
  const alertsBody = document.querySelector("#alerts tbody");
  const figures = {
    movements: document.getElementById("chart-movements"),
    reservations: document.getElementById("chart-reservations"),
    alerts: document.getElementById("chart-alerts"),
  };

  // --- where the page stands ---------------------------------------------------------------------
  let generation = 0; // bumps with every snapshot: answers to older requests are dropped
  let cursor = null; // the feed position everything shown and counted is up to (null: loading)
  let counted = new Set(); // events after the cursor that the snapshot already counted
  let following = false;
  let followAgain = false;
  let skew = 0; // server clock minus this clock, in ms (the charts' current minute is the server's)
  let shownUpTo = 0; // the newest event id shown before the last render (newer rows flash)

  const rows = new Map(); // event id -> change row
  const alerts = new Map(); // alert id -> alert
  let tiles = [];
  const movements = new Map(); // warehouse id -> Map(minute ms -> ledger rows)
  const reservations = new Map(RESERVATION_SERIES.map((s) => [s.key, new Map()])); // kind -> Map(minute -> n)
  const alertLevels = new Map(); // minute ms -> active alerts at its end

  // --- small helpers --------------------------------------------------------------------------------

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
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour12: false });
  }

  function minuteOf(iso) {
    const ms = Date.parse(iso);
    return isNaN(ms) ? null : ms - (ms % MINUTE);
  }

  function windowMinutes() {
    const now = Date.now() + skew;
    const last = now - (now % MINUTE);
    return Array.from({ length: WINDOW }, (_, n) => last - (WINDOW - 1 - n) * MINUTE);
  }

  function signed(value) {
    if (value === null || value === undefined) return "—";
    if (value > 0) return "+" + value;
    if (value < 0) return "\u2212" + -value;
    return "0";
  }

  function cell(row, text, className) {
    const td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function add(map, key, amount) {
    map.set(key, (map.get(key) || 0) + amount);
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then((response) => {
      if (response.ok) return response.json();
      const error = new Error("HTTP " + response.status);
      error.status = response.status;
      throw error;
    });
  }

  // --- rendering (batched: many events in a row draw once) -------------------------------------------

  let drawQueued = false;
  const dirty = new Set();

  function redraw(...parts) {
    for (const part of parts) dirty.add(part);
    if (drawQueued) return;
    drawQueued = true;
    requestAnimationFrame(() => {
      drawQueued = false;
      if (dirty.has("tiles")) renderTiles();
      if (dirty.has("charts")) renderCharts();
      if (dirty.has("rows")) renderRows();
      if (dirty.has("alerts")) renderAlerts();
      dirty.clear();
    });
  }

  function renderTiles() {
    const selected = selectedWarehouse();
    const nodes = tiles.map((tile) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "tile";
      button.dataset.warehouseId = tile.warehouse_id;
      button.setAttribute("aria-pressed", String(selected === tile.warehouse_id));
      button.title = "Show only " + tile.code + "'s changes and alerts (" + tile.items + " items)";
      const name = document.createElement("span");
      name.className = "name";
      const code = document.createElement("span");
      code.className = "code";
      code.textContent = tile.code + " ";
      name.append(code, tile.name + (tile.is_active ? "" : " (inactive)"));
      const list = document.createElement("dl");
      const figures = [
        ["On hand", "on-hand", tile.on_hand],
        ["Available", "available", tile.available],
        ["Reserved", "reserved", tile.reserved],
        ["Low items", "low-items" + (tile.low_items ? " some" : ""), tile.low_items],
      ];
      for (const [label, className, value] of figures) {
        const group = document.createElement("div");
        const term = document.createElement("dt");
        term.textContent = label;
        const amount = document.createElement("dd");
        amount.className = className;
        amount.textContent = Number(value).toLocaleString();
        group.append(term, amount);
        list.appendChild(group);
      }
      button.append(name, list);
      button.addEventListener("click", () => {
        select.value = selected === tile.warehouse_id ? "" : String(tile.warehouse_id);
        select.dispatchEvent(new Event("change"));
      });
      return button;
    });
    tilesEl.replaceChildren(...nodes);
  }

  function levelAt(minute) {
    // The level of the newest minute at or before `minute` that has one (0 before any).
    let best = null;
    for (const key of alertLevels.keys()) {
      if (key <= minute && (best === null || key > best)) best = key;
    }
    return best === null ? 0 : alertLevels.get(best);
  }

  function forgetBefore(start) {
    for (const perMinute of [...movements.values(), ...reservations.values()]) {
      for (const minute of perMinute.keys()) if (minute < start) perMinute.delete(minute);
    }
    const carried = levelAt(start); // the level going into the window stays as its first minute's
    for (const minute of alertLevels.keys()) if (minute < start) alertLevels.delete(minute);
    if (!alertLevels.has(start)) alertLevels.set(start, carried);
  }

  function renderCharts() {
    if (!window.OpsCharts) return;
    const minutes = windowMinutes();
    forgetBefore(minutes[0]);
    const known = new Set(tiles.map((t) => t.warehouse_id));
    const ids = tiles.map((t) => t.warehouse_id).concat([...movements.keys()].filter((id) => !known.has(id)));
    window.OpsCharts.draw(figures.movements, {
      kind: "stacked",
      unit: "movements",
      minutes: minutes,
      series: ids.map((id, n) => ({
        key: String(id),
        label: warehouseLabel(id),
        color: COLORS[n % COLORS.length],
        values: minutes.map((m) => (movements.get(id) || new Map()).get(m) || 0),
      })),
    });
    window.OpsCharts.draw(figures.reservations, {
      kind: "lines",
      unit: "reservations",
      minutes: minutes,
      series: RESERVATION_SERIES.map((s) => Object.assign({ values: minutes.map((m) => reservations.get(s.key).get(m) || 0) }, s)),
    });
    window.OpsCharts.draw(figures.alerts, {
      kind: "step",
      unit: "open",
      minutes: minutes,
      series: [{ key: "open", label: "Open alerts", color: "#dc2626", values: minutes.map(levelAt) }],
    });
  }

  function renderRows() {
    const shown = [...rows.values()]
      .filter((change) => inFilter(change.warehouse_id))
      .sort((a, b) => b.event_id - a.event_id)
      .slice(0, MAX_ROWS);
    const nodes = shown.map((change) => {
      const row = document.createElement("tr");
      const low = change.available_quantity <= change.reorder_point;
      row.className = (change.event_id > shownUpTo && shownUpTo ? "fresh" : "") + (low ? " low" : "");
      row.dataset.eventId = change.event_id;
      row.dataset.productId = change.product_id;
      row.dataset.warehouseId = change.warehouse_id;
      row.dataset.type = change.type;
      row.title =
        "On hand " + change.total_quantity + " (" + signed(change.on_hand_change) + "), reserved " +
        change.reserved_quantity + ", reorder point " + change.reorder_point;
      cell(row, timeLabel(change.created_at), "time");
      cell(row, change.sku, "sku");
      cell(row, warehouseLabel(change.warehouse_id), "warehouse");
      const amount = change.type === "settings" ? null : change.change;
      cell(row, signed(amount), "num change" + (amount > 0 ? " up" : amount < 0 ? " down" : ""));
      cell(row, change.type_label, "type");
      cell(row, change.who || "—", "who");
      cell(row, change.available_quantity, "num available");
      return row;
    });
    changesBody.replaceChildren(...nodes);
    if (shown.length) shownUpTo = Math.max(shownUpTo, shown[0].event_id);
    document.getElementById("no-changes").hidden = shown.length > 0;
    document.getElementById("change-count").textContent = "(newest first, last " + MAX_ROWS + ")";
  }

  function renderAlerts() {
    const shown = [...alerts.values()]
      .filter((alert) => inFilter(alert.warehouse_id))
      .sort((a, b) => b.id - a.id);
    const nodes = shown.map((alert) => {
      const row = document.createElement("tr");
      row.className = "low";
      row.dataset.alertId = alert.id;
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
    alertsBody.replaceChildren(...nodes);
    document.getElementById("alert-count").textContent = "(" + nodes.length + ")";
    document.getElementById("no-alerts").hidden = nodes.length > 0;
  }

  // --- the snapshot ----------------------------------------------------------------------------------

  function loadDashboard() {
    const token = ++generation;
    cursor = null; // no following until the snapshot is in (answers to the old one are dropped)
    updateState();
    const selected = selectedWarehouse();
    const query = selected === null ? "" : "?warehouse_id=" + selected;
    getJSON(body.dataset.dashboardUrl + query)
      .then((data) => {
        if (token !== generation) return;
        applySnapshot(data);
        updateState();
        follow(); // what happened while the snapshot travelled
      })
      .catch((error) => {
        if (token !== generation) return;
        console.warn("loading the dashboard failed; retrying:", error);
        setTimeout(() => token === generation && loadDashboard(), 3000);
      });
  }

  function applySnapshot(data) {
    skew = Date.parse(data.now) - Date.now();
    counted = new Set(data.counted);
    tiles = data.warehouses;
    movements.clear();
    const minutes = data.charts.minutes.map(minuteOf);
    for (const [id, values] of Object.entries(data.charts.movements)) {
      movements.set(Number(id), new Map(values.map((n, i) => [minutes[i], n])));
    }
    for (const [kind, values] of Object.entries(data.charts.reservations)) {
      if (reservations.has(kind)) reservations.set(kind, new Map(values.map((n, i) => [minutes[i], n])));
    }
    alertLevels.clear();
    data.charts.open_alerts.forEach((level, i) => alertLevels.set(minutes[i], level));
    alerts.clear();
    for (const alert of data.alerts) alerts.set(alert.id, alert);
    // Rows already here stay (a filter change never empties the list); the snapshot adds the filter's history.
    for (const change of data.changes) rows.set(change.event_id, change);
    trimRows();
    cursor = data.next_after;
    redraw("tiles", "charts", "rows", "alerts");
  }

  function trimRows() {
    // The newest MAX_ROWS of each warehouse: enough for any filter, and a quiet warehouse keeps its own.
    const perWarehouse = new Map();
    for (const change of rows.values()) {
      if (!perWarehouse.has(change.warehouse_id)) perWarehouse.set(change.warehouse_id, []);
      perWarehouse.get(change.warehouse_id).push(change.event_id);
    }
    for (const ids of perWarehouse.values()) {
      if (ids.length <= MAX_ROWS) continue;
      ids.sort((a, b) => b - a);
      for (const id of ids.slice(MAX_ROWS)) rows.delete(id);
    }
  }

  // --- following the feed ------------------------------------------------------------------------------

  function follow() {
    if (cursor === null) return;
    if (following) {
      followAgain = true;
      return;
    }
    following = true;
    followAgain = false;
    const token = generation;
    getJSON(body.dataset.activityUrl + "?after=" + cursor)
      .then((data) => {
        if (token !== generation) return;
        applyActivity(data);
        if (data.more) followAgain = true;
      })
      .catch((error) => {
        if (token !== generation) return;
        if (error.status === 410) loadDashboard(); // events purged past our cursor: start afresh
        else console.warn("following the change feed failed; retrying on the next change:", error);
      })
      .finally(() => {
        following = false;
        if (followAgain && cursor !== null) follow();
      });
  }

  function fresh(eventId) {
    // Counted by the snapshot already? Then only its row is new to the page.
    if (!counted.has(eventId)) return true;
    counted.delete(eventId);
    return false;
  }

  function applyActivity(data) {
    const steps = []
      .concat(data.changes.map((change) => ({ id: change.event_id, change: change })))
      .concat(data.alerts.map((alert) => ({ id: alert.event_id, alert: alert })))
      .concat(data.reservations.map((reservation) => ({ id: reservation.event_id, reservation: reservation })))
      .sort((a, b) => a.id - b.id);
    for (const step of steps) {
      const counts = fresh(step.id);
      if (step.change) onChange(step.change, counts);
      else if (step.alert) onAlertEvent(step.alert, counts);
      else if (counts) {
        const minute = minuteOf(step.reservation.created_at);
        if (minute !== null && reservations.has(step.reservation.kind)) add(reservations.get(step.reservation.kind), minute, 1);
      }
    }
    tiles = data.warehouses;
    cursor = data.next_after;
    trimRows();
    redraw("tiles", "charts", "rows", "alerts");
  }

  function onChange(change, counts) {
    rows.set(change.event_id, change); // every warehouse's: a later filter change shows them at once
    if (counts && change.movements) {
      const minute = minuteOf(change.moved_at);
      if (minute !== null) {
        if (!movements.has(change.warehouse_id)) movements.set(change.warehouse_id, new Map());
        add(movements.get(change.warehouse_id), minute, change.movements);
      }
    }
    // The alerts list shows the live available quantity.
    for (const alert of alerts.values()) {
      if (alert.product_id === change.product_id && alert.warehouse_id === change.warehouse_id) {
        alert.current_quantity = change.available_quantity;
        alert.reorder_point = change.reorder_point;
      }
    }
  }

  function onAlertEvent(event, counts) {
    const data = event.data;
    if (event.type === "low_stock.raised") {
      alerts.set(data.alert_id, {
        id: data.alert_id,
        status: data.status || "open",
        product_id: data.product_id,
        warehouse_id: data.warehouse_id,
        sku: data.sku,
        current_quantity: data.current_quantity,
        reorder_point: data.reorder_point,
        created_at: event.created_at,
      });
    } else {
      alerts.delete(data.alert_id);
    }
    if (counts) {
      const minute = minuteOf(event.created_at);
      if (minute === null) return;
      const delta = event.type === "low_stock.raised" ? 1 : -1;
      if (!alertLevels.has(minute)) alertLevels.set(minute, levelAt(minute));
      for (const key of alertLevels.keys()) if (key >= minute) alertLevels.set(key, alertLevels.get(key) + delta);
    }
  }

  // --- the doorbell -------------------------------------------------------------------------------------

  let socket = null;
  let attempt = 0;
  let pingTimer = null;
  let acked = new Set();
  const wanted = new Map(bellWarehouses.map((id) => ["inventory.warehouse." + id, { type: "subscribe:warehouse", warehouse_id: id }]));
  wanted.set("inventory.low_stock", { type: "subscribe:low-stock" });

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function updateState() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return; // connecting / reconnecting is set by connect()
    setState(acked.size >= wanted.size && cursor !== null ? "live" : "connecting");
  }

  function onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    if (message.type === "subscribed") {
      acked.add(message.channel);
      updateState();
      if (acked.size >= wanted.size) follow(); // after a reconnect: what happened meanwhile
    } else if (message.type === "inventory:update" || message.type === "low-stock:alert") {
      follow();
    } else if (message.type === "error") {
      console.warn("live feed error:", message.code, message.detail);
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
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
      for (const frame of wanted.values()) send(frame);
      updateState();
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

  // --- wiring -------------------------------------------------------------------------------------------

  select.addEventListener("change", () => {
    redraw("tiles", "rows", "alerts"); // at once: the filter's rows and alerts already here
    loadDashboard(); // then the filter's history
  });

  let lastMinute = windowMinutes()[WINDOW - 1];
  setInterval(() => {
    const minute = windowMinutes()[WINDOW - 1];
    if (minute !== lastMinute) {
      lastMinute = minute;
      redraw("charts");
    }
  }, 5000);
  setInterval(follow, POLL_MS);
  window.addEventListener("resize", () => redraw("charts"));

  loadDashboard();
  connect();
})();
