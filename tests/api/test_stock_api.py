"""The storefront's contract: paths, fields, status codes and error codes, and nothing changes on error."""

import pytest

from inventory.models import InventoryItem, InventoryTransaction, Product
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

# Transactional: the after-commit cache refresh must run, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

ITEM_FIELDS = {
    "id",
    "product_id",
    "warehouse_id",
    "sku",
    "available_quantity",
    "reserved_quantity",
    "damaged_quantity",
    "quality_control_quantity",
    "safety_stock_quantity",
    "total_quantity",
    "next_expiry_date",
    "reorder_point",
    "reorder_quantity",
    "max_stock_level",
    "barcode",
    "location",
    "last_count_date",
    "last_movement_at",
    "updated_at",
    "version",
}


def _state():
    """Everything a failed request must leave untouched."""
    items = list(InventoryItem.objects.order_by("pk").values_list("pk", "available_quantity", "reserved_quantity"))
    return items, InventoryTransaction.objects.count()


def test_read_a_products_stock_across_warehouses(warehouse_api):
    product = ProductFactory()
    a = stocked_item(10, product=product)
    b = stocked_item(5, product=product)
    body = warehouse_api.get(f"/api/v1/inventory/{product.pk}").json()
    assert body["product_id"] == product.pk and body["sku"] == product.sku
    assert (body["available_quantity"], body["reserved_quantity"], body["total_quantity"]) == (15, 0, 15)
    assert [i["warehouse_id"] for i in body["items"]] == sorted([a.warehouse_id, b.warehouse_id])
    assert set(body["items"][0]) == ITEM_FIELDS
    assert set(body["items"][0]["location"]) == {"zone", "aisle", "shelf"}

    one = warehouse_api.get(f"/api/v1/inventory/{product.pk}?warehouse_id={b.warehouse_id}").json()
    assert one["total_quantity"] == 5 and len(one["items"]) == 1


def test_a_product_without_stock_has_no_items_and_an_unknown_one_is_404(warehouse_api):
    product = ProductFactory()
    body = warehouse_api.get(f"/api/v1/inventory/{product.pk}").json()
    assert body["items"] == [] and body["total_quantity"] == 0
    response = warehouse_api.get("/api/v1/inventory/999999")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_put_creates_then_updates_through_a_count(warehouse_api, warehouse_user):
    product, warehouse = ProductFactory(), WarehouseFactory()
    url = f"/api/v1/inventory/{product.pk}?warehouse_id={warehouse.pk}"
    body = {
        "quantity": 40,
        "barcode": "ITEM-1",
        "location": {"zone": "A", "aisle": "03", "shelf": "2"},
        "reorder_point": 8,
        "max_stock": 300,
    }
    response = warehouse_api.put(url, body, format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert (created["total_quantity"], created["reorder_point"], created["max_stock_level"]) == (40, 8, 300)
    assert created["location"] == {"zone": "A", "aisle": "03", "shelf": "2"}
    assert created["barcode"] == "ITEM-1"

    response = warehouse_api.put(url, {"quantity": 35}, format="json")
    assert response.status_code == 200
    assert response.json()["total_quantity"] == 35
    rows = list(InventoryTransaction.objects.order_by("id").values_list("transaction_type", "quantity_change"))
    assert rows == [("count", 40), ("count", -5)]
    assert InventoryTransaction.objects.latest("id").created_by == warehouse_user
    # The read right after the write sees it.
    assert warehouse_api.get(url).json()["total_quantity"] == 35


def test_put_below_reserved_is_409(warehouse_api):
    from inventory import services

    item = stocked_item(10)
    services.hold_stock([((item.product_id, item.warehouse_id), 6)])
    before = _state()
    response = warehouse_api.put(
        f"/api/v1/inventory/{item.product_id}?warehouse_id={item.warehouse_id}", {"quantity": 5}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "quantity_below_reserved"
    assert _state() == before


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [("", 400, "invalid"), ("?warehouse_id=abc", 400, "invalid"), ("?warehouse_id=999999", 404, "not_found")],
)
def test_put_needs_a_known_integer_warehouse(warehouse_api, query, status, code):
    product = ProductFactory()
    response = warehouse_api.put(f"/api/v1/inventory/{product.pk}{query}", {"quantity": 1}, format="json")
    assert response.status_code == status and response.json()["code"] == code
    assert InventoryItem.objects.count() == 0


def test_adjust_and_the_ledger(warehouse_api):
    item = stocked_item(10)
    url = f"/api/v1/inventory/{item.product_id}/adjust"
    response = warehouse_api.post(
        url,
        {
            "warehouse_id": item.warehouse_id,
            "quantity_change": 25,
            "transaction_type": "purchase",
            "reason": "PO received",
            "reference_type": "purchase_order",
            "reference_id": "PO-77",
            "cost_per_unit": "3.20",
            "batch_number": "LOT-9",
            "supplier_id": 4,
            "received_date": "2026-11-20",
            "expiry_date": "2027-11-20",
            "expected_quantity": 10,
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["available_quantity"] == 35
    ledger = warehouse_api.get(f"/api/v1/inventory/{item.product_id}/transactions").json()
    assert ledger["count"] == 2
    newest = ledger["results"][0]
    assert newest["transaction_type"] == "purchase" and newest["total_cost"] == "80.00"
    assert (newest["previous_quantity"], newest["quantity_change"], newest["new_quantity"]) == (10, 25, 35)
    assert newest["reference_id"] == "PO-77" and newest["batch_number"] == "LOT-9"
    filtered = warehouse_api.get(
        f"/api/v1/inventory/{item.product_id}/transactions?type=purchase&since=2026-01-01T00:00:00Z"
    )
    assert filtered.json()["count"] == 2
    assert warehouse_api.get(f"/api/v1/inventory/{item.product_id}/transactions?type=sale").json()["count"] == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"quantity_change": -11, "transaction_type": "adjustment"}, 409, "insufficient_stock"),
        ({"quantity_change": 1, "transaction_type": "adjustment", "expected_quantity": 9}, 409, "quantity_mismatch"),
        ({"quantity_change": 0, "transaction_type": "adjustment"}, 400, "invalid"),
        ({"quantity_change": "1.5", "transaction_type": "adjustment"}, 400, "invalid"),
        ({"quantity_change": 2**31, "transaction_type": "purchase"}, 400, "invalid"),
        ({"quantity_change": 1, "transaction_type": "sale"}, 400, "invalid"),
        ({"quantity_change": 1, "transaction_type": "teleport"}, 400, "invalid"),
        ({"quantity_change": -1, "transaction_type": "purchase"}, 400, "invalid"),
        ({"quantity_change": 1, "transaction_type": "damage"}, 400, "invalid"),
        ({"quantity_change": 1, "transaction_type": "purchase", "received_date": "2026-13-40"}, 400, "invalid"),
        ({"quantity_change": 1, "transaction_type": "purchase", "cost_per_unit": "abc"}, 400, "invalid"),
        ({"quantity_change": 1, "transaction_type": "purchase", "cost_per_unit": "-1"}, 400, "invalid"),
        ({"quantity_change": 1}, 400, "invalid"),
    ],
)
def test_adjust_errors_change_nothing(warehouse_api, body, status, code):
    item = stocked_item(10)
    before = _state()
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust", {"warehouse_id": item.warehouse_id, **body}, format="json"
    )
    assert response.status_code == status, response.json()
    payload = response.json()
    assert payload["code"] == code and payload["detail"]
    if status == 400:
        assert "errors" in payload
    assert _state() == before


def test_adjust_unknown_item_is_404_and_bad_json_is_400(warehouse_api):
    item = stocked_item(1)
    other = WarehouseFactory()
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust",
        {"warehouse_id": other.pk, "quantity_change": -1, "transaction_type": "adjustment"},
        format="json",
    )
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust", "[1, 2]", content_type="application/json"
    )
    assert response.status_code == 400


def test_barcode_lookup_by_gtin_and_by_item_barcode(storefront_api):
    product = ProductFactory(barcode="4006381333931")
    a = stocked_item(3, product=product)
    b = stocked_item(4, product=product, barcode="SHELF-B")
    by_gtin = storefront_api.get("/api/v1/inventory/barcode/4006381333931").json()
    assert by_gtin["product_id"] == product.pk and by_gtin["total_quantity"] == 7 and len(by_gtin["items"]) == 2
    by_item = storefront_api.get("/api/v1/inventory/barcode/SHELF-B").json()
    assert [i["warehouse_id"] for i in by_item["items"]] == [b.warehouse_id] and by_item["total_quantity"] == 4
    assert a.warehouse_id != b.warehouse_id
    response = storefront_api.get("/api/v1/inventory/barcode/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_low_stock_by_reorder_point_threshold_and_warehouse(storefront_api, django_assert_max_num_queries):
    warehouse = WarehouseFactory()
    low = stocked_item(2, warehouse=warehouse, reorder_point=5)
    stocked_item(50, warehouse=warehouse, reorder_point=5)
    elsewhere = stocked_item(1, reorder_point=5)
    body = storefront_api.get("/api/v1/inventory/low-stock").json()
    assert {r["id"] for r in body["results"]} == {low.pk, elsewhere.pk}
    assert set(body) == {"count", "next", "previous", "results"}
    body = storefront_api.get(f"/api/v1/inventory/low-stock?warehouse_id={warehouse.pk}").json()
    assert [r["id"] for r in body["results"]] == [low.pk]
    body = storefront_api.get("/api/v1/inventory/low-stock?threshold=60").json()
    assert body["count"] == 3
    for n in range(20):
        stocked_item(n % 3, reorder_point=5)
    with django_assert_max_num_queries(6):
        assert storefront_api.get("/api/v1/inventory/low-stock?page_size=500").status_code == 200
    response = storefront_api.get("/api/v1/inventory/low-stock?threshold=-1")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_availability_for_many_products(storefront_api):
    products = [ProductFactory() for _ in range(3)]
    warehouse = WarehouseFactory()
    stocked_item(5, product=products[0], warehouse=warehouse)
    stocked_item(7, product=products[0])
    ids = ",".join(str(p.pk) for p in products)
    body = storefront_api.get(f"/api/v1/inventory/availability?product_ids={ids},999999").json()
    assert body["results"][str(products[0].pk)] == {
        "available_quantity": 12,
        "reserved_quantity": 0,
        "damaged_quantity": 0,
        "quality_control_quantity": 0,
        "safety_stock_quantity": 0,
        "total_quantity": 12,
    }
    assert body["results"][str(products[1].pk)]["total_quantity"] == 0
    assert body["unknown_product_ids"] == [999999]
    body = storefront_api.get(f"/api/v1/inventory/availability?product_ids={ids}&warehouse_id={warehouse.pk}").json()
    assert body["results"][str(products[0].pk)]["available_quantity"] == 5


@pytest.mark.parametrize(
    "query",
    ["", "?product_ids=", "?product_ids=1,x", "?product_ids=-4", "?product_ids=" + ",".join(["1"] * 501)],
)
def test_availability_rejects_bad_ids(storefront_api, query):
    response = storefront_api.get(f"/api/v1/inventory/availability{query}")
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_warehouse_and_product_crud(warehouse_api):
    created = warehouse_api.post("/api/v1/warehouses/", {"code": "DC9", "name": "Depot", "priority": 3}, format="json")
    assert created.status_code == 201
    wid = created.json()["id"]
    assert (
        warehouse_api.patch(f"/api/v1/warehouses/{wid}/", {"is_active": False}, format="json").json()["is_active"]
        is False
    )
    duplicate = warehouse_api.post("/api/v1/warehouses/", {"code": "DC9", "name": "Again"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "invalid"

    product = warehouse_api.post(
        "/api/v1/products/",
        {"sku": "MUG-1", "name": "Mug", "barcode": "4006381333931", "category": "Home"},
        format="json",
    )
    assert product.status_code == 201, product.json()
    assert product.json()["category"] == "Home"
    bad_gtin = warehouse_api.post(
        "/api/v1/products/", {"sku": "MUG-2", "name": "Mug", "barcode": "4006381333932"}, format="json"
    )
    assert bad_gtin.status_code == 400 and "barcode" in bad_gtin.json()["errors"]
    assert warehouse_api.get("/api/v1/products/?sku=MUG-1").json()["count"] == 1
    assert warehouse_api.get("/api/v1/products/?search=mug").json()["count"] == 1

    pid = product.json()["id"]
    assert warehouse_api.delete(f"/api/v1/products/{pid}/").status_code == 204
    assert not Product.objects.filter(pk=pid).exists()
    assert warehouse_api.delete(f"/api/v1/warehouses/{wid}/").status_code == 204


def test_deleting_what_has_stock_or_history_is_409(warehouse_api):
    item = stocked_item(3)
    response = warehouse_api.delete(f"/api/v1/products/{item.product_id}/")
    assert response.status_code == 409 and response.json()["code"] == "protected"
    response = warehouse_api.delete(f"/api/v1/warehouses/{item.warehouse_id}/")
    assert response.status_code == 409
    assert Product.objects.filter(pk=item.product_id).exists()


def test_renaming_a_sku_shows_in_cached_stock(warehouse_api):
    item = stocked_item(3)
    warehouse_api.get(f"/api/v1/inventory/{item.product_id}")  # warm the cache
    warehouse_api.patch(f"/api/v1/products/{item.product_id}/", {"sku": "RENAMED-1"}, format="json")
    assert warehouse_api.get(f"/api/v1/inventory/{item.product_id}").json()["sku"] == "RENAMED-1"


def test_unknown_api_paths_are_json_404(warehouse_api):
    response = warehouse_api.get("/api/v1/does-not-exist")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_method_not_allowed_is_json(warehouse_api):
    response = warehouse_api.delete("/api/v1/inventory/availability?product_ids=1")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
