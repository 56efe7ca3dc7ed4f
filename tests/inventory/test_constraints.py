"""The database itself refuses impossible stock, whatever code path tries."""

import pytest
from django.db import IntegrityError, connection, transaction

from inventory.models import InventoryItem
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db


def _raw(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_raw_update_to_negative_available_is_refused():
    item = stocked_item(5)
    with pytest.raises(IntegrityError, match="inventory_items_quantities_positive"):
        _raw("UPDATE inventory_inventoryitem SET available_quantity = -1 WHERE id = %s", [item.pk])
    item.refresh_from_db()
    assert item.available_quantity == 5


def test_raw_update_to_negative_reserved_is_refused():
    item = stocked_item(5)
    with pytest.raises(IntegrityError, match="inventory_items_quantities_positive"):
        _raw("UPDATE inventory_inventoryitem SET reserved_quantity = -3 WHERE id = %s", [item.pk])


def test_negative_reorder_settings_are_refused():
    item = stocked_item(1)
    with pytest.raises(IntegrityError, match="inventory_items_reorder_settings_positive"):
        _raw("UPDATE inventory_inventoryitem SET reorder_point = -1 WHERE id = %s", [item.pk])


def test_one_item_per_product_and_warehouse():
    product, warehouse = ProductFactory(), WarehouseFactory()
    InventoryItem.objects.create(product=product, warehouse=warehouse)
    with pytest.raises(IntegrityError, match="inventory_items_product_warehouse_unique"), transaction.atomic():
        InventoryItem.objects.create(product=product, warehouse=warehouse)


def test_total_quantity_is_computed_by_the_database():
    item = stocked_item(7)
    _raw("UPDATE inventory_inventoryitem SET reserved_quantity = 3 WHERE id = %s", [item.pk])
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (7, 3, 10)
    with pytest.raises(Exception, match="total_quantity"):
        _raw("UPDATE inventory_inventoryitem SET total_quantity = 99 WHERE id = %s", [item.pk])


def test_ledger_row_must_add_up():
    item = stocked_item(4)
    row = item.product.transactions.get()
    with pytest.raises(IntegrityError, match="ledger_new_is_previous_plus_change"):
        _raw(
            "INSERT INTO inventory_inventorytransaction (transaction_number, product_id, warehouse_id, "
            "transaction_type, quantity_change, previous_quantity, new_quantity, reference_type, reference_id, "
            "reason, notes, created_at, batch_number) "
            "VALUES ('TX-X', %s, %s, 'adjustment', 2, 4, 7, '', '', '', '', now(), '')",
            [row.product_id, row.warehouse_id],
        )
    with pytest.raises(IntegrityError, match="ledger_quantity_change_non_zero"):
        _raw(
            "INSERT INTO inventory_inventorytransaction (transaction_number, product_id, warehouse_id, "
            "transaction_type, quantity_change, previous_quantity, new_quantity, reference_type, reference_id, "
            "reason, notes, created_at, batch_number) "
            "VALUES ('TX-Y', %s, %s, 'adjustment', 0, 4, 4, '', '', '', '', now(), '')",
            [row.product_id, row.warehouse_id],
        )


def test_ledger_rows_cannot_be_changed_or_deleted_through_the_orm():
    item = stocked_item(2)
    row = item.product.transactions.get()
    row.reason = "rewritten"
    with pytest.raises(TypeError):
        row.save()
    with pytest.raises(TypeError):
        row.delete()
    with pytest.raises(TypeError):
        type(row).objects.filter(pk=row.pk).update(reason="x")
    with pytest.raises(TypeError):
        type(row).objects.filter(pk=row.pk).delete()


def test_low_stock_partial_index_exists():
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_inventory_low_stock'")
        (definition,) = cursor.fetchone()
    assert "WHERE (available_quantity <= reorder_point)" in definition
