"""Real threads on real connections: confirms, receipts and state moves of a lot-tracked item at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction, StockLot, StockState, TransactionType
from inventory.selectors import ledger_drift
from reservations.services import LineRequest, confirm_reservation, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = timezone.localdate()


def test_confirms_receipts_and_moves_race_and_the_books_still_balance():
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    for batch, days in (("A", 5), ("B", 15), ("C", 25)):
        services.receive_stock(
            product_id=product.pk,
            warehouse_id=warehouse.pk,
            quantity=20,
            details=services.LedgerDetails(batch_number=batch, expiry_date=TODAY + timedelta(days=days)),
        )
    user = UserFactory()
    reservations = [
        reserve_stock(lines=[LineRequest(product_id=product.pk, warehouse_id=warehouse.pk, quantity=3)], user=user)
        for _ in range(16)
    ]  # 48 of the 60 units held
    work = (
        [("confirm", r.pk) for r in reservations]
        + [("receive", n) for n in range(10)]
        + [("move", n) for n in range(6)]
    )
    barrier = threading.Barrier(len(work))

    def run(task):
        kind, arg = task
        try:
            barrier.wait()
            if kind == "confirm":
                confirm_reservation(reservation_id=arg, user=user)
            elif kind == "receive":
                # Half into an existing lot, half into a new one expiring before all the others.
                services.receive_stock(
                    product_id=product.pk,
                    warehouse_id=warehouse.pk,
                    quantity=2,
                    details=services.LedgerDetails(
                        batch_number="B" if arg % 2 else "EARLY",
                        expiry_date=TODAY + timedelta(days=15 if arg % 2 else 2),
                    ),
                )
            else:
                services.move_stock_state(
                    product_id=product.pk,
                    warehouse_id=warehouse.pk,
                    quantity=1,
                    from_state=StockState.AVAILABLE,
                    to_state=StockState.DAMAGED,
                    reason="Crushed in the race",
                )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        list(pool.map(run, work))

    item = InventoryItem.objects.get(product=product, warehouse=warehouse)
    # 60 received + 20 more, 48 sold; 6 moved to damaged out of the 12 (+20) available.
    assert (item.total_quantity, item.reserved_quantity, item.damaged_quantity) == (32, 0, 6)
    assert item.available_quantity == 26
    sold = InventoryTransaction.objects.filter(product=product, transaction_type=TransactionType.SALE)
    assert -sum(row.quantity_change for row in sold) == 48
    assert all(row.batch_number for row in sold)
    lots = {lot.batch_number: lot.quantity for lot in StockLot.objects.filter(item=item)}
    assert sum(lots.values()) == 32
    # Nothing sold from a later lot while an earlier one (at the moment of that sale) still had units:
    # the original A (earliest of the three) is gone before C is touched.
    assert lots["A"] == 0 or not sold.filter(batch_number="C").exists()
    assert ledger_drift() == []
    call_command("check_ledger")
