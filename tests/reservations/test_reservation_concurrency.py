"""Concurrent checkout traffic on real threads and connections: never oversells, never loses a unit."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.exceptions import DomainError
from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from reservations import services
from reservations.models import StockReservation
from reservations.services import LineRequest
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _threaded(fn, count, workers=None):
    barrier = threading.Barrier(workers or count)

    def run(n):
        try:
            barrier.wait()
            return fn(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers or count) as pool:
        return list(pool.map(run, range(count)))


def test_hundred_buyers_for_twenty_five_units(storefront_user):
    item = stocked_item(25)
    token = Token.objects.create(user=storefront_user).key
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 1}

    def buy(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client.post("/api/v1/inventory/reserve", body, format="json").status_code

    statuses = _threaded(buy, 100, workers=50)
    assert statuses.count(201) == 25 and statuses.count(409) == 75
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (0, 25, 25)
    assert StockReservation.objects.filter(status="active").count() == 25
    assert ledger_drift() == []


def test_crossing_two_line_orders_never_deadlock():
    a, b = stocked_item(500), stocked_item(500)
    errors = []

    def order(n):
        first, second = (a, b) if n % 2 else (b, a)
        try:
            services.reserve_stock(
                lines=[
                    LineRequest(product_id=first.product_id, warehouse_id=first.warehouse_id, quantity=1),
                    LineRequest(product_id=second.product_id, warehouse_id=second.warehouse_id, quantity=2),
                ]
            )
        except Exception as exc:
            errors.append(exc)

    _threaded(order, 120, workers=24)
    assert errors == []
    a.refresh_from_db()
    b.refresh_from_db()
    # 60 orders hold 1 of a + 2 of b, 60 hold 2 of a + 1 of b.
    assert (a.reserved_quantity, b.reserved_quantity) == (180, 180)
    assert (a.total_quantity, b.total_quantity) == (500, 500)
    assert ledger_drift() == []


def test_confirm_racing_release_one_wins():
    item = stocked_item(50)
    for _ in range(20):
        reservation = services.reserve_stock(
            lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=2)]
        )

        def act(n, rid=reservation.pk):
            try:
                if n % 2:
                    services.confirm_reservation(reservation_id=rid)
                    return "confirmed"
                services.release_reservation(reservation_id=rid)
                return "released"
            except DomainError as exc:
                return exc.code

        outcomes = _threaded(act, 2)
        assert sorted(outcomes) in (["confirmed", "reservation_not_active"], ["released", "reservation_not_active"])
        status = StockReservation.objects.get(pk=reservation.pk).status
        assert status == ("fulfilled" if "confirmed" in outcomes else "released")
    item.refresh_from_db()
    sold = -sum(InventoryTransaction.objects.filter(transaction_type="sale").values_list("quantity_change", flat=True))
    assert item.reserved_quantity == 0
    assert item.total_quantity == 50 - sold
    assert ledger_drift() == []


def test_two_sweepers_never_release_a_reservation_twice():
    items = [stocked_item(200) for _ in range(3)]
    rng = random.Random(3)
    for _ in range(150):
        chosen = rng.sample(items, k=2)
        services.reserve_stock(
            lines=[LineRequest(product_id=i.product_id, warehouse_id=i.warehouse_id, quantity=1) for i in chosen]
        )
    past = timezone.now() - timedelta(seconds=1)
    StockReservation.objects.update(expires_at=past, created_at=past - timedelta(minutes=30))

    counts = _threaded(lambda _: services.expire_reservations(batch_size=20), 2)
    assert sum(counts) == 150
    assert StockReservation.objects.filter(status="expired").count() == 150
    for item in InventoryItem.objects.all():
        assert (item.available_quantity, item.reserved_quantity) == (200, 0)
    assert ledger_drift() == []


def test_sweep_leaves_unexpired_and_confirmed_reservations_alone():
    item = stocked_item(10)
    keep = services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=2)]
    )
    sold = services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=3)]
    )
    services.confirm_reservation(reservation_id=sold.pk)
    overdue = services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=4)]
    )
    past = timezone.now() - timedelta(seconds=1)
    StockReservation.objects.filter(pk=overdue.pk).update(expires_at=past, created_at=past - timedelta(minutes=5))
    assert services.expire_reservations() == 1
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (5, 2, 7)
    assert StockReservation.objects.get(pk=keep.pk).status == "active"
    assert services.expire_reservations() == 0


def test_purge_removes_old_finished_reservations_but_keeps_sales():
    item = stocked_item(10)
    done = services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=2)]
    )
    services.confirm_reservation(reservation_id=done.pk)
    active = services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=1)]
    )
    old = timezone.now() - timedelta(days=31)
    StockReservation.objects.update(created_at=old, expires_at=old + timedelta(days=60))
    from reservations.tasks import purge_reservations_task

    assert purge_reservations_task.apply().get() == 1
    assert list(StockReservation.objects.values_list("pk", flat=True)) == [active.pk]
    assert InventoryTransaction.objects.filter(transaction_type="sale").count() == 1
    assert ledger_drift() == []
