"""Real threads on real connections: exact totals, consistent ledger, no deadlocks."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from inventory import services
from inventory.exceptions import InsufficientStock
from inventory.models import InventoryTransaction
from inventory.selectors import ledger_drift
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(fn):
    """Run fn in a worker thread with its own connection, closed afterwards."""

    def wrapper(*args):
        try:
            return fn(*args)
        finally:
            connection.close()

    return wrapper


def test_fifty_concurrent_increments_all_land():
    item = stocked_item(100)
    barrier = threading.Barrier(50)

    @_in_thread
    def increment(_):
        barrier.wait()
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=1)

    with ThreadPoolExecutor(max_workers=50) as pool:
        list(pool.map(increment, range(50)))

    item.refresh_from_db()
    assert item.total_quantity == 150
    rows = InventoryTransaction.objects.filter(product_id=item.product_id).order_by("id")
    assert rows.count() == 51
    assert [r.new_quantity for r in rows][1:] == list(range(101, 151))
    assert ledger_drift() == []


def test_concurrent_decrements_never_go_below_zero():
    item = stocked_item(30)
    barrier = threading.Barrier(40)
    outcomes = []

    @_in_thread
    def take(_):
        barrier.wait()
        try:
            services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
            outcomes.append("ok")
        except InsufficientStock:
            outcomes.append("refused")

    with ThreadPoolExecutor(max_workers=40) as pool:
        list(pool.map(take, range(40)))
    item.refresh_from_db()
    assert sorted(outcomes).count("ok") == 30 and outcomes.count("refused") == 10
    assert item.available_quantity == 0
    assert ledger_drift() == []


def test_crossing_multi_item_adjustments_do_not_deadlock():
    a, b = stocked_item(1000), stocked_item(1000)
    errors = []

    def movements(first, second):
        return [
            services.Movement(
                product_id=first.product_id,
                warehouse_id=first.warehouse_id,
                quantity_change=1,
                transaction_type="adjustment",
            ),
            services.Movement(
                product_id=second.product_id,
                warehouse_id=second.warehouse_id,
                quantity_change=-1,
                transaction_type="adjustment",
            ),
        ]

    @_in_thread
    def run(order):
        for _ in range(200):
            try:
                services.apply_movements(movements(*order))
            except Exception as exc:  # a deadlock would surface here
                errors.append(exc)

    threads = [threading.Thread(target=run, args=((a, b),)), threading.Thread(target=run, args=((b, a),))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.total_quantity, b.total_quantity) == (1000, 1000)
    assert InventoryTransaction.objects.count() == 2 + 800
    assert ledger_drift() == []
