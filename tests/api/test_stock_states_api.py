"""Stock states over the API: moving units between states, disposing of damaged stock, availability."""

from __future__ import annotations

import pytest

from inventory import services
from inventory.lot_models import StockStateMove
from inventory.models import InventoryItem, InventoryTransaction
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

# Transactional: the after-commit cache refresh must run, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

QUANTITIES = (
    "available_quantity",
    "reserved_quantity",
    "damaged_quantity",
    "quality_control_quantity",
    "safety_stock_quantity",
    "total_quantity",
)


def quantities(item: InventoryItem) -> tuple[int, ...]:
    return InventoryItem.objects.values_list(*QUANTITIES).get(pk=item.pk)


def _state():
    """Everything a refused request must leave untouched."""
    items = list(InventoryItem.objects.order_by("pk").values_list("pk", *QUANTITIES, "version"))
    return items, StockStateMove.objects.count(), InventoryTransaction.objects.count()


def move(api, item, **body):
    body = {"warehouse_id": item.warehouse_id, "quantity": 3, "from": "available", "to": "damaged", **body}
    body = {key: value for key, value in body.items() if value is not None}
    return api.post(f"/api/v1/inventory/{item.product_id}/move-state", body, format="json")


def test_moving_units_to_damaged_and_back(warehouse_api, warehouse_user):
    item = stocked_item(20)
    ledger_rows = InventoryTransaction.objects.count()

    response = move(warehouse_api, item, quantity=5, reason="Dropped pallet")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["available_quantity"], body["damaged_quantity"], body["total_quantity"]) == (15, 5, 20)
    stored = StockStateMove.objects.get()
    assert body["move"] == {
        "id": stored.pk,
        "quantity": 5,
        "from": "available",
        "to": "damaged",
        "reason": "Dropped pallet",
        "created_by": warehouse_user.pk,
        "created_at": body["move"]["created_at"],
    }
    assert body["move"]["created_at"].endswith("Z")
    assert (stored.item_id, stored.created_by, stored.quantity) == (item.pk, warehouse_user, 5)
    # On hand did not change: no ledger row.
    assert InventoryTransaction.objects.count() == ledger_rows

    # The read right after the write sees the states.
    read = warehouse_api.get(f"/api/v1/inventory/{item.product_id}?warehouse_id={item.warehouse_id}").json()
    assert (read["available_quantity"], read["damaged_quantity"], read["total_quantity"]) == (15, 5, 20)
    assert read["items"][0]["damaged_quantity"] == 5

    response = move(warehouse_api, item, quantity=2, reason="Repaired", to="available", **{"from": "damaged"})
    assert response.status_code == 200, response.json()
    assert quantities(item) == (17, 0, 3, 0, 0, 20)
    response = move(warehouse_api, item, quantity=4, reason="Sample check", to="quality_control")
    assert response.status_code == 200
    response = move(warehouse_api, item, quantity=6, reason="Buffer", to="safety_stock")
    assert response.status_code == 200
    assert quantities(item) == (7, 0, 3, 4, 6, 20)
    assert StockStateMove.objects.count() == 4


def _reserved_item() -> InventoryItem:
    item = stocked_item(10)
    services.hold_stock([((item.product_id, item.warehouse_id), 4)])
    return item


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({"from": "sold"}, 400, "invalid", "from"),
        ({"to": "reserved"}, 400, "invalid", "to"),  # reserved units move only through holds
        ({"to": "available"}, 400, "invalid", "to"),
        ({"quantity": 0}, 400, "invalid", "quantity"),
        ({"quantity": -2}, 400, "invalid", "quantity"),
        ({"quantity": "many"}, 400, "invalid", "quantity"),
        ({"reason": None}, 400, "invalid", "reason"),
        ({"reason": "   "}, 400, "invalid", "reason"),
        ({"reason": "x" * 256}, 400, "invalid", "reason"),
        ({"warehouse_id": "abc"}, 400, "invalid", "warehouse_id"),
        ({"quantity": 7}, 409, "insufficient_stock", None),  # 6 available: 4 of the 10 are reserved
        ({"from": "damaged", "to": "available"}, 409, "insufficient_stock", None),
        ({"warehouse_id": 999999}, 404, "not_found", None),
    ],
)
def test_bad_moves_are_refused_and_change_nothing(warehouse_api, body, status, code, field):
    item = _reserved_item()
    before = _state()
    response = move(warehouse_api, item, **{"reason": "Check", **body})
    assert response.status_code == status, response.json()
    answer = response.json()
    assert answer["code"] == code and answer["detail"]
    if field is not None:
        assert field in answer["errors"]
    assert _state() == before
    assert not StockStateMove.objects.exists()


def test_moving_more_than_the_state_holds_names_the_state(warehouse_api):
    item = stocked_item(10)
    assert move(warehouse_api, item, quantity=2, reason="Crushed").status_code == 200
    before = _state()
    response = move(warehouse_api, item, quantity=3, reason="Fixed", to="available", **{"from": "damaged"})
    assert response.status_code == 409
    answer = response.json()
    assert (answer["code"], answer["state"], answer["available_quantity"], answer["requested"]) == (
        "insufficient_stock",
        "damaged",
        2,
        3,
    )
    assert _state() == before


def test_an_unknown_product_is_404(warehouse_api):
    warehouse = WarehouseFactory()
    body = {"warehouse_id": warehouse.pk, "quantity": 1, "from": "available", "to": "damaged", "reason": "x"}
    response = warehouse_api.post("/api/v1/inventory/999999/move-state", body, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_only_warehouse_staff_move_units(storefront_api, anon_api):
    item = stocked_item(10)
    before = _state()
    assert move(storefront_api, item, reason="x").status_code == 403
    assert move(anon_api, item, reason="x").status_code == 401
    assert _state() == before


def test_a_retried_move_with_the_same_key_moves_once(warehouse_api):
    item = stocked_item(10)
    url = f"/api/v1/inventory/{item.product_id}/move-state"
    body = {"warehouse_id": item.warehouse_id, "quantity": 4, "from": "available", "to": "quality_control"}
    body["reason"] = "Inbound inspection"
    first = warehouse_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="qc-1")
    again = warehouse_api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="qc-1")
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert StockStateMove.objects.count() == 1
    assert quantities(item) == (6, 0, 0, 4, 0, 10)
    reused = warehouse_api.post(url, {**body, "quantity": 5}, format="json", HTTP_IDEMPOTENCY_KEY="qc-1")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"


def test_damaged_stock_is_disposed_of_through_adjust(warehouse_api):
    item = stocked_item(20)
    assert move(warehouse_api, item, quantity=5, reason="Water damage").status_code == 200
    url = f"/api/v1/inventory/{item.product_id}/adjust"
    body = {"warehouse_id": item.warehouse_id, "transaction_type": "damage", "state": "damaged", "reason": "Skip"}

    response = warehouse_api.post(url, {**body, "quantity_change": -4}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["available_quantity"], response.json()["damaged_quantity"]) == (15, 1)
    assert response.json()["total_quantity"] == 16
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.stock_state) == ("damage", -4, "damaged")
    assert (row.previous_quantity, row.new_quantity) == (20, 16)
    ledger = warehouse_api.get(f"/api/v1/inventory/{item.product_id}/transactions").json()["results"]
    assert (ledger[0]["stock_state"], ledger[0]["quantity_change"]) == ("damaged", -4)
    assert ledger[1]["stock_state"] == "available"

    # One damaged unit is left: disposing of two is refused, and available units are not touched.
    before = _state()
    response = warehouse_api.post(url, {**body, "quantity_change": -2}, format="json")
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["state"]) == ("insufficient_stock", "damaged")
    assert _state() == before

    # A null state is refused; without one an adjust changes available units, as before.
    response = warehouse_api.post(url, {**body, "quantity_change": -2, "state": None}, format="json")
    assert response.status_code == 400 and "state" in response.json()["errors"]
    del body["state"]
    response = warehouse_api.post(url, {**body, "quantity_change": -2}, format="json")
    assert response.status_code == 200
    assert quantities(item) == (13, 0, 1, 0, 0, 14)


def test_an_unknown_adjust_state_is_400(warehouse_api):
    item = stocked_item(5)
    before = _state()
    body = {"warehouse_id": item.warehouse_id, "quantity_change": -1, "transaction_type": "damage", "state": "lost"}
    response = warehouse_api.post(f"/api/v1/inventory/{item.product_id}/adjust", body, format="json")
    assert response.status_code == 400 and "state" in response.json()["errors"]
    assert _state() == before


def test_availability_sums_the_states_over_warehouses(storefront_api, warehouse_api):
    product = ProductFactory()
    here, there = WarehouseFactory(), WarehouseFactory()
    a = stocked_item(10, product=product, warehouse=here)
    b = stocked_item(8, product=product, warehouse=there)
    services.hold_stock([((product.pk, here.pk), 1)])
    assert move(warehouse_api, a, quantity=2, reason="Dented").status_code == 200
    assert move(warehouse_api, a, quantity=3, reason="Inspection", to="quality_control").status_code == 200
    assert move(warehouse_api, b, quantity=4, reason="Buffer", to="safety_stock").status_code == 200
    assert move(warehouse_api, b, quantity=1, reason="Torn", to="damaged").status_code == 200

    body = storefront_api.get(f"/api/v1/inventory/availability?product_ids={product.pk}").json()
    assert body["results"][str(product.pk)] == {
        "available_quantity": 4 + 3,
        "reserved_quantity": 1,
        "damaged_quantity": 2 + 1,
        "quality_control_quantity": 3,
        "safety_stock_quantity": 4,
        "total_quantity": 18,
    }
    one = storefront_api.get(f"/api/v1/inventory/availability?product_ids={product.pk}&warehouse_id={there.pk}")
    assert one.json()["results"][str(product.pk)] == {
        "available_quantity": 3,
        "reserved_quantity": 0,
        "damaged_quantity": 1,
        "quality_control_quantity": 0,
        "safety_stock_quantity": 4,
        "total_quantity": 8,
    }
    stock = storefront_api.get(f"/api/v1/inventory/{product.pk}").json()
    assert (stock["damaged_quantity"], stock["quality_control_quantity"], stock["safety_stock_quantity"]) == (3, 3, 4)
