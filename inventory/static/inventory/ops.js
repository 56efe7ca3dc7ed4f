// The ops page: streams stock changes and low-stock alerts from /ws/inventory/ (session cookie auth).
// No build step: plain ES2017, loaded with `defer`.
//
// History and resume: when the page opens (and when the warehouse filter changes) it loads the latest
// changes from the change feed (GET /api/v1/events?tail=...), shows them, then subscribes with
// `since` = the feed's next_after, so the server replays what happened in between and goes on live
// with no gap and no duplicate. It keeps, per subscription, the event id up to which it has everything
// and, after a reconnect, subscribes again with `since` = that id: what happened while it was
// disconnected is replayed.
(function () {
  "use strict";

  const body = document.body;
  const MAX_ROWS = Number(body.dataset.maxRows) || 200;
  const HISTORY = Number(body.dataset.history) || 100;
  const PING_MS = 25000;
  const SEEN_LIMIT = 5000; // event ids remembered to show each change once
  const MAX_RESYNCS = 3; // refused replays in a row before subscribing without since
  const warehouses = JSON.parse(document.getElementById("warehouse-data").textContent);
  const warehouseCodes = new Map(warehouses.map((w) => [w.id, w.code]));
  const select = document.getElementById("warehouse");
  const stateEl = document.getElementById("state");
  const changesBody = document.querySelector("#changes tbody");
  const alertsBody = document.querySelector("#alerts tbody");

  let socket = null;
  let opened = false; // a connection was open before (the next one resumes)
  let attempt = 0;
  let pingTimer = null;
  let wanted = new Map(); // channel name -> subscribe frame, for the current filter
  let acked = new Set(); // channels the server confirmed on this connection
  let pending = new Map(); // channel -> the since of the subscribe frame sent and not answered yet
  let alertFetch = 0; // bumps so a slow, outdated fetch is ignored
  const alerts = new Map(); // alert id -> {alert_id, product_id, sku, warehouse_id, ..., eventId}

  // --- where the page stands in the event log (see the README, "WebSocket protocol") -------------
  let historyFetch = 0; // bumps so a slow, outdated history load is ignored
  let historyLoaded = false; // the current filter's history is shown (or could not be loaded)
  let historyCursor = null; // its next_after: subscriptions with no cursor of their own start there
  let cursors = new Map(); // channel -> event id up to which every change of the channel is shown
  // Messages of one relay batch share `ts` and may come in any id order among themselves, but a batch
  // only starts once the one before it was delivered: a batch counts towards the cursors once a message
  // of a later batch arrives (until then a reconnect replays it again, and `seen` drops the copies).
  let batch = { ts: null, ids: new Map() };
  let resyncs = 0;
  const seen = new Set();
  const seenOrder = [];
  const items = new Map(); // "product:warehouse" -> newest known state {eventId, available, reorderPoint}

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

  function isId(value) {
    return typeof value === "number" && Number.isFinite(value);
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

  function channelOf(message) {
    if (message.type === "inventory:update") return "inventory.warehouse." + message.data.warehouse_id;
    const selected = selectedWarehouse();
    return selected === null ? "inventory.low_stock" : "inventory.low_stock." + selected;
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

  function sinceFor(channel) {
    return cursors.has(channel) ? cursors.get(channel) : historyCursor;
  }

  // Subscribe to what the filter wants and is not subscribed yet, each from where the page stands.
  function subscribeWanted() {
    if (!historyLoaded || !socket || socket.readyState !== WebSocket.OPEN) return;
    for (const [channel, frame] of wanted) {
      if (acked.has(channel) || pending.has(channel)) continue;
      const since = sinceFor(channel);
      pending.set(channel, since);
      send(since === null ? frame : Object.assign({ since: since }, frame));
    }
    updateLiveState();
  }

  function advance(channel, eventId) {
    if (isId(eventId) && !(cursors.get(channel) >= eventId)) cursors.set(channel, eventId);
  }

  function track(message) {
    if (!isId(message.event_id)) return;
    const channel = channelOf(message);
    if (!wanted.has(channel)) return;
    if (message.replay) {
      advance(channel, message.event_id); // a replay comes in id order
      return;
    }
    if (message.ts !== batch.ts) {
      for (const [done, eventId] of batch.ids) advance(done, eventId);
      batch = { ts: message.ts, ids: new Map() };
    }
    if (!(batch.ids.get(channel) >= message.event_id)) batch.ids.set(channel, message.event_id);
  }

  // --- history: the filter's latest changes, then the subscriptions --------------------------

  // (Re)load everything for the current filter: history, alerts, subscriptions from the history's end.
  function reload() {
    for (const channel of new Set([...acked, ...pending.keys()])) send({ type: "unsubscribe", channel: channel });
    acked = new Set();
    pending = new Map();
    wanted = wantedSubscriptions();
    cursors = new Map();
    batch = { ts: null, ids: new Map() };
    historyLoaded = false;
    historyCursor = null;
    seen.clear();
    seenOrder.length = 0;
    items.clear();
    alerts.clear();
    renderAlerts();
    changesBody.replaceChildren();
    document.getElementById("no-changes").hidden = false;
    updateLiveState();
    loadHistory();
    loadAlerts();
  }

  function loadHistory() {
    const token = ++historyFetch;
    const params = new URLSearchParams({ tail: String(HISTORY), limit: String(HISTORY) });
    params.append("type", "inventory.updated");
    params.append("type", "low_stock.raised");
    const selected = selectedWarehouse();
    if (selected !== null) params.set("warehouse_id", String(selected));
    fetch(body.dataset.eventsUrl + "?" + params, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status))))
      .then((page) => {
        if (token !== historyFetch) return;
        for (const event of page.results) {
          const type = event.type === "low_stock.raised" ? "low-stock:alert" : "inventory:update";
          show(type, event.data, event.id, event.created_at);
        }
        historyCursor = page.next_after;
        historyLoaded = true;
        subscribeWanted();
      })
      .catch((error) => {
        if (token !== historyFetch) return;
        console.warn("loading the latest changes failed; showing live ones only:", error);
        historyLoaded = true; // subscribe without since
        subscribeWanted();
      });
  }

  function show(type, data, eventId, ts) {
    if (isId(eventId)) {
      if (seen.has(eventId)) return;
      seen.add(eventId);
      seenOrder.push(eventId);
      while (seenOrder.length > SEEN_LIMIT) seen.delete(seenOrder.shift());
    }
    if (type === "inventory:update") {
      if (!inFilter(data.warehouse_id)) return;
      noteItem(data, eventId);
      addChange(data, ts, eventId);
      followItem(data, eventId);
    } else if (type === "low-stock:alert") {
      onAlert(data, ts, eventId);
    }
  }

  // --- stock changes ------------------------------------------------------------------------

  function addChange(item, ts, eventId) {
    const row = document.createElement("tr");
    row.className = "fresh" + (item.available_quantity <= item.reorder_point ? " low" : "");
    row.dataset.productId = item.product_id;
    row.dataset.warehouseId = item.warehouse_id;
    if (isId(eventId)) row.dataset.eventId = eventId;
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

  function itemKey(productId, warehouseId) {
    return productId + ":" + warehouseId;
  }

  function noteItem(item, eventId) {
    const key = itemKey(item.product_id, item.warehouse_id);
    const known = items.get(key);
    if (known && isId(known.eventId) && isId(eventId) && known.eventId > eventId) return;
    items.set(key, { eventId: eventId, available: item.available_quantity, reorderPoint: item.reorder_point });
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

  function onAlert(data, ts, eventId) {
    if (!inFilter(data.warehouse_id)) return;
    const state = items.get(itemKey(data.product_id, data.warehouse_id));
    const later = state && isId(state.eventId) && isId(eventId) && state.eventId > eventId;
    if (later && state.available > state.reorderPoint) return; // a replayed alert that is resolved by now
    const alert = Object.assign({ status: "open", created_at: ts }, data, { eventId: eventId });
    if (later) alert.current_quantity = state.available;
    alerts.set(data.alert_id, alert);
    renderAlerts();
  }

  function followItem(item, eventId) {
    // An update tells whether the item's alert is still current: above the reorder point resolves it.
    let changed = false;
    for (const [id, alert] of alerts) {
      if (alert.product_id !== item.product_id || alert.warehouse_id !== item.warehouse_id) continue;
      if (isId(alert.eventId) && isId(eventId) && alert.eventId > eventId) continue; // the alert is newer
      if (item.available_quantity > item.reorder_point) alerts.delete(id);
      else alert.current_quantity = item.available_quantity;
      changed = true;
    }
    if (changed) renderAlerts();
  }

  // --- the socket ---------------------------------------------------------------------------

  function onSubscribed(message) {
    const channel = message.channel;
    if (!wanted.has(channel)) {
      send({ type: "unsubscribe", channel: channel }); // answer to an outdated filter
      return;
    }
    const since = isId(message.since) ? message.since : null;
    if (!pending.has(channel) || pending.get(channel) !== since) return; // an answer to an older subscribe
    pending.delete(channel);
    acked.add(channel);
    advance(channel, message.last_event_id); // everything of the channel up to it has come
    updateLiveState();
    if (acked.size === wanted.size) resyncs = 0;
  }

  function onError(message) {
    console.warn("live feed error:", message.code, message.detail);
    if (!message.channel || !pending.has(message.channel)) return;
    // The server could not replay from our cursor (events purged, too many, unknown): start afresh.
    resyncs += 1;
    if (resyncs <= MAX_RESYNCS) {
      reload();
    } else {
      pending.delete(message.channel);
      cursors.delete(message.channel);
      historyCursor = null;
      subscribeWanted(); // live only
    }
  }

  function onMessage(event) {
    let message;
    try {
      message = JSON.parse(event.data);
    } catch (error) {
      return;
    }
    switch (message.type) {
      case "inventory:update":
      case "low-stock:alert":
        if (!historyLoaded) return; // the old filter's: the history and the replay cover what counts
        track(message);
        show(message.type, message.data, message.event_id, message.ts);
        break;
      case "subscribed":
        onSubscribed(message);
        break;
      case "error":
        onError(message);
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
      pending = new Map();
      batch = { ts: null, ids: new Map() }; // an unfinished batch is replayed again: not counted
      clearInterval(pingTimer);
      pingTimer = setInterval(() => send({ type: "ping" }), PING_MS);
      if (opened) {
        // A reconnect: each subscription resumes from where the page stands; alerts are fetched afresh.
        alerts.clear();
        renderAlerts();
        loadAlerts();
      }
      opened = true;
      subscribeWanted(); // (on the first connection, once the history is in)
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
    resyncs = 0;
    reload();
  });

  reload(); // the history loads while the socket connects
  connect();
})();
