"""Lots and stock states on SQLite (the embedded default a newcomer runs): the same write path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.exceptions import BatchRequired, LotExpired
from inventory.models import InventoryItem, InventoryTransaction, StockLot, StockState, TransactionType
from inventory.selectors import ledger_drift
from reservations.services import LineRequest, confirm_reservation, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = timezone.localdate()


def test_fefo_sale_state_moves_and_refusals_on_sqlite():
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    for batch, days in (("LATE", 40), ("EXPIRED", -2), ("SOON", 4)):
        services.receive_stock(
            product_id=product.pk,
            warehouse_id=warehouse.pk,
            quantity=5,
            details=services.LedgerDetails(batch_number=batch, expiry_date=TODAY + timedelta(days=days)),
        )
    with pytest.raises(BatchRequired):
        services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=1)
    user = UserFactory()
    reservation = reserve_stock(
        lines=[LineRequest(product_id=product.pk, warehouse_id=warehouse.pk, quantity=7)], user=user
    )
    confirm_reservation(reservation_id=reservation.pk, user=user)
    lots = {lot.batch_number: lot.quantity for lot in StockLot.objects.all()}
    assert lots == {"EXPIRED": 5, "SOON": 0, "LATE": 3}
    sales = InventoryTransaction.objects.filter(transaction_type=TransactionType.SALE).order_by("id")
    assert [(r.batch_number, r.quantity_change) for r in sales] == [("SOON", -5), ("LATE", -2)]

    services.move_stock_state(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=2,
        from_state=StockState.AVAILABLE,
        to_state=StockState.QUALITY_CONTROL,
        reason="Sample for the lab",
    )
    item = InventoryItem.objects.get(product=product)
    assert (item.available_quantity, item.quality_control_quantity, item.total_quantity) == (6, 2, 8)
    assert item.next_expiry_date == TODAY - timedelta(days=2)
    second = reserve_stock(lines=[LineRequest(product_id=product.pk, warehouse_id=warehouse.pk, quantity=6)], user=user)
    with pytest.raises(LotExpired):
        confirm_reservation(reservation_id=second.pk, user=user)
    assert StockLot.objects.get(batch_number="LATE").quantity == 3
    assert ledger_drift() == []
