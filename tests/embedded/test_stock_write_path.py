"""The stock write path on SQLite: receive, adjust and count, through the services and the API.

Every change is a ledger row, quantities are exact, and a refused change writes nothing.
"""

from decimal import Decimal

import pytest
from django.db import connection

from inventory import services
from inventory.exceptions import InsufficientStock, QuantityBelowReserved, QuantityMismatch
from inventory.models import InventoryItem, InventoryTransaction, LowStockAlert
from inventory.selectors import ledger_drift
from tests.embedded.support import check_ledger
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _state():
    """Everything a refused change must leave untouched."""
    items = list(
        InventoryItem.objects.order_by("pk").values_list("pk", "available_quantity", "reserved_quantity", "version")
    )
    return items, list(InventoryTransaction.objects.order_by("pk").values_list("pk", flat=True))


def _quantities(item):
    item = InventoryItem.objects.get(pk=item.pk)
    return item.available_quantity, item.reserved_quantity, item.total_quantity


def _ledger(product_id):
    return list(
        InventoryTransaction.objects.filter(product_id=product_id)
        .order_by("id")
        .values_list("transaction_type", "previous_quantity", "quantity_change", "new_quantity")
    )


def test_receive_adjust_and_count_through_the_services():
    product, warehouse = ProductFactory(), WarehouseFactory()
    item = services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=20,
        details=services.LedgerDetails(reference_id="PO-1", cost_per_unit=Decimal("2.50")),
    )
    assert (item.available_quantity, item.total_quantity) == (20, 20)
    services.adjust_stock(
        product_id=product.pk, warehouse_id=warehouse.pk, quantity_change=-3, transaction_type="damage"
    )
    services.adjust_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity_change=5, expected_quantity=17)
    counted, created = services.set_stock_count(
        product_id=product.pk, warehouse_id=warehouse.pk, counted_quantity=21, item_settings={"reorder_point": 4}
    )
    assert not created and counted.last_count_date is not None
    assert _quantities(item) == (21, 0, 21)
    assert _ledger(product.pk) == [
        ("purchase", 0, 20, 20),
        ("damage", 20, -3, 17),
        ("adjustment", 17, 5, 22),
        ("count", 22, -1, 21),
    ]
    purchase = InventoryTransaction.objects.get(product_id=product.pk, transaction_type="purchase")
    assert purchase.total_cost == Decimal("50.00") and purchase.transaction_number.startswith("TX-")
    assert ledger_drift() == []


def test_a_count_creates_a_missing_item():
    product, warehouse = ProductFactory(), WarehouseFactory()
    item, created = services.set_stock_count(product_id=product.pk, warehouse_id=warehouse.pk, counted_quantity=9)
    assert created and _quantities(item) == (9, 0, 9)
    assert _ledger(product.pk) == [("count", 0, 9, 9)]


def test_multi_item_movements_are_all_or_nothing():
    a, b = stocked_item(10), stocked_item(2)
    before = _state()
    with pytest.raises(InsufficientStock):
        services.apply_movements(
            [
                services.Movement(
                    product_id=a.product_id, warehouse_id=a.warehouse_id, quantity_change=-5, transaction_type="damage"
                ),
                services.Movement(
                    product_id=b.product_id, warehouse_id=b.warehouse_id, quantity_change=-3, transaction_type="damage"
                ),
            ]
        )
    assert _state() == before
    assert _quantities(a) == (10, 0, 10) and _quantities(b) == (2, 0, 2)


def test_refused_changes_write_nothing():
    item = stocked_item(10)
    key = {"product_id": item.product_id, "warehouse_id": item.warehouse_id}
    services.hold_stock([((item.product_id, item.warehouse_id), 4)])
    before = _state()
    with pytest.raises(InsufficientStock):
        services.adjust_stock(**key, quantity_change=-7)  # 6 available: reserved units cannot be removed
    with pytest.raises(QuantityMismatch):
        services.adjust_stock(**key, quantity_change=1, expected_quantity=9)
    with pytest.raises(QuantityBelowReserved):
        services.set_stock_count(**key, counted_quantity=3)
    assert _state() == before
    assert _quantities(item) == (6, 4, 10)


def test_low_stock_alert_raised_and_resolved_by_the_write_path():
    item = stocked_item(10, reorder_point=5)
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-6)
    alert = LowStockAlert.objects.get(item_id=item.pk)
    assert (alert.status, alert.current_quantity) == ("open", 4)
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=10)
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_adjust_and_count_through_the_api(warehouse_api, warehouse_user):
    product, warehouse = ProductFactory(), WarehouseFactory()
    url = f"/api/v1/inventory/{product.pk}?warehouse_id={warehouse.pk}"
    created = warehouse_api.put(url, {"quantity": 40, "reorder_point": 8}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["total_quantity"] == 40

    adjusted = warehouse_api.post(
        f"/api/v1/inventory/{product.pk}/adjust",
        {
            "warehouse_id": warehouse.pk,
            "quantity_change": 25,
            "transaction_type": "purchase",
            "reference_id": "PO-77",
            "cost_per_unit": "3.20",
            "expected_quantity": 40,
        },
        format="json",
    )
    assert adjusted.status_code == 200, adjusted.json()
    assert adjusted.json()["available_quantity"] == 65

    recount = warehouse_api.put(url, {"quantity": 60}, format="json")
    assert recount.status_code == 200 and recount.json()["total_quantity"] == 60
    # The read right after the write sees it (the after-commit hook refreshed the local-memory cache).
    stock = warehouse_api.get(f"/api/v1/inventory/{product.pk}").json()
    assert (stock["available_quantity"], stock["reserved_quantity"], stock["total_quantity"]) == (60, 0, 60)

    ledger = warehouse_api.get(f"/api/v1/inventory/{product.pk}/transactions").json()
    assert ledger["count"] == 3
    assert [(r["transaction_type"], r["quantity_change"], r["new_quantity"]) for r in ledger["results"]] == [
        ("count", -5, 60),
        ("purchase", 25, 65),
        ("count", 40, 40),
    ]
    assert ledger["results"][1]["total_cost"] == "80.00"
    assert set(InventoryTransaction.objects.values_list("created_by", flat=True)) == {warehouse_user.pk}
    assert "Ledger balanced" in check_ledger()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"quantity_change": -11, "transaction_type": "adjustment"}, 409, "insufficient_stock"),
        ({"quantity_change": -1, "transaction_type": "theft", "expected_quantity": 9}, 409, "quantity_mismatch"),
        ({"quantity_change": 1, "transaction_type": "sale"}, 400, "invalid"),
    ],
)
def test_refused_api_adjustments_write_nothing(warehouse_api, body, status, code):
    item = stocked_item(10)
    before = _state()
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust", {"warehouse_id": item.warehouse_id, **body}, format="json"
    )
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code
    assert _state() == before


def test_insufficient_stock_names_what_is_available(warehouse_api):
    item = stocked_item(3)
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust",
        {"warehouse_id": item.warehouse_id, "quantity_change": -5, "transaction_type": "damage"},
        format="json",
    )
    assert response.status_code == 409
    body = response.json()
    assert (body["available_quantity"], body["requested"]) == (3, 5)
    assert InventoryTransaction.objects.filter(product_id=item.product_id).count() == 1


def test_idempotent_adjustment_is_booked_once(warehouse_api):
    item = stocked_item(10)
    body = {"warehouse_id": item.warehouse_id, "quantity_change": 4, "transaction_type": "purchase"}
    url = f"/api/v1/inventory/{item.product_id}/adjust"
    first = warehouse_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="po-1")
    again = warehouse_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="po-1")
    assert first.status_code == again.status_code == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _quantities(item) == (14, 0, 14)
    assert InventoryTransaction.objects.filter(product_id=item.product_id).count() == 2


def test_check_ledger_detects_a_row_changed_behind_the_write_path():
    item = stocked_item(5)
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=2)
    assert "Ledger balanced" in check_ledger()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE inventory_inventoryitem SET available_quantity = 9 WHERE id = %s", [item.pk])
    drifts = ledger_drift()
    assert [(d.item_id, d.kind) for d in drifts] == [(item.pk, "sum")]
    assert "on hand is 9 but the ledger sums to 7" in str(drifts[0])
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="1 drift"):
        check_ledger()


def test_check_ledger_detects_a_broken_chain():
    item = stocked_item(5)
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE inventory_inventorytransaction SET previous_quantity = 4, quantity_change = 3 "
            "WHERE product_id = %s AND quantity_change = 2",
            [item.product_id],
        )
    kinds = sorted(d.kind for d in ledger_drift())
    # The sums no longer match on-hand, and the row no longer starts where the one before ended.
    assert kinds == ["chain", "sum"]


def test_beat_jobs_low_stock_scan_and_ledger_check():
    from inventory.tasks import check_ledger_task, scan_low_stock_task

    low, fine = stocked_item(3, reorder_point=0), stocked_item(50, reorder_point=0)
    assert not LowStockAlert.objects.exists()
    # Reorder points edited outside the write path: only the scan sees them.
    InventoryItem.objects.filter(pk=low.pk).update(reorder_point=5)
    assert scan_low_stock_task.apply().get() == {"raised": 1, "resolved": 0}
    assert scan_low_stock_task.apply().get() == {"raised": 0, "resolved": 0}
    assert LowStockAlert.objects.get().item_id == low.pk
    InventoryItem.objects.filter(pk=low.pk).update(reorder_point=1)
    assert scan_low_stock_task.apply().get() == {"raised": 0, "resolved": 1}
    assert LowStockAlert.objects.get().status == "resolved"
    assert InventoryItem.objects.get(pk=fine.pk).is_low_stock is False
    assert check_ledger_task.apply().get() == 0
