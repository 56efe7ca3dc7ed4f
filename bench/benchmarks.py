"""The eight benchmarks. Each returns a ``Result`` (value, the baseline measured in the same run, their
ratio) and records its correctness checks; only a failed check fails the run, a missed target does not.

Every committed change writes event rows (``created_at``: the time of the write, just before commit) and
the relay process (``manage.py relay_events``, started by the stack) sends them on: cache, channel layer,
``stock_updates``, webhooks. The relay is part of the system, so the benchmarks measure through it:
``ws_fanout`` from the event's commit to each WebSocket client, ``relay_lag`` from commit to the layer
under the ``hot_sku_reserve`` load, and the sweeps report, apart from their own time, how long the relay
took to drain the events they wrote.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
import math
import queue
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from bench import seed
from bench.layer_listener import LayerListener
from bench.loadgen import run_pgbench, run_wrk
from bench.pgmon import ConnectionMonitor
from bench.relay_watch import CursorWatch
from bench.seed import BaseData
from bench.stack import Stack

BENCH_DIR = Path(__file__).resolve().parent
CONSTANT_PATH = "/api/v1/bench/constant"
RESERVE_PATH = "/api/v1/inventory/reserve"
AVAILABILITY_IDS = 200
WS_CLIENTS = 200
WS_WRITES = 30
WS_WRITE_GAP = 0.2  # seconds between two writes: one update is fanned out before the next
EXPIRE_COUNT = 100_000
SCAN_PRODUCTS = 10_000  # x (warehouses - 2) items, plus the 2 x catalog items: 1,000,000 in all
RELAY_SINKS = ("redis", "webhooks")  # the relay's cursors (inventory.relay.REDIS_SINK / WEBHOOK_SINK)
RELAY_LAG_METRIC = "inventory_relay_lag_seconds"  # inventory.metrics.RELAY_LAG


@dataclass
class Result:
    name: str
    value: float | None
    unit: str
    baseline: float | None
    baseline_unit: str
    ratio: float | None
    target: str
    meets_target: bool | None
    notes: str = ""


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Context:
    data: BaseData
    stack: Stack
    database_url: str
    seconds: int  # wrk / pgbench duration
    drain: int  # extra wrk seconds for the reservations in flight at the deadline
    log: TextIO
    monitor: ConnectionMonitor
    relay_timeout: int = 600  # seconds the relay may take to drain what a benchmark wrote
    measure_relay: bool = True  # hot_sku_reserve also captures relay_lag (when relay_lag is selected)
    relay_sample: RelaySample | None = None  # captured by hot_sku_reserve, reported by relay_lag
    constant_rate: float | None = None  # constant view req/s under the stack (floor), for spread_reserve_vs_floor
    spread_rate: float | None = None  # spread reservations/s (spread_reserve), for spread_reserve_vs_floor
    checks: list[Check] = field(default_factory=list)

    def check(self, name: str, passed: bool, detail: str) -> bool:
        self.checks.append(Check(name, passed, detail))
        print(f"CHECK {name} {'PASS' if passed else 'FAIL'}: {detail}", flush=True)
        return passed

    def connections(self) -> str:
        """The peak number of connections to the bench database since the last call (then resets it)."""
        peak = self.monitor.peak()
        self.monitor.reset()
        return f"peak {peak} PostgreSQL connections (max_connections {self.monitor.max_connections})"

    def url(self, path: str = "") -> str:
        return self.stack.base_url + path

    def api(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Token {self.data.token}"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url(path), data=payload, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(errors="replace")

    def wrk_env(self, **extra: Any) -> dict[str, str]:
        return {"BENCH_TOKEN": self.data.token, **{k: str(v) for k, v in extra.items()}}


def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    k = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return a / b


def statuses_note(statuses: dict[int, int], expected: int) -> str:
    others = {s: n for s, n in sorted(statuses.items()) if s != expected}
    return f"other statuses {others}" if others else f"all {expected}"


@contextlib.contextmanager
def timed_calls(module, name: str):
    """Time the calls of ``module.name`` made inside the block (bench-process instrumentation only)."""
    original = getattr(module, name)
    spent = [0.0, 0]

    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start
            spent[1] += 1

    setattr(module, name, wrapper)
    try:
        yield spent
    finally:
        setattr(module, name, original)


# --- the relay: its cursors, the events a benchmark wrote, the lag histogram --------------------------


def newest_event_id() -> int:
    """The largest event id written so far (committed; the bench's own connection is in autocommit)."""
    from inventory.event_models import Event

    (newest,) = seed.fetchone(f"SELECT coalesce(max(id), 0) FROM {seed.table(Event)}")
    return newest


def event_counts(after: int, through: int) -> dict[str, int]:
    """Events with ``after < id <= through``, by type."""
    from inventory.event_models import Event

    rows = seed.fetchall(
        f"SELECT type, count(*) FROM {seed.table(Event)} WHERE id > %s AND id <= %s GROUP BY type ORDER BY type",
        [after, through],
    )
    return dict(rows)


def event_times(after: int, through: int) -> list[tuple[int, str, float]]:
    """``(id, type, created_at as epoch seconds)`` of the events with ``after < id <= through``."""
    from inventory.event_models import Event

    return seed.fetchall(
        f"SELECT id, type, extract(epoch FROM created_at)::float8 FROM {seed.table(Event)}"
        " WHERE id > %s AND id <= %s ORDER BY id",
        [after, through],
    )


def item_events(item_id: int, after: int, through: int) -> dict[int, tuple[float, int]]:
    """``{version: (created_at as epoch seconds, event id)}`` of one item's ``inventory.updated`` events."""
    from inventory.event_models import Event

    rows = seed.fetchall(
        f"SELECT (data->>'version')::bigint, extract(epoch FROM created_at)::float8, id FROM {seed.table(Event)}"
        " WHERE type = 'inventory.updated' AND item_id = %s AND id > %s AND id <= %s",
        [item_id, after, through],
    )
    return {version: (created, event_id) for version, created, event_id in rows}


def item_id(product_id: int, warehouse_id: int) -> int:
    (pk,) = seed.fetchone(
        f"SELECT id FROM {seed.table(seed.InventoryItem)} WHERE product_id = %s AND warehouse_id = %s",
        [product_id, warehouse_id],
    )
    return pk


def watch_relay(ctx: Context) -> CursorWatch:
    """A started watch of the relay's cursors (stop it, or use it as a context manager)."""
    from inventory.event_models import RelayCursor

    return CursorWatch(ctx.database_url, RelayCursor._meta.db_table, RELAY_SINKS).start()


def drained_after(watch: CursorWatch, through: int, *, since: float, timeout: float) -> dict[str, float | None]:
    """Wait for every sink to pass event ``through``; seconds from ``since`` (epoch) until each did."""
    seen = watch.wait(through, timeout)
    return {sink: None if t is None else t - since for sink, t in seen.items()}


def drain_note(drained: dict[str, float | None], counts: dict[str, int], *, since_what: str) -> str:
    """``relay drained N events in X s`` (the redis sink: cache, layer, stock_updates), and the webhooks sink."""
    total = sum(counts.values())
    kinds = ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "none"
    parts = []
    for sink in RELAY_SINKS:
        took = drained.get(sink)
        parts.append(f"{sink} sink {'not within the timeout' if took is None else f'{took:.2f} s'}")
    redis_took = drained.get("redis")
    head = (
        f"relay drained {total} events in {redis_took:.2f} s"
        if redis_took is not None
        else f"relay did NOT drain {total} events"
    )
    return f"{head} ({since_what}; {'; '.join(parts)}; events: {kinds})"


Buckets = list[tuple[float, float]]  # (upper bound "le", cumulative count), ascending, +Inf last


def scrape_histogram(ctx: Context, name: str) -> Buckets:
    """The cumulative buckets of histogram ``name`` from ``GET /metrics`` (every process's, summed by
    prometheus_client's multiprocess mode: the relay is a process of its own)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(ctx.url("/metrics"), timeout=60) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        if family.name == name:
            return sorted((float(s.labels["le"]), s.value) for s in family.samples if s.name == f"{name}_bucket")
    return []


def bucket_delta(before: Buckets, after: Buckets) -> Buckets:
    old = dict(before)
    return [(le, count - old.get(le, 0.0)) for le, count in after]


def histogram_quantile(q: float, buckets: Buckets) -> tuple[float | None, tuple[float, float]]:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding the rank;
    also returns that bucket's bounds (the figure is only known to lie between them)."""
    total = buckets[-1][1] if buckets else 0
    if not total:
        return None, (math.nan, math.nan)
    rank = q * total
    lower, below = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower, (lower, le)
            if count == below:
                return le, (lower, le)
            return lower + (le - lower) * (rank - below) / (count - below), (lower, le)
        lower, below = le, count
    return lower, (lower, math.inf)


def delivered_at(arrivals: list[tuple[float, int]]) -> tuple[list[float], list[int]]:
    """For frames ``(arrival, version)`` in arrival order: arrival times and the running highest version.
    Version v counts as delivered at the first arrival whose running highest version is >= v (the relay
    folds several updates of one item in a batch into the newest, so v may come only as a newer state)."""
    times, highest, top = [], [], -1
    for arrived, version in arrivals:
        top = max(top, version)
        times.append(arrived)
        highest.append(top)
    return times, highest


def first_delivery(times: list[float], highest: list[int], version: int) -> float | None:
    index = bisect.bisect_left(highest, version)
    return times[index] if index < len(times) else None


@dataclass
class RelaySample:
    """What ``hot_sku_reserve`` captured for ``relay_lag``."""

    lag_ms: dict[str, list[float]]  # by event type: commit -> the relay's cursor passed the event
    unhandled: int  # events the cursor never passed while watched
    buckets: Buckets  # the relay's histogram, this load's share (after - before)
    fresh_ms: list[float]  # commit -> that state or a newer one received from the layer, per inventory.updated
    updates: int  # inventory.updated events of the hot item
    undelivered: int  # of them, never covered by a message the member received
    messages: int  # inventory:update messages the member received
    stale: int  # of them, not newer than one received before (an at-least-once copy)
    counts: dict[str, int]  # every event the load wrote, by type
    caught_up: float | None  # seconds after the load's deadline when the redis cursor passed the last event
    inversions: int  # consecutive inventory.updated events (in id order) whose versions go down


# --- 1, 2: reservations ------------------------------------------------------------------------

PLAIN_RESERVE = """\\set id random(1, {rows})
BEGIN;
UPDATE bench_items SET available = available - 1, reserved = reserved + 1 WHERE id = {item} AND available >= 1;
INSERT INTO bench_reservations (item_id, quantity, status, expires_at)
    VALUES ({item}, 1, 'active', now() + interval '30 minutes');
END;
"""


def _item_totals(where: str) -> tuple[int, int, int]:
    items = seed.table(seed.InventoryItem)
    return seed.fetchone(
        f"SELECT coalesce(sum(available_quantity), 0), coalesce(sum(reserved_quantity), 0), count(*)"
        f" FROM {items} i WHERE {where}"
    )


def _active_holds(where: str) -> tuple[int, int]:
    items = seed.table(seed.InventoryItem)
    lines = seed.table(seed.ReservationLine)
    reservations = seed.table(seed.StockReservation)
    return seed.fetchone(
        f"SELECT count(DISTINCT r.id), coalesce(sum(l.quantity), 0) FROM {lines} l"
        f" JOIN {reservations} r ON r.id = l.reservation_id JOIN {items} i ON i.id = l.item_id"
        f" WHERE r.status = 'active' AND {where}"
    )


def _reserve(ctx: Context, name: str, products: tuple[int, int], target: float, *, relay: bool = False) -> Result:
    """``relay``: also capture ``relay_lag`` under this load (``ctx.relay_sample``): the relay's lag
    histogram from ``/metrics`` before and after, and a member of the item's product group that stamps
    what the relay sends to the layer."""
    lo, hi = products
    warehouse = ctx.data.spread_warehouse
    where = f"i.product_id BETWEEN {lo} AND {hi} AND i.warehouse_id = {warehouse}"
    available0, reserved0, n_items = _item_totals(where)
    holds0, units0 = _active_holds(where)

    listener = watch = None
    if relay:
        from inventory import broadcast

        buckets0 = scrape_histogram(ctx, RELAY_LAG_METRIC)
        first_event = newest_event_id()
        listener = LayerListener(broadcast.product_group(lo))
        listener.start()
        watch = watch_relay(ctx)
    ctx.monitor.reset()
    deadline = time.time() + ctx.seconds
    env = ctx.wrk_env(
        BENCH_DEADLINE=f"{deadline:.6f}",
        BENCH_PRODUCT_LO=lo,
        BENCH_PRODUCT_HI=hi,
        BENCH_WAREHOUSE_ID=warehouse,
        BENCH_DRAIN_PATH=CONSTANT_PATH,
    )
    try:
        res = run_wrk("reserve.lua", ctx.url(), seconds=ctx.seconds + ctx.drain, env=env, log=ctx.log)
        connections = ctx.connections()
        if listener is not None and watch is not None:
            ctx.relay_sample = _relay_sample(
                ctx, listener, watch, buckets0, first_event, item_id(lo, warehouse), deadline
            )
    finally:
        if watch is not None:
            watch.stop()
        if listener is not None:
            listener.stop()
    created = res.count(201)
    answered = res.total - res.count(200)  # every response but the drain GETs' 200s answers a POST
    unanswered = max(0, res.stats.get("posts", 0) - answered)  # wrk may count one request it never sent
    if unanswered:
        time.sleep(5)  # let the server finish what wrk stopped waiting for, so the totals settle
    ours = created / ctx.seconds

    available1, reserved1, _ = _item_totals(where)
    holds1, units1 = _active_holds(where)
    held = reserved1 - reserved0
    new_holds = holds1 - holds0
    ok = held == created and new_holds == created and units1 - units0 == created and reserved1 == units1
    ok = ok and available1 + reserved1 == available0 + reserved0
    ctx.check(
        f"{name}.totals",
        ok,
        f"201s={created} reserved_quantity+={held} active_reservations+={new_holds} (holding {units1} units, "
        f"reserved_quantity {reserved1}) "
        f"available+reserved={available1 + reserved1} (was {available0 + reserved0}) over {n_items} item(s)"
        + (f"; about {unanswered} POST(s) got no answer before wrk stopped" if unanswered and not ok else ""),
    )

    rows = 1 if lo == hi else hi - lo + 1
    seed.reset_plain_tables(seed.HOT_STOCK)
    script = PLAIN_RESERVE.format(rows=rows, item="1" if rows == 1 else ":id")
    if rows == 1:
        script = script.split("\n", 1)[1]  # no \set for the hot row
    base = run_pgbench(ctx.database_url, script, seconds=ctx.seconds, log=ctx.log)
    plain_reserved, plain_rows = seed.fetchone(
        "SELECT (SELECT sum(reserved) FROM bench_items), count(*) FROM bench_reservations"
    )
    r = ratio(ours, base.tps)
    failed_posts = {status: n for status, n in sorted(res.statuses.items()) if status not in (200, 201)}
    notes = (
        f"{created} reservations in {ctx.seconds}s, {failed_posts or 'no other answer'} to POSTs"
        f" ({res.count(200)} drain GETs after the deadline); latency (all requests) p50"
        f" {res.stats['latency_p50_us'] / 1000:.1f} ms p99 {res.stats['latency_p99_us'] / 1000:.1f} ms; "
        f"{connections}; "
        f"pgbench {base.transactions} tx, {base.failed} failed, plain totals "
        f"{'consistent' if plain_reserved == plain_rows else f'INCONSISTENT {plain_reserved} vs {plain_rows}'}"
    )
    if res.errors_line():
        notes += f"; wrk {res.errors_line()}"
    return Result(
        name, ours, "reservations/s", base.tps, "tps", r, f"ratio >= {target}", r is not None and r >= target, notes
    )


def _relay_sample(
    ctx: Context,
    listener: LayerListener,
    watch: CursorWatch,
    buckets0: Buckets,
    first_event: int,
    hot_item: int,
    deadline: float,
) -> RelaySample:
    """Once the load is over: wait for the relay to catch up, then read its cursor's progress, its
    histogram and the group member's log."""
    last_event = newest_event_id()
    watch.wait(last_event, ctx.relay_timeout)
    lag_ms: dict[str, list[float]] = {}
    unhandled = 0
    for event_id, kind, created in event_times(first_event, last_event):
        handled = watch.passed(event_id, RELAY_SINKS[0])
        if handled is None:
            unhandled += 1
        else:
            lag_ms.setdefault(kind, []).append((handled - created) * 1000)
    done = watch.passed(last_event, RELAY_SINKS[0])
    updates = item_events(hot_item, first_event, last_event)
    final = max(updates, default=0)
    settle = time.time() + 5  # the last message is in Redis once the cursor moved; give the member a moment
    while time.time() < settle and max((v for _, v, _ in listener.versions()), default=0) < final:
        time.sleep(0.05)
    buckets = bucket_delta(buckets0, scrape_histogram(ctx, RELAY_LAG_METRIC))
    frames = listener.versions()
    times, highest = delivered_at([(arrived, version) for arrived, version, _ in frames])
    fresh, undelivered = [], 0
    for version, (created, _) in updates.items():
        arrived = first_delivery(times, highest, version)
        if arrived is None:
            undelivered += 1
        else:
            fresh.append((arrived - created) * 1000)
    stale = sum(1 for i in range(1, len(frames)) if frames[i][1] <= highest[i - 1])
    # Ids follow transaction ids (taken at a transaction's first write), versions follow the order in
    # which the writers got the hot row: where they disagree, an event waits for an older transaction.
    in_id_order = [version for version, _ in sorted(updates.items(), key=lambda kv: kv[1][1])]
    inversions = sum(1 for a, b in itertools.pairwise(in_id_order) if b < a)
    return RelaySample(
        lag_ms=lag_ms,
        unhandled=unhandled,
        buckets=buckets,
        fresh_ms=fresh,
        updates=len(updates),
        undelivered=undelivered,
        messages=len(frames),
        stale=stale,
        counts=event_counts(first_event, last_event),
        caught_up=None if done is None else done - deadline,
        inversions=inversions,
    )


def hot_sku_reserve(ctx: Context) -> Result:
    product = ctx.data.hot_product
    return _reserve(ctx, "hot_sku_reserve", (product, product), 0.5, relay=ctx.measure_relay)


def relay_lag(ctx: Context) -> Result:
    """Commit -> delivered to the channel layer, under the ``hot_sku_reserve`` load (captured there; run
    here when ``hot_sku_reserve`` was not selected). No target: p50 and p99 are reported.

    Per event, from its ``created_at`` (written just before its transaction's COMMIT) to the first poll
    that sees the relay's ``redis`` cursor past it (the relay moves it once the batch's cache refresh,
    layer sends and ``stock_updates`` publish are done): every event the load wrote, exact to ~20 ms.
    Cross-checks in the notes: the relay's own histogram ``inventory_relay_lag_seconds`` from
    ``/metrics`` (the same definition, bucketed) and how fresh the item's state is at the layer (a
    member of the hot product's group: commit -> that state or a newer one received).
    """
    if ctx.relay_sample is None:
        measure, ctx.measure_relay = ctx.measure_relay, True
        try:
            hot_sku_reserve(ctx)
        finally:
            ctx.measure_relay = measure
    sample = ctx.relay_sample
    if sample is None:
        raise RuntimeError("hot_sku_reserve captured no relay sample")
    lags = [lag for values in sample.lag_ms.values() for lag in values]
    handled = sum(sample.counts.values())
    observed = sample.buckets[-1][1] if sample.buckets else 0
    ctx.check(
        "relay_lag.delivery",
        sample.unhandled == 0 and sample.undelivered == 0 and sample.updates > 0,
        f"the relay handled {handled - sample.unhandled} of the {handled} events the load wrote (its histogram"
        f" counted {observed:.0f}); a member of the hot product's group received the final state:"
        f" {sample.updates - sample.undelivered} of {sample.updates} updates covered by {sample.messages} messages",
    )
    p50, p99 = percentile(lags, 50), percentile(lags, 99)
    h50, (lo50, hi50) = histogram_quantile(0.50, sample.buckets)
    h99, (lo99, hi99) = histogram_quantile(0.99, sample.buckets)
    by_type = "; ".join(
        f"{kind} p50 {percentile(values, 50):.1f} ms p99 {percentile(values, 99):.1f} ms"
        for kind, values in sorted(sample.lag_ms.items())
    )
    folded = sample.updates - (sample.messages - sample.stale)
    notes = (
        f"{len(lags)} events ({', '.join(f'{n} {k}' for k, n in sample.counts.items())}), commit -> the relay's"
        f" cursor passed them: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(lags, default=math.nan):.1f} ms"
        f" ({by_type}); the relay's own histogram: p50 {_ms(h50)} ms in bucket {_ms(lo50)}-{_ms(hi50)} ms, p99"
        f" {_ms(h99)} ms in bucket {_ms(lo99)}-{_ms(hi99)} ms (interpolated like histogram_quantile);"
        f" state at the layer (commit -> that version or a newer one received by a group member):"
        f" p50 {percentile(sample.fresh_ms, 50):.1f} ms, p99 {percentile(sample.fresh_ms, 99):.1f} ms;"
        f" {sample.messages} layer messages for {sample.updates} updates ({max(folded, 0)} folded into a newer"
        f" state, {sample.stale} stale copies); the relay caught up"
        f" {_seconds_or_never(sample.caught_up)} after the load's deadline; in id order, the hot item's"
        f" versions go down {sample.inversions} times in {max(sample.updates - 1, 0)} steps (the event log is"
        f" final in transaction-id order, the row changes in lock order: an event waits for every older"
        f" transaction still open)"
    )
    r = ratio(p99, p50) if p50 > 0 else None
    return Result("relay_lag", p99, "ms p99", p50, "ms p50", r, "none (p50/p99 reported)", None, notes)


def _ms(seconds: float | None) -> str:
    if seconds is None or math.isnan(seconds):
        return "n/a"
    if math.isinf(seconds):
        return "inf"
    return f"{seconds * 1000:.1f}"


def _seconds_or_never(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def spread_reserve(ctx: Context) -> Result:
    result = _reserve(ctx, "spread_reserve", ctx.data.catalog, 0.35)
    ctx.spread_rate = result.value
    return result


@contextlib.contextmanager
def _plain_uvicorn(ctx: Context):
    """``uvicorn inventory_site.asgi:django_asgi_app`` (Django's own ASGI handler, the old ``make serve``)
    with as many workers as the stack, on the same database and Redis; yields its base URL."""
    from bench.stack import ROOT, free_port

    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "inventory_site.asgi:django_asgi_app", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--workers", str(ctx.stack.workers), "--no-access-log", "--log-level", "warning"]
    log_path = ctx.stack.log_path.with_name("plain-uvicorn.log")
    with log_path.open("w") as log:
        process = subprocess.Popen(
            cmd, cwd=ROOT, env=ctx.stack.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"plain uvicorn did not start: {log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/health", timeout=2):
                    break
            except urllib.error.HTTPError:
                break
            except OSError:
                time.sleep(0.3)
        run_wrk("get.lua", base, seconds=2, env=ctx.wrk_env(BENCH_PATH=CONSTANT_PATH), log=ctx.log)  # warm-up
        yield base
    finally:
        import os
        import signal

        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def floor(ctx: Context) -> Result:
    """The constant authenticated DRF view under ``make serve`` (sync_http) vs the same view under plain
    uvicorn + Django's ASGI handler, same workers, interleaved halves."""
    half = max(1, round(ctx.seconds / 2))
    totals = {"serve": [0, 0.0, {}], "plain": [0, 0.0, {}]}
    with _plain_uvicorn(ctx) as plain_url:
        for _ in range(2):
            for label, base in (("serve", ctx.url()), ("plain", plain_url)):
                res = run_wrk("get.lua", base, seconds=half, env=ctx.wrk_env(BENCH_PATH=CONSTANT_PATH), log=ctx.log)
                totals[label][0] += res.count(200)
                totals[label][1] += res.seconds
                for status, n in res.statuses.items():
                    totals[label][2][status] = totals[label][2].get(status, 0) + n
    ours = totals["serve"][0] / totals["serve"][1]
    base = totals["plain"][0] / totals["plain"][1]
    ctx.constant_rate = ours
    r = ratio(ours, base)
    notes = (
        f"GET {CONSTANT_PATH} with a token, {ctx.stack.workers} workers each: make serve (uvicorn + sync_http)"
        f" {statuses_note(totals['serve'][2], 200)};"
        f" plain uvicorn + Django ASGI {statuses_note(totals['plain'][2], 200)};"
        f" 2 x {half}s each, interleaved"
    )
    return Result("floor", ours, "req/s", base, "req/s", r, "ratio >= 2.0", r is not None and r >= 2.0, notes)


def spread_reserve_vs_floor(ctx: Context) -> Result:
    """Spread reservations per second (``spread_reserve``) ÷ constant views per second (``floor``), both
    under ``make serve``; measures whichever of the two this run did not select."""
    if ctx.constant_rate is None:
        ok, seconds, _ = _get_rate(ctx, CONSTANT_PATH, ctx.seconds)
        ctx.constant_rate = ok / seconds
    if ctx.spread_rate is None:
        spread_reserve(ctx)
    r = ratio(ctx.spread_rate, ctx.constant_rate)
    notes = "spread_reserve's reservations/s over floor's constant-view req/s (make serve), same run"
    return Result(
        "spread_reserve_vs_floor",
        ctx.spread_rate,
        "reservations/s",
        ctx.constant_rate,
        "req/s",
        r,
        "ratio >= 0.6",
        r is not None and r >= 0.6,
        notes,
    )


# --- 3, 4: reads -------------------------------------------------------------------------------


def _get_rate(ctx: Context, path: str, seconds: int) -> tuple[int, float, dict[int, int]]:
    res = run_wrk("get.lua", ctx.url(), seconds=seconds, env=ctx.wrk_env(BENCH_PATH=path), log=ctx.log)
    return res.count(200), res.seconds, res.statuses


def cached_read(ctx: Context) -> Result:
    product = ctx.data.catalog[0]
    path = f"/api/v1/inventory/{product}?warehouse_id={ctx.data.spread_warehouse}"
    status, body = ctx.api("GET", path)  # warms the cache entry
    if status != 200 or body.get("product_id") != product:
        raise RuntimeError(f"GET {path} answered {status}: {body}")
    # Interleaved halves (constant, ours, constant, ours): slow drift of a noisy machine hits both alike.
    half = max(1, round(ctx.seconds / 2))
    ctx.monitor.reset()
    totals = {"constant": [0, 0.0, {}], "ours": [0, 0.0, {}]}
    for _ in range(2):
        for label, p in (("constant", CONSTANT_PATH), ("ours", path)):
            ok, seconds, statuses = _get_rate(ctx, p, half)
            totals[label][0] += ok
            totals[label][1] += seconds
            for s, n in statuses.items():
                totals[label][2][s] = totals[label][2].get(s, 0) + n
    ours = totals["ours"][0] / totals["ours"][1]
    base = totals["constant"][0] / totals["constant"][1]
    r = ratio(ours, base)
    notes = (
        f"GET {path}: {statuses_note(totals['ours'][2], 200)}; constant: {statuses_note(totals['constant'][2], 200)};"
        f" 2 x {half}s each, interleaved; {ctx.connections()}"
    )
    return Result("cached_read", ours, "req/s", base, "req/s", r, "ratio >= 0.9", r is not None and r >= 0.9, notes)


def _count_queries(client, ids: list[int], *, cold: bool) -> int:
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from inventory_site.authentication import forget_tokens

    if cold:
        cache.delete_pattern("*")  # django-redis: only this cache's keys (prefix "bench"), not the broker's
        forget_tokens()  # the token's lookup counts as part of a cold request
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/inventory/availability", {"product_ids": ",".join(map(str, ids))})
    if response.status_code != 200 or len(response.json()["results"]) != len(ids):
        raise RuntimeError(f"availability answered {response.status_code}: {response.content[:300]!r}")
    return len(captured.captured_queries)


def availability_200(ctx: Context) -> Result:
    from rest_framework.test import APIClient

    lo, _ = ctx.data.catalog
    ids = list(range(lo + 1, lo + 1 + AVAILABILITY_IDS))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {ctx.data.token}")
    cold_1 = _count_queries(client, [lo], cold=True)
    warm_1 = _count_queries(client, [lo], cold=False)  # the request before cached it
    cold_200 = _count_queries(client, ids, cold=True)
    warm_200 = _count_queries(client, ids, cold=False)
    ctx.check(
        "availability_200.queries",
        cold_1 == cold_200 and warm_1 == warm_200,
        f"queries for 1 product = {cold_1}, for {AVAILABILITY_IDS} = {cold_200} (cold cache); "
        f"{warm_1} and {warm_200} (warm cache)",
    )

    path = "/api/v1/inventory/availability?product_ids=" + ",".join(map(str, ids))
    status, body = ctx.api("GET", path)  # warm, through the server
    if status != 200 or len(body.get("results", {})) != AVAILABILITY_IDS:
        raise RuntimeError(f"GET availability answered {status}: {str(body)[:300]}")
    ctx.monitor.reset()
    res = run_wrk(
        "get.lua", ctx.url(), seconds=ctx.seconds, env=ctx.wrk_env(BENCH_PATH=path), latency=True, log=ctx.log
    )
    connections = ctx.connections()
    p50, p99 = res.distribution_ms.get(50), res.distribution_ms.get(99)
    if p50 is None or p99 is None:
        raise RuntimeError("wrk printed no Latency Distribution")
    r = ratio(p99, p50)
    notes = (
        f"{res.count(200) / res.seconds:.1f} req/s, {statuses_note(res.statuses, 200)}; "
        f"p90 {res.distribution_ms.get(90, math.nan):.1f} ms; "
        f"queries per request: {cold_200} cold / {warm_200} warm, same for 1 product; {connections}"
    )
    return Result("availability_200", p99, "ms", p50, "ms", r, "p99 <= 3 x p50", r is not None and r <= 3, notes)


# --- 7: live feed ------------------------------------------------------------------------------


def _reader(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _next_line(lines: queue.Queue, timeout: float, what: str) -> str:
    try:
        line = lines.get(timeout=timeout)
    except queue.Empty:
        raise RuntimeError(f"ws clients: no {what} within {timeout:.0f}s") from None
    if line is None:
        raise RuntimeError(f"ws clients exited before {what} (see the bench log)")
    return line


def ws_fanout(ctx: Context) -> Result:
    """``WS_WRITES`` stock adjustments of one item, ``WS_WRITE_GAP`` apart, to ``WS_CLIENTS`` WebSocket
    clients subscribed to its product, through the relay. Latency is measured from the write's commit:
    its event's ``created_at`` (set by the write just before COMMIT, looked up by the item version the
    write answered) to the arrival of that version, or a newer one, at each client."""
    product, warehouse = ctx.data.ws_product, ctx.data.spread_warehouse
    ws_item = item_id(product, warehouse)
    ws_url = f"ws://127.0.0.1:{ctx.stack.port}/ws/inventory/?token={ctx.data.token}"
    cmd = [sys.executable, str(BENCH_DIR / "ws_clients.py"), "--url", ws_url, "--origin", ctx.url()]
    cmd += ["--product-id", str(product), "--clients", str(WS_CLIENTS)]
    ctx.log.flush()
    ctx.monitor.reset()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=ctx.log, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    watch = None
    try:
        ready = _next_line(lines, 180, "READY")
        if not ready.startswith("READY"):
            raise RuntimeError(f"ws clients: unexpected {ready!r}")
        first_event = newest_event_id()
        watch = watch_relay(ctx)  # stopped by the ``with`` below, or by the ``finally`` on an error
        writes = []  # (version, sent, answered), wall-clock seconds like the clients' stamps
        path = f"/api/v1/inventory/{product}/adjust"
        body = {"warehouse_id": warehouse, "quantity_change": 1, "transaction_type": "purchase", "reason": "bench"}
        for _ in range(WS_WRITES):
            sent = time.time()
            status, answer = ctx.api("POST", path, body)
            answered = time.time()
            if status != 200:
                raise RuntimeError(f"POST {path} answered {status}: {answer}")
            writes.append((answer["version"], sent, answered))
            time.sleep(WS_WRITE_GAP)
        last_event = newest_event_id()
        with watch:
            watch.wait(last_event, ctx.relay_timeout)
        time.sleep(1)  # the relay has sent the last update: let it reach the clients
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        receipts = json.loads(_next_line(lines, 120, "receipts"))["receipts"]
        proc.wait(timeout=60)
    finally:
        if watch is not None:
            watch.stop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    committed = item_events(ws_item, first_event, last_event)
    if lost := [version for version, _, _ in writes if version not in committed]:
        raise RuntimeError(f"no inventory.updated event for version(s) {lost} of item {ws_item}")
    final = max(version for version, _, _ in writes)
    from_commit, from_request, from_response = [], [], []
    arrivals: dict[int, list[float]] = {version: [] for version, _, _ in writes}
    missing = folded = stale = 0
    distinct, finished = [], 0
    for client in receipts:
        frames = [(arrived, version) for version, _, _, arrived in client]
        times, highest = delivered_at(frames)
        versions = {version for _, version in frames}
        distinct.append(len(versions & arrivals.keys()))
        stale += sum(1 for i in range(1, len(frames)) if frames[i][1] <= highest[i - 1])
        finished += bool(highest) and highest[-1] == final
        for version, sent, answered in writes:
            arrived = first_delivery(times, highest, version)
            if arrived is None:
                missing += 1
                continue
            folded += version not in versions
            from_commit.append((arrived - committed[version][0]) * 1000)
            from_request.append((arrived - sent) * 1000)
            from_response.append((arrived - answered) * 1000)
            arrivals[version].append(arrived)
    spreads = [(max(times) - min(times)) * 1000 for times in arrivals.values() if times]
    expected = len(receipts) * len(writes)
    ctx.check(
        "ws_fanout.delivery",
        missing == 0 and finished == len(receipts) == WS_CLIENTS,
        f"{finished} of {len(receipts)} clients ended with the final version {final}; {expected - missing} of"
        f" {expected} updates reached their client ({folded} of them only as a newer state: the relay folded"
        f" them); distinct versions per client min {min(distinct, default=0)} median"
        f" {statistics.median(distinct) if distinct else 0:g} of {len(writes)}; {stale} stale copies",
    )
    # Decision: measured from the COMMIT (the event's created_at, written by the transaction just before
    # its COMMIT: a slight overstatement) to the arrival at each client, through the relay. The old
    # definition (from when the write request was sent) is kept in the notes for comparison.
    p50, p99 = percentile(from_commit, 50), percentile(from_commit, 99)
    early = sum(1 for x in from_response if x < 0)
    r = ratio(p99, p50) if p50 > 0 else None
    notes = (
        f"from commit (event created_at) through the relay: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max"
        f" {max(from_commit, default=math.nan):.1f} ms (target p99 <= 50 ms); from request sent (the previous"
        f" definition): p50 {percentile(from_request, 50):.1f} ms, p99 {percentile(from_request, 99):.1f} ms;"
        f" from HTTP response: p50 {percentile(from_response, 50):.1f} ms, p99"
        f" {percentile(from_response, 99):.1f} ms, {early} of {len(from_response)} arrived before the response;"
        f" {WS_CLIENTS} clients x {WS_WRITES} writes; fan-out spread (last - first client) p50"
        f" {percentile(spreads, 50):.1f} ms max {max(spreads, default=math.nan):.1f} ms; {ctx.connections()}"
    )
    return Result("ws_fanout", p99, "ms", p50, "ms", r, "p99 <= 50 ms", bool(from_commit) and p99 <= 50, notes)


# --- 5, 6: in-process sweeps -------------------------------------------------------------------


def expire_sweep(ctx: Context) -> Result:
    from inventory import events
    from reservations.services import expire_reservations

    warehouse = ctx.data.expiry_warehouse
    started = time.perf_counter()
    seed.seed_overdue_reservations(EXPIRE_COUNT, ctx.data.catalog, warehouse)
    seed.copy_expiry_tables(warehouse)
    seed.analyze(seed.StockReservation, seed.ReservationLine, seed.InventoryItem)
    seeded = time.perf_counter() - started
    reservations, items = seed.table(seed.StockReservation), seed.table(seed.InventoryItem)
    state_sql = (
        "SELECT count(*) FILTER (WHERE status = 'active'),"
        " count(*) FILTER (WHERE status = 'expired' AND released_at IS NOT NULL) FROM {table}"
    )
    active0, _ = seed.fetchone(state_sql.format(table=reservations) + " WHERE session_id = %s", [seed.EXPIRY_SESSION])
    if active0 != EXPIRE_COUNT:
        raise RuntimeError(f"expected {EXPIRE_COUNT} overdue reservations, found {active0}")

    started = time.perf_counter()
    seed.execute(seed.RAW_EXPIRE_SQL)
    raw = time.perf_counter() - started

    first_event = newest_event_id()
    # Timed: the sweep itself (what runs in the process that sweeps, read-your-writes cache refresh
    # included). The relay's work on the events it wrote runs concurrently in the relay process and is
    # reported apart: the ratio is the sweep's own time against the raw SQL.
    with watch_relay(ctx) as watch, timed_calls(events, "refresh_cache") as writer_refresh:
        began = time.time()
        started = time.perf_counter()
        expired = expire_reservations()
        ours = time.perf_counter() - started
        last_event = newest_event_id()
        drained = drained_after(watch, last_event, since=began, timeout=ctx.relay_timeout)
    counts = event_counts(first_event, last_event)
    drain = drain_note(drained, counts, since_what="from the sweep's start")
    print(f"   expire_sweep: {drain}", flush=True)

    real = seed.fetchone(state_sql.format(table=reservations) + " WHERE session_id = %s", [seed.EXPIRY_SESSION])
    copy = seed.fetchone(state_sql.format(table="bench_exp_reservations"))
    items_sql = (
        "SELECT coalesce(sum(reserved_quantity), 0), count(*) FILTER (WHERE available_quantity <> %s)"
        " FROM {table} WHERE warehouse_id = %s"
    )
    real_items = seed.fetchone(items_sql.format(table=items), [seed.EXPIRY_STOCK, warehouse])
    copy_items = seed.fetchone(items_sql.format(table="bench_exp_items"), [seed.EXPIRY_STOCK, warehouse])
    (differ,) = seed.fetchone(
        f"SELECT count(*) FROM bench_exp_items c JOIN {items} i USING (id)"
        " WHERE c.available_quantity <> i.available_quantity OR c.reserved_quantity <> i.reserved_quantity"
    )
    ok = expired == EXPIRE_COUNT and real == (0, EXPIRE_COUNT) and copy == (0, EXPIRE_COUNT)
    ok = ok and real_items == (0, 0) and copy_items == (0, 0) and differ == 0
    ctx.check(
        "expire_sweep.end_state",
        ok,
        f"expired {expired}; (active, expired) ours {tuple(real)} raw {tuple(copy)}; (reserved, items off their "
        f"initial stock) ours {tuple(real_items)} raw {tuple(copy_items)}; items differing {differ}",
    )
    stale, cached, n_items = _cache_against_database(warehouse)
    ctx.check(
        "expire_sweep.relay",
        all(v is not None for v in drained.values()) and stale == 0 and cached > 0,
        f"{drain}; stock cache after it: {cached} of {n_items} items of the warehouse cached, {stale} differing"
        " from the database",
    )
    r = ratio(ours, raw)
    redis_took = drained.get("redis")
    notes = (
        f"{EXPIRE_COUNT} overdue one-line reservations over {ctx.data.catalog[1] - ctx.data.catalog[0] + 1} items,"
        f" default batch size; ratio = the sweep's own time vs raw SQL; it includes the writer's read-your-writes"
        f" cache refresh {writer_refresh[0]:.2f}s in {writer_refresh[1]} calls; the relay (its own process, running"
        f" alongside) finished {_seconds_or_never(redis_took)} after the sweep started ="
        f" {'n/a' if redis_took is None else f'{redis_took - ours:+.2f} s'} after it returned"
        f" ({'n/a' if redis_took is None else f'{redis_took / raw:.0f}'} x raw SQL for sweep + relay);"
        f" {drain}; seeding {seeded:.1f}s"
    )
    return Result("expire_sweep", ours, "s", raw, "s", r, "ratio <= 3", r is not None and r <= 3, notes)


def low_stock_scan(ctx: Context) -> Result:
    from inventory import alerts
    from inventory.models import LowStockAlert

    started = time.perf_counter()
    w_lo, w_hi = ctx.data.warehouses
    seed.seed_scan_items(SCAN_PRODUCTS, (w_lo + 2, w_hi))
    seed.analyze(seed.InventoryItem, LowStockAlert)
    seeded = time.perf_counter() - started
    total, low = seed.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE available_quantity <= reorder_point)"
        f" FROM {seed.table(seed.InventoryItem)}"
    )

    timings = []
    for _ in range(4):  # the first run warms the cache, the median of the other three counts
        seed.execute(seed.RAW_SCAN_TABLES_SQL)
        started = time.perf_counter()
        seed.execute(seed.RAW_LOW_STOCK_SQL)
        timings.append(time.perf_counter() - started)
    raw = statistics.median(timings[1:])
    rows = seed.fetchall("SELECT id FROM bench_scan_alerts")
    seed.execute("DROP TABLE bench_scan_alerts, bench_scan_events")

    first_event = newest_event_id()
    with watch_relay(ctx) as watch:
        began = time.time()
        started = time.perf_counter()
        raised, resolved = alerts.scan_low_stock()
        ours = time.perf_counter() - started
        last_event = newest_event_id()
        drained = drained_after(watch, last_event, since=began, timeout=ctx.relay_timeout)
    counts = event_counts(first_event, last_event)
    drain = drain_note(drained, counts, since_what="from the scan's start")
    print(f"   low_stock_scan: {drain}", flush=True)
    ctx.check(
        "low_stock_scan.relay",
        all(v is not None for v in drained.values()) and counts.get("low_stock.raised", 0) == raised,
        f"{drain}; the scan raised {raised}",
    )
    started = time.perf_counter()
    again = alerts.scan_low_stock()
    steady = time.perf_counter() - started
    ctx.check(
        "low_stock_scan.alerts",
        raised == low == len(rows) and resolved == 0 and tuple(again) == (0, 0),
        f"first scan raised {raised}, resolved {resolved}; raw query found {len(rows)}; second scan {tuple(again)}",
    )
    r = ratio(ours, raw)
    redis_took = drained.get("redis")
    notes = (
        f"{total} items, {low} ({100 * low / total:.1f}%) at or below the reorder point; ratio = the first scan's"
        f" own time (raises every alert and writes their events) vs raw SQL doing the same (find, insert the"
        f" alerts and an event with the same JSON each); the relay finished"
        f" {_seconds_or_never(redis_took)} after the scan started ="
        f" {'n/a' if redis_took is None else f'{redis_took - ours:+.2f} s'} after it returned; {drain};"
        f" steady-state rescan (after the relay drained) {steady:.3f}s = {steady / raw:.1f} x raw;"
        f" seeding + VACUUM ANALYZE {seeded:.1f}s"
    )
    return Result("low_stock_scan", ours, "s", raw, "s", r, "ratio <= 3", r is not None and r <= 3, notes)


def _forecast_summary() -> tuple:
    """What a refresh stored, summed: rows, per-method counts, units to order, demand and confidence."""
    from forecasting.models import DemandForecast

    return seed.fetchone(
        f"SELECT count(*), count(*) FILTER (WHERE method = 'croston_sba'),"
        f" count(*) FILTER (WHERE method = 'moving_average'), sum(recommended_order_quantity),"
        f" round(sum(forecast_daily_demand)::numeric, 3), round(sum(confidence)::numeric, 3)"
        f" FROM {seed.table(DemandForecast)}"
    )


def forecast_refresh(ctx: Context) -> Result:
    """The forecast refresh (one statement on PostgreSQL) vs the same refresh item by item in Python
    (the SQLite path, and what PostgreSQL ran before), on every item, with 90 days of sales history."""
    from forecasting.selectors import forecast_window
    from forecasting.services import refresh_forecasts, refresh_in_python

    started = time.perf_counter()
    start, days = forecast_window()
    sales = seed.seed_sales_history(ctx.data.catalog, ctx.data.spread_warehouse, start=start, days=days)
    seed.analyze(seed.InventoryTransaction)
    seeded = time.perf_counter() - started
    python_runs, sql_runs = [], []
    for _ in range(2):  # alternated; the better of two each (the first warms the cache)
        started = time.perf_counter()
        rows = refresh_in_python(start=start, days=days)
        python_runs.append(time.perf_counter() - started)
        by_python = _forecast_summary()
        started = time.perf_counter()
        refreshed = refresh_forecasts()
        sql_runs.append(time.perf_counter() - started)
        by_sql = _forecast_summary()
    ctx.check(
        "forecast_refresh.same_result",
        rows == refreshed and by_python == by_sql,
        f"python stored {by_python}, the statement {by_sql}",
    )
    ours, baseline = min(sql_runs), min(python_runs)
    r = ratio(ours, baseline)
    notes = (
        f"{refreshed} items, {sales} sale rows over {days} days (seeded in {seeded:.1f}s); the same stored"
        f" result both ways (rows, methods, units to order, demand, confidence); ratio < 1 = faster than Python"
    )
    return Result("forecast_refresh", ours, "s", baseline, "s (python)", r, "ratio < 1", r is not None and r < 1, notes)


def _cache_against_database(warehouse: int) -> tuple[int, int, int]:
    """Cached item entries of a warehouse against the database: (differing, cached, items)."""
    from django.core.cache import cache

    from inventory import stock_cache

    rows = seed.fetchall(
        f"SELECT product_id, available_quantity, reserved_quantity, version FROM {seed.table(seed.InventoryItem)}"
        " WHERE warehouse_id = %s",
        [warehouse],
    )
    stale = cached = 0
    for start in range(0, len(rows), 1000):
        chunk = rows[start : start + 1000]
        found = cache.get_many([stock_cache.item_key(product, warehouse) for product, *_ in chunk])
        for product, available, reserved, version in chunk:
            entry = found.get(stock_cache.item_key(product, warehouse))
            if entry is None:
                continue
            cached += 1
            stale += (entry["available_quantity"], entry["reserved_quantity"], entry["version"]) != (
                available,
                reserved,
                version,
            )
    return stale, cached, len(rows)


from bench.csv_import import csv_import_10k  # noqa: E402  (its own module; it uses the helpers above)

BENCHMARKS = {
    "floor": floor,
    "hot_sku_reserve": hot_sku_reserve,
    "relay_lag": relay_lag,
    "spread_reserve": spread_reserve,
    "spread_reserve_vs_floor": spread_reserve_vs_floor,
    "cached_read": cached_read,
    "availability_200": availability_200,
    "ws_fanout": ws_fanout,
    "expire_sweep": expire_sweep,
    "forecast_refresh": forecast_refresh,
    "low_stock_scan": low_stock_scan,
    "csv_import_10k": csv_import_10k,
}
