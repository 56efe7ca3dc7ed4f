"""Real threads, each on its own connection to the SQLite file: exact totals, no "database is locked".

SQLite serialises writers (IMMEDIATE transactions take the write lock at BEGIN and wait up to the
busy timeout for it), so these check that the write path queues instead of failing or overselling.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory import services as stock
from inventory.exceptions import InsufficientStock
from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from reservations import services
from reservations.models import StockReservation
from reservations.services import LineRequest
from tests.embedded.support import check_ledger, run_in_threads
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _quantities(item):
    item = InventoryItem.objects.get(pk=item.pk)
    return item.available_quantity, item.reserved_quantity, item.total_quantity


def test_thirty_buyers_for_ten_units(storefront_user):
    item = stocked_item(10)
    token = Token.objects.create(user=storefront_user).key
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 1}

    def buy(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        response = client.post("/api/v1/inventory/reserve", body, format="json")
        return response.status_code, response.json().get("code")

    outcomes = run_in_threads(buy, 30)
    assert outcomes.count((201, None)) == 10, outcomes
    assert outcomes.count((409, "insufficient_stock")) == 20, outcomes
    assert _quantities(item) == (0, 10, 10)
    assert StockReservation.objects.filter(status="active").count() == 10
    assert "Ledger balanced" in check_ledger()


def test_crossing_multi_item_orders_all_land():
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
        except Exception as exc:  # "database is locked" would surface here
            errors.append(repr(exc))

    run_in_threads(order, 60, workers=20)
    assert errors == []
    # 30 orders hold 1 of a + 2 of b, 30 hold 2 of a + 1 of b.
    assert _quantities(a) == (410, 90, 500) and _quantities(b) == (410, 90, 500)
    assert StockReservation.objects.filter(status="active").count() == 60
    assert "Ledger balanced" in check_ledger()


def test_crossing_multi_item_adjustments_all_land():
    a, b = stocked_item(100), stocked_item(100)
    errors = []

    def move(n):
        first, second = (a, b) if n % 2 else (b, a)
        try:
            stock.apply_movements(
                [
                    stock.Movement(
                        product_id=first.product_id,
                        warehouse_id=first.warehouse_id,
                        quantity_change=1,
                        transaction_type="adjustment",
                    ),
                    stock.Movement(
                        product_id=second.product_id,
                        warehouse_id=second.warehouse_id,
                        quantity_change=-1,
                        transaction_type="adjustment",
                    ),
                ]
            )
        except Exception as exc:
            errors.append(repr(exc))

    run_in_threads(move, 40, workers=20)
    assert errors == []
    assert _quantities(a) == (100, 0, 100) and _quantities(b) == (100, 0, 100)
    assert InventoryTransaction.objects.count() == 2 + 80
    assert ledger_drift() == []


def test_concurrent_removals_never_go_below_zero():
    item = stocked_item(15)
    key = {"product_id": item.product_id, "warehouse_id": item.warehouse_id}

    def take(_):
        try:
            stock.adjust_stock(**key, quantity_change=-1, transaction_type="damage")
            return "ok"
        except InsufficientStock:
            return "refused"

    outcomes = run_in_threads(take, 25)
    assert (outcomes.count("ok"), outcomes.count("refused")) == (15, 10)
    assert _quantities(item) == (0, 0, 0)
    rows = InventoryTransaction.objects.filter(product_id=item.product_id).order_by("id")
    assert [r.new_quantity for r in rows] == [15, *range(14, -1, -1)]
    assert ledger_drift() == []


def test_buyers_confirm_and_release_while_the_sweep_runs():
    """Checkout traffic and the expiry sweep at once: every unit ends up sold, held or back on the shelf."""
    item = stocked_item(40)
    key = {"product_id": item.product_id, "warehouse_id": item.warehouse_id}
    overdue = [services.reserve_stock(lines=[LineRequest(**key, quantity=2)]).pk for _ in range(5)]
    past = timezone.now() - timedelta(seconds=1)
    StockReservation.objects.filter(pk__in=overdue).update(expires_at=past, created_at=past - timedelta(minutes=5))

    def act(n):
        if n == 0:
            return ("swept", services.expire_reservations())
        reservation = services.reserve_stock(lines=[LineRequest(**key, quantity=1)])
        if n % 3 == 0:
            services.confirm_reservation(reservation_id=reservation.pk)
            return ("confirmed", 1)
        if n % 3 == 1:
            services.release_reservation(reservation_id=reservation.pk)
            return ("released", 1)
        return ("held", 1)

    outcomes = run_in_threads(act, 20)
    counts = {kind: sum(n for k, n in outcomes if k == kind) for kind in ("confirmed", "released", "held")}
    assert counts == {"confirmed": 6, "released": 7, "held": 6}
    assert ("swept", 5) in outcomes
    assert StockReservation.objects.filter(pk__in=overdue, status="expired").count() == 5
    assert _quantities(item) == (40 - 6 - 6, 6, 40 - 6)
    assert StockReservation.objects.filter(status="active").count() == 6
    assert "Ledger balanced" in check_ledger()
