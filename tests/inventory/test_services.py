"""The write path: quantities, the ledger and after-commit effects move together or not at all."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from inventory import services
from inventory.exceptions import (
    InsufficientStock,
    InvalidInput,
    NotFound,
    QuantityBelowReserved,
    QuantityMismatch,
)
from inventory.models import InventoryItem, InventoryTransaction, TransactionType
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db


def _adjust(item, change, **kwargs):
    return services.adjust_stock(
        product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change, **kwargs
    )


def test_receive_creates_the_item_and_a_purchase_row():
    product, warehouse = ProductFactory(), WarehouseFactory()
    user = UserFactory()
    item = services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=12,
        details=services.LedgerDetails(cost_per_unit=Decimal("2.50"), batch_number="B-1", reference_id="PO-9"),
        user=user,
    )
    assert (item.available_quantity, item.total_quantity) == (12, 12)
    row = InventoryTransaction.objects.get()
    assert row.transaction_type == TransactionType.PURCHASE
    assert (row.previous_quantity, row.quantity_change, row.new_quantity) == (0, 12, 12)
    assert row.total_cost == Decimal("30.00")
    assert row.created_by == user
    assert row.transaction_number.startswith("TX-")


def test_adjust_down_and_up_keeps_the_chain():
    item = stocked_item(10)
    _adjust(item, -4, transaction_type=TransactionType.DAMAGE, details=services.LedgerDetails(reason="dropped"))
    _adjust(item, 6, transaction_type=TransactionType.RETURN)
    item.refresh_from_db()
    assert item.total_quantity == 12
    rows = list(InventoryTransaction.objects.order_by("id").values_list("previous_quantity", "new_quantity"))
    assert rows == [(0, 10), (10, 6), (6, 12)]
    assert ledger_drift() == []


def test_adjust_below_zero_is_refused_and_writes_nothing(django_capture_on_commit_callbacks):
    item = stocked_item(3)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(InsufficientStock) as excinfo:
        _adjust(item, -4)
    assert excinfo.value.code == "insufficient_stock"
    assert callbacks == []
    item.refresh_from_db()
    assert item.available_quantity == 3
    assert InventoryTransaction.objects.count() == 1


def test_expected_quantity_mismatch_is_refused_and_writes_nothing(django_capture_on_commit_callbacks):
    item = stocked_item(8)
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(QuantityMismatch) as excinfo:
        _adjust(item, 2, expected_quantity=7)
    assert excinfo.value.data["actual_quantity"] == 8
    assert callbacks == []
    assert InventoryTransaction.objects.count() == 1
    _adjust(item, 2, expected_quantity=8)
    item.refresh_from_db()
    assert item.total_quantity == 10


def test_a_successful_adjustment_registers_one_after_commit_hook(django_capture_on_commit_callbacks):
    item = stocked_item(1)
    with django_capture_on_commit_callbacks() as callbacks:
        _adjust(item, 1)
    assert len(callbacks) == 1


def test_multi_item_movements_are_all_or_nothing():
    a, b = stocked_item(5), stocked_item(1)
    movements = [
        services.Movement(
            product_id=a.product_id, warehouse_id=a.warehouse_id, quantity_change=-2, transaction_type="adjustment"
        ),
        services.Movement(
            product_id=b.product_id, warehouse_id=b.warehouse_id, quantity_change=-2, transaction_type="adjustment"
        ),
    ]
    with pytest.raises(InsufficientStock):
        services.apply_movements(movements)
    a.refresh_from_db()
    assert a.available_quantity == 5
    assert InventoryTransaction.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "change"),
    [("purchase", -1), ("return", -1), ("damage", 1), ("theft", 1), ("expired", 1), ("adjustment", 0), ("bogus", 1)],
)
def test_the_sign_of_a_change_must_fit_its_type(kind, change):
    item = stocked_item(5)
    with pytest.raises(InvalidInput):
        _adjust(item, change, transaction_type=kind)
    assert InventoryTransaction.objects.count() == 1


def test_adjusting_an_unknown_item_is_not_found():
    product, warehouse = ProductFactory(), WarehouseFactory()
    with pytest.raises(NotFound):
        services.adjust_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity_change=1)
    with pytest.raises(NotFound):
        services.receive_stock(product_id=product.pk, warehouse_id=999999, quantity=1)


def test_count_creates_the_item_and_records_the_difference():
    product, warehouse = ProductFactory(), WarehouseFactory()
    item, created = services.set_stock_count(
        product_id=product.pk, warehouse_id=warehouse.pk, counted_quantity=40, item_settings={"reorder_point": 5}
    )
    assert created and item.total_quantity == 40 and item.reorder_point == 5
    assert item.last_count_date is not None
    item, created = services.set_stock_count(product_id=product.pk, warehouse_id=warehouse.pk, counted_quantity=37)
    assert not created and item.available_quantity == 37
    rows = list(InventoryTransaction.objects.order_by("id").values_list("transaction_type", "quantity_change"))
    assert rows == [("count", 40), ("count", -3)]
    # A count that matches writes no row but still dates the count.
    services.set_stock_count(product_id=product.pk, warehouse_id=warehouse.pk, counted_quantity=37)
    assert InventoryTransaction.objects.count() == 2


def test_count_below_reserved_is_refused():
    item = stocked_item(10)
    services.hold_stock([((item.product_id, item.warehouse_id), 6)])
    with pytest.raises(QuantityBelowReserved):
        services.set_stock_count(product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=5)
    item, _ = services.set_stock_count(product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=8)
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (2, 6, 8)


def test_hold_release_and_consume():
    item = stocked_item(10)
    key = (item.product_id, item.warehouse_id)
    services.hold_stock([(key, 4), (key, 3)])
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity) == (3, 7)
    with pytest.raises(InsufficientStock) as excinfo:
        services.hold_stock([(key, 4)])
    assert excinfo.value.data["shortages"] == [
        {"product_id": key[0], "warehouse_id": key[1], "requested": 4, "available_quantity": 3}
    ]
    services.release_held_stock({item.pk: 2})
    services.consume_held_stock(
        {item.pk: 5}, transaction_type=TransactionType.SALE, details=services.LedgerDetails(reference_id="R1")
    )
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (5, 0, 5)
    sale = InventoryTransaction.objects.get(transaction_type="sale")
    assert (sale.previous_quantity, sale.quantity_change, sale.new_quantity) == (10, -5, 5)


def test_check_ledger_reports_drift_and_fails(capsys):
    item = stocked_item(5)
    call_command("check_ledger")
    assert "Ledger balanced" in capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_inventoryitem SET available_quantity = 9 WHERE id = %s", [item.pk])
    with pytest.raises(CommandError):
        call_command("check_ledger")
    assert "on hand is 9 but the ledger sums to 5" in capsys.readouterr().err


def test_check_ledger_reports_unexplained_reserved_units():
    item = stocked_item(5)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_inventoryitem SET available_quantity = 3, reserved_quantity = 2 WHERE id = %s", [item.pk]
        )
    kinds = [d.kind for d in ledger_drift()]
    assert kinds == ["reserved"]


def test_check_ledger_task_returns_the_number_of_drifts():
    from inventory.tasks import check_ledger_task

    item = stocked_item(5)
    assert check_ledger_task.apply().get() == 0
    InventoryItem.objects.filter(pk=item.pk).update(available_quantity=1)
    assert check_ledger_task.apply().get() == 1


def test_releasing_more_than_is_held_is_refused_and_changes_nothing():
    from inventory.exceptions import InvalidState

    a, b = stocked_item(10), stocked_item(10)
    services.hold_stock([((a.product_id, a.warehouse_id), 3), ((b.product_id, b.warehouse_id), 2)])
    with pytest.raises(InvalidState):
        services.release_held_stock({a.pk: 3, b.pk: 5})
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.available_quantity, a.reserved_quantity, b.available_quantity, b.reserved_quantity) == (7, 3, 8, 2)
    services.release_held_stock({a.pk: 3, b.pk: 2})
    a.refresh_from_db()
    assert (a.available_quantity, a.reserved_quantity) == (10, 0)
    assert ledger_drift() == []
