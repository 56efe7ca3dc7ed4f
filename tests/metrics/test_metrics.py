"""``GET /metrics`` in this process: values equal the database after a known sequence of operations."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import services as stock
from inventory.metrics import read_snapshot
from inventory.models import InventoryItem, InventoryTransaction, TransactionType
from reservations import services
from reservations.models import PurgedReservationTally, ReservationLine, StockReservation
from reservations.services import LineRequest
from tests.factories import CategoryFactory, ProductFactory, WarehouseFactory, stocked_item
from tests.metrics.support import parse, promtool_problems, series
from transfers.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uncached_metrics(settings):
    # Every scrape reads the database, so a scrape right after a change sees it.
    settings.METRICS_CACHE_SECONDS = 0


def _scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return response.content.decode()


def _line(item: InventoryItem, quantity: int) -> LineRequest:
    return LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=quantity)


def _make_old(reservation: StockReservation) -> None:
    created = timezone.now() - timedelta(days=40)
    StockReservation.objects.filter(pk=reservation.pk).update(
        created_at=created, expires_at=created + timedelta(hours=1)
    )


def _expected_from_database() -> dict[str, dict[tuple[str, ...], float]]:
    """The same numbers, worked out row by row in Python from the tables."""
    levels, low, movements = {}, {}, {}
    for item in InventoryItem.objects.select_related("product__category"):
        category = item.product.category.name if item.product.category else "uncategorized"
        levels[(str(item.product_id), str(item.warehouse_id), category)] = item.available_quantity
        key = (str(item.warehouse_id),)
        low[key] = low.get(key, 0) + (item.available_quantity <= item.reorder_point)
    for row in InventoryTransaction.objects.select_related("product__category"):
        category = row.product.category.name if row.product.category else "uncategorized"
        key = (str(row.warehouse_id), row.transaction_type, category)
        movements[key] = movements.get(key, 0) + 1
    reservations, expiries = {}, {}
    seen = set()
    for line in ReservationLine.objects.select_related("reservation"):
        if (line.reservation_id, line.warehouse_id) in seen:
            continue
        seen.add((line.reservation_id, line.warehouse_id))
        key = (str(line.warehouse_id), line.reservation.reservation_type)
        reservations[key] = reservations.get(key, 0) + 1
        expiries[key] = expiries.get(key, 0) + (line.reservation.status == "expired")
    for tally in PurgedReservationTally.objects.all():
        key = (str(tally.warehouse_id), tally.reservation_type)
        reservations[key] = reservations.get(key, 0) + tally.reservations
        expiries[key] = expiries.get(key, 0) + tally.expiries
    return {
        "levels": levels,
        "low": low,
        "movements": movements,
        "reservations": reservations,
        "expiries": expiries,
    }


def _observed(text: str) -> dict[str, dict[tuple[str, ...], float]]:
    samples = parse(text)
    return {
        "levels": series(samples, "inventory_stock_levels", "product_id", "warehouse_id", "product_category"),
        "low": series(samples, "inventory_low_stock_products", "warehouse_id"),
        "movements": series(samples, "inventory_movements_total", "warehouse_id", "movement_type", "product_category"),
        "reservations": series(samples, "inventory_reservations_total", "warehouse_id", "reservation_type"),
        "expiries": series(samples, "inventory_reservation_expiries_total", "warehouse_id", "reservation_type"),
    }


def test_a_known_sequence_of_operations_is_reported_exactly(anon_api):
    tools = CategoryFactory(name="Tools")
    w1, w2 = WarehouseFactory(), WarehouseFactory()
    drill, loose = ProductFactory(category=tools), ProductFactory(category=None)
    drill_w1 = stocked_item(50, product=drill, warehouse=w1)
    loose_w1 = stocked_item(5, product=loose, warehouse=w1)  # reorder point 10: low stock
    drill_w2 = stocked_item(20, product=drill, warehouse=w2)
    stock.adjust_stock(
        product_id=drill.pk, warehouse_id=w1.pk, quantity_change=-2, transaction_type=TransactionType.DAMAGE
    )
    stock.adjust_stock(product_id=drill.pk, warehouse_id=w1.pk, quantity_change=1)

    # An order holding stock in two warehouses, confirmed: one reservation in each, one sale in each.
    order = services.reserve_stock(lines=[_line(drill_w1, 4), _line(drill_w2, 2)], order_id="ORD-1")
    services.confirm_reservation(reservation_id=order.pk)
    # A cart with two lines in one warehouse, expired by the sweep: one reservation, one expiry.
    services.reserve_stock(lines=[_line(drill_w1, 1), _line(loose_w1, 1)], reservation_type="cart")
    # A manual hold that expired long ago: purged below, its counts must stay.
    old = services.reserve_stock(lines=[_line(drill_w2, 3)], reservation_type="manual")
    assert services.expire_reservations(now=timezone.now() + timedelta(days=2)) == 2
    _make_old(old)
    Transfer.objects.create(product=drill, from_warehouse=w2, to_warehouse=w1, quantity=7, status="in_transit")
    Transfer.objects.create(product=drill, from_warehouse=w1, to_warehouse=w2, quantity=9, status="pending")

    w1_, w2_ = str(w1.pk), str(w2.pk)
    before = _scrape(anon_api)
    observed = _observed(before)
    assert observed == _expected_from_database()
    assert observed["levels"] == {
        (str(drill.pk), w1_, "Tools"): 45,
        (str(loose.pk), w1_, "uncategorized"): 5,
        (str(drill.pk), w2_, "Tools"): 18,
    }
    assert observed["low"] == {(w1_,): 1, (w2_,): 0}
    assert observed["movements"] == {
        (w1_, "purchase", "Tools"): 1,
        (w1_, "purchase", "uncategorized"): 1,
        (w2_, "purchase", "Tools"): 1,
        (w1_, "damage", "Tools"): 1,
        (w1_, "adjustment", "Tools"): 1,
        (w1_, "sale", "Tools"): 1,
        (w2_, "sale", "Tools"): 1,
    }
    assert observed["reservations"] == {(w1_, "order"): 1, (w2_, "order"): 1, (w1_, "cart"): 1, (w2_, "manual"): 1}
    assert observed["expiries"] == {(w1_, "order"): 0, (w2_, "order"): 0, (w1_, "cart"): 1, (w2_, "manual"): 1}
    samples = parse(before)
    assert series(samples, "inventory_transfers_in_transit", "warehouse_id") == {(w1_,): 0, (w2_,): 7}
    assert series(samples, "inventory_stock_levels_dropped_series") == {(): 0}
    assert series(samples, "inventory_metrics_up") == {(): 1}

    # The purge deletes the old reservation; the tally keeps every counter where it was.
    assert services.purge_finished_reservations(older_than_days=30) == 1
    assert not StockReservation.objects.filter(pk=old.pk).exists()
    after = _observed(_scrape(anon_api))
    assert after == observed
    assert after == _expected_from_database()
    assert list(
        PurgedReservationTally.objects.values_list("warehouse_id", "reservation_type", "reservations", "expiries")
    ) == [(w2.pk, "manual", 1, 1)]

    # A purge with nothing old to delete changes nothing.
    assert services.purge_finished_reservations(older_than_days=30) == 0
    assert _observed(_scrape(anon_api)) == observed


def test_purging_a_second_batch_adds_to_the_tally(anon_api):
    item = stocked_item(100)
    for _ in range(3):
        reservation = services.reserve_stock(lines=[_line(item, 1)], reservation_type="cart")
        services.release_reservation(reservation_id=reservation.pk)
        _make_old(reservation)
    key = (str(item.warehouse_id), "cart")
    counted = series(parse(_scrape(anon_api)), "inventory_reservations_total", "warehouse_id", "reservation_type")
    assert counted == {key: 3}
    assert services.purge_finished_reservations(batch_size=2) == 3
    reservation = services.reserve_stock(lines=[_line(item, 1)], reservation_type="cart")
    services.release_reservation(reservation_id=reservation.pk)
    _make_old(reservation)
    assert services.purge_finished_reservations() == 1
    samples = parse(_scrape(anon_api))
    assert series(samples, "inventory_reservations_total", "warehouse_id", "reservation_type") == {key: 4}
    assert series(samples, "inventory_reservation_expiries_total", "warehouse_id", "reservation_type") == {key: 0}
    assert PurgedReservationTally.objects.get().reservations == 4


def test_stock_levels_above_the_cap_export_the_lowest_and_count_the_rest(anon_api, settings):
    warehouse = WarehouseFactory()
    items = [stocked_item(quantity, warehouse=warehouse) for quantity in (40, 3, 25, 7, 12)]
    by_quantity = {item.available_quantity: (str(item.product_id), str(item.warehouse_id)) for item in items}

    settings.METRICS_STOCK_LEVELS_MAX_SERIES = 2
    samples = parse(_scrape(anon_api))
    assert series(samples, "inventory_stock_levels", "product_id", "warehouse_id") == {
        by_quantity[3]: 3,
        by_quantity[7]: 7,
    }
    assert series(samples, "inventory_stock_levels_dropped_series") == {(): 3}

    settings.METRICS_STOCK_LEVELS_MAX_SERIES = 0
    samples = parse(_scrape(anon_api))
    assert "inventory_stock_levels" not in samples
    assert series(samples, "inventory_stock_levels_dropped_series") == {(): 5}

    settings.METRICS_STOCK_LEVELS_MAX_SERIES = 5
    samples = parse(_scrape(anon_api))
    assert len(series(samples, "inventory_stock_levels", "product_id", "warehouse_id")) == 5
    assert series(samples, "inventory_stock_levels_dropped_series") == {(): 0}


def test_the_database_is_read_with_one_aggregate_query_per_family():
    item = stocked_item(10)
    services.reserve_stock(lines=[_line(item, 1)])
    with CaptureQueriesContext(connection) as queries:
        read_snapshot()
    selects = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
    # stock levels, low stock, movements, reservations + purged tally, transfers in transit
    assert len(selects) == 6, selects


def test_scrapes_share_a_snapshot_for_metrics_cache_seconds(anon_api, settings):
    settings.METRICS_CACHE_SECONDS = 300
    item = stocked_item(10)
    movements = "inventory_movements_total"
    first = parse(_scrape(anon_api))
    stock.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
    assert parse(_scrape(anon_api))[movements] == first[movements]
    cache.clear()
    assert sum(parse(_scrape(anon_api))[movements].values()) == sum(first[movements].values()) + 1


def test_reserving_through_the_api_observes_the_latency_histogram(anon_api, storefront_api):
    item = stocked_item(10)

    def count() -> float:
        return parse(_scrape(anon_api)).get("inventory_reservation_latency_seconds_count", {}).get((), 0)

    before = count()
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2}
    assert storefront_api.post("/api/v1/inventory/reserve", body, format="json").status_code == 201
    body["quantity"] = 50  # refused (409): still a reserve_stock call
    assert storefront_api.post("/api/v1/inventory/reserve", body, format="json").status_code == 409
    assert count() == before + 2


def test_metrics_needs_no_credentials_and_is_not_under_the_api(anon_api):
    response = anon_api.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert anon_api.get("/api/v1/metrics").status_code == 404
    assert anon_api.post("/metrics").status_code == 405


def test_the_page_includes_django_prometheus_request_database_and_cache_metrics(anon_api):
    stocked_item(3)
    anon_api.get("/health")
    cache.get("metrics-test-probe")
    samples = parse(_scrape(anon_api))
    assert (
        series(samples, "django_http_requests_total_by_view_transport_method_total", "view", "method")[
            ("health", "GET")
        ]
        >= 1
    )
    assert series(samples, "django_db_execute_total", "alias", "vendor")[("default", "postgresql")] >= 1
    assert series(samples, "django_cache_get_total", "backend")[("redis",)] >= 1


def test_promtool_accepts_the_inventory_metrics(anon_api):
    item = stocked_item(4)
    services.reserve_stock(lines=[_line(item, 1)])
    text = _scrape(anon_api)
    assert "inventory_stock_levels{" in text and "inventory_movements_total{" in text
    assert promtool_problems(text) == []
