"""Prometheus metrics: ``GET /metrics`` (text format; ``Authorization: Bearer <METRICS_TOKEN>`` when that is set).

Two sources end up in one page:

- django-prometheus: requests, latencies, database and cache metrics, counted by each process.
- ``InventoryCollector``: the inventory families, read from the database when scraped (one
  aggregate query per family, the result shared through the Django cache for
  ``METRICS_CACHE_SECONDS``). They do not depend on which process served the scrape, so several
  server processes and Celery workers never disagree. The counters stay monotonic: the ledger is
  append-only, and reservations deleted by the purge are kept in ``PurgedReservationTally``.

A histogram (``inventory_reservation_latency_seconds``) can only be counted where the work runs.
With several server processes set ``PROMETHEUS_MULTIPROC_DIR`` to a directory that exists, is
shared by all of them and is emptied before they start (``make serve`` does this): prometheus_client
then writes every process's samples there and ``/metrics`` sums them. Without it, each process
reports its own.

``METRICS_STOCK_LEVELS_MAX_SERIES`` caps ``inventory_stock_levels``: above it only the items with
the lowest available quantity are exported, ``inventory_stock_levels_dropped_series`` says how many
were left out, and 0 exports none (only the dropped count). ``inventory_stock_state_levels`` has the
same items, one series per stock state (a sibling gauge, not a new label on ``inventory_stock_levels``:
a ``state`` label there would make every existing ``sum by`` over it add reserved and damaged units).
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Count, F, Q, Sum, Window
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from inventory.models import InventoryItem, InventoryTransaction, Warehouse

logger = logging.getLogger(__name__)

UNCATEGORIZED = "uncategorized"
IN_TRANSIT = "in_transit"
CACHE_KEY = "metrics:inventory:v2"  # v2: stock level rows carry every state

RESERVATION_LATENCY = Histogram(
    "inventory_reservation_latency_seconds",
    "Time taken by reserve_stock for POST /api/v1/inventory/reserve, refused attempts included.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)

RELAY_LAG = Histogram(
    "inventory_relay_lag_seconds",
    "From an event's commit to the relay having refreshed the cache and sent it to the channel layer.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

HELP = {
    "inventory_stock_levels": "Available quantity of each product in each warehouse (capped, lowest first).",
    "inventory_stock_levels_dropped_series": "Stock level series left out by METRICS_STOCK_LEVELS_MAX_SERIES.",
    "inventory_stock_state_levels": "Units of each item in each stock state (the items of inventory_stock_levels).",
    "inventory_low_stock_products": "Items at or below their reorder point (available_quantity <= reorder_point).",
    "inventory_movements_total": "Stock movements (ledger rows) by warehouse, type and current product category.",
    "inventory_reservations_total": "Reservations created, counted once per warehouse they hold stock in.",
    "inventory_reservation_expiries_total": "Reservations that expired, counted once per warehouse they held stock in.",
    "inventory_transfers_in_transit": "Units in transit out of each source warehouse.",
    "inventory_metrics_up": "1 if the inventory metrics could be read from the database on this scrape, else 0.",
}


@dataclass(frozen=True)
class Snapshot:
    """Plain rows (they go through the cache); ids are the database's."""

    # product, warehouse, category, then the units in each of STATE_COLUMNS (available first)
    stock_levels: list[tuple[int, int, str, int, int, int, int, int]] = field(default_factory=list)
    stock_level_series: int = 0  # how many there are before the cap
    low_stock: list[tuple[int, int]] = field(default_factory=list)  # warehouse, items
    movements: list[tuple[int, str, str, int]] = field(default_factory=list)  # warehouse, type, category, rows
    reservations: list[tuple[int, str, int, int]] = field(default_factory=list)  # warehouse, type, all, expired
    in_transit: list[tuple[int, int]] = field(default_factory=list)  # source warehouse, units


# The label value of each state column in inventory_stock_state_levels, available first.
STATE_COLUMNS = {
    "available": "available_quantity",
    "reserved": "reserved_quantity",
    "damaged": "damaged_quantity",
    "quality_control": "quality_control_quantity",
    "safety_stock": "safety_stock_quantity",
}


def _stock_levels(limit: int) -> tuple[list[tuple[int, int, str, int, int, int, int, int]], int]:
    """The ``limit`` items with the least available units, each with its units per state (one query)."""
    if limit == 0:
        return [], InventoryItem.objects.count()
    rows = list(
        InventoryItem.objects.annotate(series=Window(Count("pk")))
        .order_by("available_quantity", "product_id", "warehouse_id")
        .values_list("product_id", "warehouse_id", "product__category__name", *STATE_COLUMNS.values(), "series")[:limit]
    )
    levels = [
        (product, warehouse, category or UNCATEGORIZED, *units) for product, warehouse, category, *units, _ in rows
    ]
    return levels, rows[0][-1] if rows else 0


def _low_stock() -> list[tuple[int, int]]:
    """Every warehouse, 0 included, so a warehouse that recovers goes to 0 rather than vanishing."""
    low = Q(inventory_items__available_quantity__lte=F("inventory_items__reorder_point"))
    return list(
        Warehouse.objects.annotate(low=Count("inventory_items", filter=low)).order_by("pk").values_list("pk", "low")
    )


def _movements() -> list[tuple[int, str, str, int]]:
    rows = (
        InventoryTransaction.objects.values_list("warehouse_id", "transaction_type", "product__category__name")
        .annotate(rows=Count("pk"))
        .order_by()
    )
    return [(warehouse, kind, category or UNCATEGORIZED, n) for warehouse, kind, category, n in rows]


def _reservations() -> list[tuple[int, str, int, int]]:
    from reservations.models import PurgedReservationTally, ReservationLine
    from reservations.selectors import reservation_counts

    totals: dict[tuple[int, str], list[int]] = {}
    purged = PurgedReservationTally.objects.values_list("warehouse_id", "reservation_type", "reservations", "expiries")
    for warehouse, kind, reservations, expiries in [*reservation_counts(ReservationLine.objects.all()), *purged]:
        entry = totals.setdefault((warehouse, kind), [0, 0])
        entry[0] += reservations
        entry[1] += expiries
    return [(warehouse, kind, n, expired) for (warehouse, kind), (n, expired) in sorted(totals.items())]


def _in_transit() -> list[tuple[int, int]]:
    """Looked up when scraped, and on its own savepoint: the transfers app owns the model and may change it."""
    try:
        transfer = apps.get_model("transfers", "Transfer")
        with transaction.atomic():
            rows = list(
                transfer.objects.filter(status=IN_TRANSIT)
                .values_list("from_warehouse_id")
                .annotate(units=Sum("quantity"))
                .order_by()
            )
    except (LookupError, DatabaseError):
        logger.warning("metrics: transfers in transit could not be read", exc_info=True)
        return []
    return sorted(rows)


def read_snapshot() -> Snapshot:
    """Query the database now: one aggregate query per family (two for the reservation counters)."""
    # A savepoint: a failed query must not break a transaction the caller has open.
    with transaction.atomic():
        levels, series = _stock_levels(settings.METRICS_STOCK_LEVELS_MAX_SERIES)
        return Snapshot(
            stock_levels=levels,
            stock_level_series=series,
            low_stock=_low_stock(),
            movements=_movements(),
            reservations=_reservations(),
            in_transit=_in_transit(),
        )


def current_snapshot() -> Snapshot:
    """The snapshot, from the shared cache when a process read it in the last ``METRICS_CACHE_SECONDS``."""
    ttl = settings.METRICS_CACHE_SECONDS
    if not ttl:
        return read_snapshot()
    key = f"{CACHE_KEY}:{settings.METRICS_STOCK_LEVELS_MAX_SERIES}"
    try:
        cached = cache.get(key)
    except Exception:
        logger.warning("metrics: cache unavailable, reading the database", exc_info=True)
        return read_snapshot()
    if isinstance(cached, Snapshot):
        return cached
    snapshot = read_snapshot()
    try:
        cache.set(key, snapshot, ttl)
    except Exception:
        logger.warning("metrics: could not cache the snapshot", exc_info=True)
    return snapshot


def _families(snapshot: Snapshot | None) -> list[Metric]:
    """The inventory families; ``None`` gives them without samples (for ``describe``)."""
    data = snapshot or Snapshot()
    up = GaugeMetricFamily("inventory_metrics_up", HELP["inventory_metrics_up"], value=1 if snapshot else 0)

    levels = GaugeMetricFamily(
        "inventory_stock_levels",
        HELP["inventory_stock_levels"],
        labels=["product_id", "warehouse_id", "product_category"],
    )
    states = GaugeMetricFamily(
        "inventory_stock_state_levels",
        HELP["inventory_stock_state_levels"],
        labels=["product_id", "warehouse_id", "product_category", "state"],
    )
    for product, warehouse, category, *units in data.stock_levels:
        labels = [str(product), str(warehouse), category]
        levels.add_metric(labels, units[0])
        # Every state, 0 included: units that leave a state go to 0 rather than vanishing.
        for state, quantity in zip(STATE_COLUMNS, units, strict=True):
            states.add_metric([*labels, state], quantity)
    dropped = GaugeMetricFamily(
        "inventory_stock_levels_dropped_series",
        HELP["inventory_stock_levels_dropped_series"],
        value=data.stock_level_series - len(data.stock_levels) if snapshot else None,
    )

    low = GaugeMetricFamily(
        "inventory_low_stock_products", HELP["inventory_low_stock_products"], labels=["warehouse_id"]
    )
    for warehouse, items in data.low_stock:
        low.add_metric([str(warehouse)], items)

    movements = CounterMetricFamily(
        "inventory_movements_total",
        HELP["inventory_movements_total"],
        labels=["warehouse_id", "movement_type", "product_category"],
    )
    for warehouse, kind, category, rows in data.movements:
        movements.add_metric([str(warehouse), kind, category], rows)

    reservations = CounterMetricFamily(
        "inventory_reservations_total",
        HELP["inventory_reservations_total"],
        labels=["warehouse_id", "reservation_type"],
    )
    expiries = CounterMetricFamily(
        "inventory_reservation_expiries_total",
        HELP["inventory_reservation_expiries_total"],
        labels=["warehouse_id", "reservation_type"],
    )
    for warehouse, kind, created, expired in data.reservations:
        reservations.add_metric([str(warehouse), kind], created)
        expiries.add_metric([str(warehouse), kind], expired)

    in_transit = GaugeMetricFamily(
        "inventory_transfers_in_transit", HELP["inventory_transfers_in_transit"], labels=["warehouse_id"]
    )
    units = dict(data.in_transit)
    # Every warehouse, 0 included (the low-stock rows list them all).
    for warehouse in sorted({w for w, _ in data.low_stock} | units.keys()):
        in_transit.add_metric([str(warehouse)], units.get(warehouse, 0))

    return [up, levels, states, dropped, low, movements, reservations, expiries, in_transit]


class InventoryCollector(Collector):
    """Computes the inventory families at scrape time (see the module docstring)."""

    def describe(self) -> list[Metric]:
        # Without this the registry would call collect() (and query the database) when registering.
        return _families(None)

    def collect(self) -> Iterator[Metric]:
        try:
            snapshot = current_snapshot()
        except Exception:
            logger.exception("metrics: reading the inventory metrics failed")
            snapshot = None
        yield from _families(snapshot)


COLLECTOR = InventoryCollector()
# Once per process, on first import (the URLconf imports the view).
REGISTRY.register(COLLECTOR)


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _bearer_refusal(request: HttpRequest) -> JsonResponse | None:
    """The 401 to answer when ``METRICS_TOKEN`` is set and the request does not carry it, else None."""
    expected = settings.METRICS_TOKEN
    if not expected:
        return None
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    given = given.strip()
    if scheme.lower() == "bearer" and given:
        # Bytes: compare_digest refuses non-ASCII str. Constant time: a wrong guess tells nothing.
        if hmac.compare_digest(given.encode(), expected.encode()):
            return None
        detail = "The metrics token is not valid."
    else:
        detail = "Send the metrics token: Authorization: Bearer <METRICS_TOKEN>."
    response = JsonResponse({"code": "not_authenticated", "detail": detail}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: every process's samples (multiprocess mode) or this one's, plus the inventory families."""
    if refusal := _bearer_refusal(request):
        return refusal
    if multiprocess_dir():
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        registry.register(COLLECTOR)
    else:
        registry = REGISTRY
    # generate_latest writes legacy (underscore-escaped) names: the 0.0.4 text format every Prometheus reads.
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_PLAIN_0_0_4)
