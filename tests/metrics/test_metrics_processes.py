"""End to end: two real server processes (multiprocess mode, as ``make serve``) report the same totals."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token

from inventory import services as stock
from reservations import services
from reservations.models import StockReservation
from reservations.services import LineRequest
from tests.factories import CategoryFactory, ProductFactory, WarehouseFactory, stocked_item
from tests.metrics.support import inventory, parse, promtool_problems, series
from tests.processes import free_port, running, service_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def _serving(url: str) -> bool:
    try:
        _get(f"{url}/health")
    except (OSError, urllib.error.HTTPError):
        return False
    return True


def _reserve(url: str, token: str, body: dict) -> int:
    request = urllib.request.Request(
        f"{url}/api/v1/inventory/reserve",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_two_server_processes_report_the_same_totals(tmp_path, storefront_user):
    token = Token.objects.create(user=storefront_user).key
    w1, w2 = WarehouseFactory(), WarehouseFactory()
    product = ProductFactory(category=CategoryFactory(name="Garden"))
    stocked_item(30, product=product, warehouse=w1)
    stocked_item(8, product=product, warehouse=w2)
    stock.adjust_stock(product_id=product.pk, warehouse_id=w1.pk, quantity_change=-5)
    old = services.reserve_stock(
        lines=[LineRequest(product_id=product.pk, warehouse_id=w2.pk, quantity=2)], reservation_type="cart"
    )
    services.expire_reservations(now=timezone.now() + timedelta(days=1))
    created = timezone.now() - timedelta(days=40)
    StockReservation.objects.filter(pk=old.pk).update(created_at=created, expires_at=created + timedelta(hours=1))
    assert services.purge_finished_reservations() == 1

    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    # No shared cache of the snapshot: each process reads the database itself.
    env = service_env(PROMETHEUS_MULTIPROC_DIR=str(multiproc_dir), METRICS_CACHE_SECONDS="0")
    ports = [free_port(), free_port()]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    server = ["uvicorn", "inventory_site.asgi:application", "--host", "127.0.0.1", "--port"]
    with (
        running([*server, str(ports[0])], env, tmp_path / "a.log"),
        running([*server, str(ports[1])], env, tmp_path / "b.log"),
    ):
        for url in urls:
            wait_until(lambda url=url: _serving(url), timeout=60, message=f"{url} to serve (logs in {tmp_path})")
        # Two reservations through server A: one held, one refused (409).
        body = {"product_id": product.pk, "warehouse_id": w1.pk, "quantity": 4, "order_id": "ORD-9"}
        assert _reserve(urls[0], token, body) == 201
        assert _reserve(urls[0], token, {**body, "order_id": "ORD-10", "quantity": 500}) == 409
        pages = [_get(f"{url}/metrics") for url in urls]

    a, b = (parse(page) for page in pages)
    assert inventory(a) == inventory(b)
    w1_, w2_ = str(w1.pk), str(w2.pk)
    levels = series(b, "inventory_stock_levels", "product_id", "warehouse_id", "product_category")
    assert levels == {(str(product.pk), w1_, "Garden"): 21, (str(product.pk), w2_, "Garden"): 8}
    assert series(b, "inventory_movements_total", "warehouse_id", "movement_type") == {
        (w1_, "purchase"): 1,
        (w1_, "adjustment"): 1,
        (w2_, "purchase"): 1,
    }
    # The purged cart still counts (tally), the order held through server A too.
    assert series(b, "inventory_reservations_total", "warehouse_id", "reservation_type") == {
        (w1_, "order"): 1,
        (w2_, "cart"): 1,
    }
    assert series(b, "inventory_reservation_expiries_total", "warehouse_id", "reservation_type") == {
        (w1_, "order"): 0,
        (w2_, "cart"): 1,
    }
    assert series(b, "inventory_low_stock_products", "warehouse_id") == {(w1_,): 0, (w2_,): 1}
    # Both reserve calls ran in server A; server B reports them from the shared multiprocess directory.
    assert series(b, "inventory_reservation_latency_seconds_count") == {(): 2}
    for page in pages:
        assert promtool_problems(page) == []
