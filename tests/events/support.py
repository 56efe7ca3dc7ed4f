"""Helpers of the relay tests: listeners on the channel layer, ``stock_updates`` and the WebSocket,
a small HTTP API client, and the comparison of the stock cache with the database."""

from __future__ import annotations

import asyncio
import copy
import json
import statistics
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache

from inventory import stock_cache
from inventory.models import Event, InventoryItem, Product, RelayCursor
from inventory.relay import REDIS_SINK, WEBHOOK_SINK

WAIT = 90.0  # seconds: generous deadlines, only reached when something is broken
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --- settings for a Redis of the test's own ------------------------------------------------------


def redis_settings(url: str) -> dict[str, Any]:
    """CACHES and CHANNEL_LAYERS as the settings build them, on another Redis (for ``override_settings``)."""
    caches = copy.deepcopy(settings.CACHES)
    caches["default"]["LOCATION"] = url
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    config = layers["default"]["CONFIG"]
    config["hosts"] = [{**host, "address": url} if isinstance(host, dict) else url for host in config["hosts"]]
    return {"CACHES": caches, "CHANNEL_LAYERS": layers, "REDIS_URL": url}


def own_connection(*, autocommit: bool = False):
    """A psycopg connection of its own to the test database (to hold locks, watch sessions)."""
    import psycopg
    from django.db import connection

    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or "127.0.0.1",
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db.get("PASSWORD") or None,
        dbname=db["NAME"],
        autocommit=autocommit,
    )


# --- what the relay has done ---------------------------------------------------------------------


def cursor(name: str = REDIS_SINK) -> int | None:
    return RelayCursor.objects.filter(name=name).values_list("position", flat=True).first()


def cursors_exist() -> bool:
    return RelayCursor.objects.filter(name__in=[REDIS_SINK, WEBHOOK_SINK]).count() == 2


def newest_event_id() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def cache_mismatches(product_ids) -> list[str]:
    """Where the cached stock (product entries and per-item keys, versions included) differs from the rows."""
    problems = []
    for product_id in sorted(set(product_ids)):
        sku = Product.objects.get(pk=product_id).sku
        items = stock_cache.item_rows(InventoryItem.objects.filter(product_id=product_id))
        expected_items = [stock_cache.item_payload(i, sku) for i in sorted(items, key=lambda i: i.warehouse_id)]
        expected = {"product_id": product_id, "sku": sku, "items": expected_items}
        cached = cache.get(stock_cache.product_key(product_id))
        if cached != expected:
            problems.append(f"product {product_id}: cached {_versions(cached)}, database {_versions(expected)}")
        for payload in expected_items:
            key = stock_cache.item_key(product_id, payload["warehouse_id"])
            if cache.get(key) != payload:
                problems.append(f"{key}: cached {cache.get(key)}, database version {payload['version']}")
    return problems


def _versions(entry) -> Any:
    if not entry:
        return entry
    return {i["warehouse_id"]: (i["available_quantity"], i["version"]) for i in entry["items"]}


def summary(values: list[float]) -> str:
    """``n, p50, p99, max`` in milliseconds, for the report."""
    if not values:
        return "n=0"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"n={len(ordered)} p50={statistics.median(ordered) * 1e3:.1f} ms "
        f"p99={p99 * 1e3:.1f} ms max={ordered[-1] * 1e3:.1f} ms"
    )


def report(line: str) -> None:
    """A measured figure: printed (``pytest -s`` shows it) and kept in the test log."""
    print(f"\nMEASURED {line}", flush=True)


# --- listening on the channel layer ----------------------------------------------------------------


@dataclass
class Heard:
    at: float  # time.time() when it arrived
    message: dict[str, Any]


class LayerListener:
    """A channel on the channel layer, added to ``groups``, drained by a thread with its own event loop."""

    def __init__(self, groups: list[str]) -> None:
        self.groups = groups
        self.heard: list[Heard] = []
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="layer-listener", daemon=True)
        self._error: BaseException | None = None
        self.channel = ""

    def __enter__(self) -> LayerListener:
        self._thread.start()
        assert self._ready.wait(30), f"the layer listener did not start: {self._error!r}"
        return self

    def __exit__(self, *exc) -> None:
        from asgiref.sync import async_to_sync
        from channels.layers import get_channel_layer

        async_to_sync(get_channel_layer().send)(self.channel, {"type": "listener.stop"})
        self._thread.join(30)

    def _run(self) -> None:
        try:
            asyncio.run(self._listen())
        except BaseException as exc:  # surfaced by __enter__ or the assertions
            self._error = exc
            self._ready.set()

    async def _listen(self) -> None:
        from channels.layers import get_channel_layer

        layer = get_channel_layer()
        self.channel = await layer.new_channel()
        for group in self.groups:
            await layer.group_add(group, self.channel)
        self._ready.set()
        try:
            while True:
                message = await layer.receive(self.channel)
                if message["type"] == "listener.stop":
                    return
                with self._lock:
                    self.heard.append(Heard(time.time(), message))
        finally:
            for group in self.groups:
                await layer.group_discard(group, self.channel)

    def updates(self) -> list[Heard]:
        with self._lock:
            return [h for h in self.heard if h.message["type"] == "inventory.update"]

    def newest_versions(self) -> dict[int, int]:
        """Item id -> the highest version heard."""
        newest: dict[int, int] = {}
        for heard in self.updates():
            data = heard.message["message"]["data"]
            newest[data["id"]] = max(newest.get(data["id"], -1), data["version"])
        return newest


class StockUpdatesListener:
    """A ``stock_updates`` pub/sub subscriber (thread) that keeps the messages about SKUs starting with ``prefix``."""

    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self.prefix = prefix
        self.heard: list[Heard] = []
        self._pubsub = redis.Redis.from_url(url).pubsub()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stock-updates", daemon=True)

    def __enter__(self) -> StockUpdatesListener:
        from inventory.broadcast import STOCK_UPDATES_CHANNEL

        self._pubsub.subscribe(STOCK_UPDATES_CHANNEL)
        confirmation = self._pubsub.get_message(timeout=30)
        assert confirmation is not None and confirmation["type"] == "subscribe", confirmation
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(30)
        self._pubsub.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            raw = self._pubsub.get_message(timeout=0.2)
            if raw and raw["type"] == "message":
                message = json.loads(raw["data"])
                if message.get("data", {}).get("sku", "").startswith(self.prefix):
                    self.heard.append(Heard(time.time(), message))

    def newest_versions(self) -> dict[int, int]:
        newest: dict[int, int] = {}
        for heard in list(self.heard):
            data = heard.message["data"]
            newest[data["id"]] = max(newest.get(data["id"], -1), data["version"])
        return newest


# --- a real server over HTTP and WebSocket -----------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any
    seconds: float


@dataclass
class Api:
    base_url: str
    token: str
    timings: list[float] = field(default_factory=list)

    def call(self, method: str, path: str, body: dict | None = None) -> Answer:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"},
        )
        started = time.perf_counter()
        try:
            with _LOCAL.open(request, timeout=120) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        seconds = time.perf_counter() - started
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return Answer(status, parsed, seconds)

    def get(self, path: str) -> Answer:
        return self.call("GET", path)

    def post(self, path: str, body: dict | None = None) -> Answer:
        return self.call("POST", path, body)

    def events_after(self, after: int, **params: Any) -> list[dict]:
        """Every event of the feed after ``after``, following ``next_after``."""
        found: list[dict] = []
        while True:
            query = "&".join(f"{k}={v}" for k, v in {"after": after, "limit": 1000, **params}.items())
            answer = self.get(f"/api/v1/events?{query}")
            assert answer.status == 200, answer
            found += answer.body["results"]
            if not answer.body["results"]:
                return found
            after = answer.body["next_after"]


class ClosedBeforeAnswer(Exception):
    pass


class WebSocketClient:
    """A ``/ws/inventory/?token=`` client (websockets' sync client) whose frames a thread collects."""

    def __init__(self, base_url: str, token: str) -> None:
        from websockets.sync.client import connect

        self.frames: list[Heard] = []
        self.closed_at: float | None = None
        self._lock = threading.Lock()
        url = base_url.replace("http://", "ws://") + f"/ws/inventory/?token={token}"
        self._connecting = connect(url, open_timeout=30, proxy=None)
        self._ws = self._connecting.__enter__()
        self._thread = threading.Thread(target=self._run, name="ws-client", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for raw in self._ws:
                with self._lock:
                    self.frames.append(Heard(time.time(), json.loads(raw)))
        except ConnectionClosed:
            pass
        self.closed_at = time.time()

    def send(self, frame: dict) -> None:
        self._ws.send(json.dumps(frame))

    def subscribe(self, kind: str, **fields: Any) -> dict:
        before = len(self.frames)
        self.send({"type": f"subscribe:{kind}", **fields})
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            with self._lock:
                answers = [f.message for f in self.frames[before:] if f.message.get("type") in ("subscribed", "error")]
            if answers:
                assert answers[0]["type"] == "subscribed", answers[0]
                return answers[0]
            if not self.open:
                raise ClosedBeforeAnswer(f"the server closed the connection before answering subscribe:{kind}")
            time.sleep(0.01)
        raise AssertionError(f"no answer to subscribe:{kind} {fields}")

    @property
    def open(self) -> bool:
        return self._thread.is_alive()

    def updates(self) -> list[Heard]:
        with self._lock:
            return [f for f in self.frames if f.message.get("type") == "inventory:update"]

    def close(self) -> None:
        self._connecting.__exit__(None, None, None)
        self._thread.join(30)

    def __enter__(self) -> WebSocketClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
