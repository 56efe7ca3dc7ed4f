"""``services.apply_stock_lines`` (the CSV import's write) and ``services.reverse_transaction`` (Undo)."""

from decimal import Decimal

import pytest
from django.utils import timezone

from inventory import services
from inventory.exceptions import InsufficientStock, InvalidState, QuantityBelowReserved, QuantityMismatch
from inventory.models import Event, InventoryItem, InventoryTransaction, LowStockAlert
from inventory.selectors import ledger_drift
from reservations.services import LineRequest, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db


def on_hand(item: InventoryItem) -> int:
    item.refresh_from_db()
    return item.total_quantity


def test_lines_are_booked_in_order_like_the_services_one_by_one():
    warehouse = WarehouseFactory()
    counted = stocked_item(10, warehouse=warehouse, reorder_point=5)
    new_product = ProductFactory()
    user = UserFactory()
    lines = [
        services.Movement(
            product_id=new_product.pk,
            warehouse_id=warehouse.pk,
            quantity_change=30,
            transaction_type="purchase",
            details=services.LedgerDetails(cost_per_unit=Decimal("2.50"), batch_number="B1"),
        ),
        services.Count(product_id=counted.product_id, warehouse_id=warehouse.pk, counted_quantity=4),
        services.Movement(
            product_id=new_product.pk, warehouse_id=warehouse.pk, quantity_change=-3, transaction_type="damage"
        ),
        # A count after a receipt of the same item sees the receipt: 30 - 3 = 27 -> 25 is a -2 row.
        services.Count(product_id=new_product.pk, warehouse_id=warehouse.pk, counted_quantity=25),
        services.Count(product_id=counted.product_id, warehouse_id=warehouse.pk, counted_quantity=4),  # no change
    ]
    touched = services.apply_stock_lines(lines, user=user)

    assert len(touched) == 2
    assert on_hand(counted) == 4
    created = InventoryItem.objects.get(product=new_product, warehouse=warehouse)
    assert created.total_quantity == 25
    assert counted.last_count_date == created.last_count_date == timezone.localdate()
    rows = list(
        InventoryTransaction.objects.filter(warehouse=warehouse, created_by=user)
        .order_by("id")
        .values_list("transaction_type", "quantity_change", "previous_quantity", "new_quantity")
    )
    assert rows == [("purchase", 30, 0, 30), ("count", -6, 10, 4), ("damage", -3, 30, 27), ("count", -2, 27, 25)]
    receipt = InventoryTransaction.objects.get(product=new_product, transaction_type="purchase")
    assert (receipt.total_cost, receipt.batch_number) == (Decimal("75.00"), "B1")
    # The count to 4 took the item below its reorder point of 5: an alert, as with set_stock_count.
    assert LowStockAlert.objects.filter(item=counted, status="open").exists()
    assert set(Event.objects.filter(type="inventory.updated").values_list("item_id", flat=True)) >= {
        counted.pk,
        created.pk,
    }
    assert ledger_drift() == []


def test_a_failing_line_books_nothing_and_names_its_line():
    warehouse = WarehouseFactory()
    first, second = stocked_item(10, warehouse=warehouse), stocked_item(2, warehouse=warehouse)
    new_product = ProductFactory()
    rows_before, events_before = InventoryTransaction.objects.count(), Event.objects.count()
    lines = [
        services.Movement(
            product_id=first.product_id, warehouse_id=warehouse.pk, quantity_change=5, transaction_type="purchase"
        ),
        services.Movement(
            product_id=new_product.pk, warehouse_id=warehouse.pk, quantity_change=5, transaction_type="purchase"
        ),
        services.Movement(
            product_id=second.product_id, warehouse_id=warehouse.pk, quantity_change=-3, transaction_type="damage"
        ),
    ]
    with pytest.raises(InsufficientStock) as refused:
        services.apply_stock_lines(lines)
    assert refused.value.data["line"] == 2
    assert (on_hand(first), on_hand(second)) == (10, 2)
    assert not InventoryItem.objects.filter(product=new_product).exists()  # the item the receipt created is gone
    assert InventoryTransaction.objects.count() == rows_before
    assert Event.objects.count() == events_before


def test_a_count_checks_the_expected_on_hand_and_what_is_reserved():
    item = stocked_item(10)
    key = {"product_id": item.product_id, "warehouse_id": item.warehouse_id}
    with pytest.raises(QuantityMismatch):
        services.apply_stock_lines([services.Count(**key, counted_quantity=7, expected_quantity=9)])
    reserve_stock(lines=[LineRequest(**key, quantity=4)])
    with pytest.raises(QuantityBelowReserved):
        services.apply_stock_lines([services.Count(**key, counted_quantity=3, expected_quantity=10)])
    services.apply_stock_lines([services.Count(**key, counted_quantity=7, expected_quantity=10)])
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity) == (3, 4)
    assert ledger_drift() == []


def test_undo_books_the_reverse_once():
    item = stocked_item(10)
    user = UserFactory()
    received = services.receive_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=5)
    row = InventoryTransaction.objects.filter(product_id=item.product_id).latest("id")
    assert received.total_quantity == 15

    undone, reversing = services.reverse_transaction(transaction_id=row.pk, user=user)
    assert undone.total_quantity == 10
    assert (reversing.quantity_change, reversing.transaction_type) == (-5, "adjustment")
    assert (reversing.reference_type, reversing.reference_id) == ("reversal", row.transaction_number)
    with pytest.raises(InvalidState, match="already undone"):
        services.reverse_transaction(transaction_id=row.pk, user=user)
    with pytest.raises(InvalidState, match="itself an undo"):
        services.reverse_transaction(transaction_id=reversing.pk, user=user)
    assert on_hand(item) == 10
    assert ledger_drift() == []


def test_undo_that_would_go_below_zero_is_refused_with_what_is_available():
    item = stocked_item(0)
    services.receive_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=5)
    row = InventoryTransaction.objects.filter(product_id=item.product_id).latest("id")
    reserve_stock(lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=3)])
    with pytest.raises(InsufficientStock, match="only 2 are available now"):
        services.reverse_transaction(transaction_id=row.pk)
    assert on_hand(item) == 5
