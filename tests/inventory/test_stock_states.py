"""Stock that is on hand but not for sale: moves between states, disposal, and what the books prove."""

from __future__ import annotations

import pytest
from django.db import connection

from inventory import services
from inventory.exceptions import InsufficientStock, InvalidInput, QuantityBelowReserved
from inventory.models import InventoryItem, InventoryTransaction, StockState, StockStateMove, TransactionType
from inventory.selectors import ledger_drift
from reservations.services import LineRequest, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def move(item, quantity, from_state, to_state, reason="Dented boxes", user=None):
    return services.move_stock_state(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity=quantity,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        user=user,
    )


def test_moves_keep_on_hand_and_are_audited():
    item = stocked_item(50)
    user = UserFactory()
    item, audit = move(item, 5, StockState.AVAILABLE, StockState.DAMAGED, user=user)
    item, _ = move(item, 10, StockState.AVAILABLE, StockState.QUALITY_CONTROL, reason="Inbound inspection")
    item, _ = move(item, 4, StockState.QUALITY_CONTROL, StockState.SAFETY_STOCK, reason="Buffer")
    item.refresh_from_db()
    assert (
        item.available_quantity,
        item.damaged_quantity,
        item.quality_control_quantity,
        item.safety_stock_quantity,
        item.total_quantity,
    ) == (35, 5, 6, 4, 50)
    assert (audit.quantity, audit.from_state, audit.to_state, audit.reason, audit.created_by) == (
        5,
        "available",
        "damaged",
        "Dented boxes",
        user,
    )
    # On hand did not change: no ledger row beyond the receipt.
    assert InventoryTransaction.objects.filter(product_id=item.product_id).count() == 1
    assert ledger_drift() == []


def test_only_available_units_can_be_reserved():
    item = stocked_item(10)
    move(item, 8, StockState.AVAILABLE, StockState.SAFETY_STOCK, reason="Keep back for the shop floor")
    with pytest.raises(InsufficientStock):
        reserve_stock(
            lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=3)],
            user=UserFactory(),
        )
    reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=2)],
        user=UserFactory(),
    )
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity, item.safety_stock_quantity) == (0, 2, 8)


def test_refused_moves_change_nothing():
    item = stocked_item(10)
    for quantity, from_state, to_state, reason, error in [
        (11, "available", "damaged", "x", InsufficientStock),
        (1, "damaged", "available", "x", InsufficientStock),
        (1, "available", "available", "x", InvalidInput),
        (1, "available", "lost", "x", InvalidInput),
        (0, "available", "damaged", "x", InvalidInput),
        (1, "available", "damaged", "  ", InvalidInput),
    ]:
        with pytest.raises(error):
            move(item, quantity, from_state, to_state, reason=reason)
    item.refresh_from_db()
    assert (item.available_quantity, item.damaged_quantity, item.version) == (10, 0, 1)
    assert not StockStateMove.objects.exists()


def test_disposing_of_damaged_stock_is_an_outbound_damage_row():
    item = stocked_item(20)
    move(item, 6, StockState.AVAILABLE, StockState.DAMAGED)
    item = services.adjust_stock(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity_change=-4,
        transaction_type=TransactionType.DAMAGE,
        state=StockState.DAMAGED,
    )
    assert (item.available_quantity, item.damaged_quantity, item.total_quantity) == (14, 2, 16)
    row = InventoryTransaction.objects.get(transaction_type=TransactionType.DAMAGE)
    assert (row.stock_state, row.previous_quantity, row.new_quantity) == ("damaged", 20, 16)
    with pytest.raises(InsufficientStock):
        services.adjust_stock(
            product_id=item.product_id,
            warehouse_id=item.warehouse_id,
            quantity_change=-3,
            transaction_type=TransactionType.DAMAGE,
            state=StockState.DAMAGED,
        )
    assert ledger_drift() == []


def test_a_count_cannot_remove_units_that_are_not_available():
    item = stocked_item(10)
    move(item, 7, StockState.AVAILABLE, StockState.QUALITY_CONTROL, reason="Inspection")
    services.set_stock_count(product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=8)
    item.refresh_from_db()
    assert (item.available_quantity, item.quality_control_quantity, item.total_quantity) == (1, 7, 8)
    with pytest.raises(QuantityBelowReserved):
        services.set_stock_count(product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=6)
    assert ledger_drift() == []


def test_check_ledger_finds_a_state_or_lot_changed_behind_the_books():
    item = stocked_item(10)
    move(item, 3, StockState.AVAILABLE, StockState.DAMAGED)
    with connection.cursor() as cursor:  # what a stray UPDATE would do
        cursor.execute(
            "UPDATE inventory_inventoryitem SET damaged_quantity = 4, available_quantity = 6 WHERE id = %s", [item.pk]
        )
    assert [(d.kind, d.detail) for d in ledger_drift()] == [("damaged", "4 damaged but moves and ledger say 3")]
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=5,
        details=services.LedgerDetails(batch_number="L1"),
    )
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_stocklot SET quantity = 4 WHERE batch_number = 'L1'")
    assert ("lots", "on hand is 5 but its lots hold 4") in [(d.kind, d.detail) for d in ledger_drift()]
    assert InventoryItem.objects.get(product=product).total_quantity == 5
