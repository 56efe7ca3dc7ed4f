"""Lots over the API: reading a product's lots, booking and counting lot by lot, switching tracking."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction, Product, StockLot
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

# Transactional: the after-commit cache refresh must run, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

TODAY = timezone.localdate()
LOT_FIELDS = {
    "id",
    "warehouse_id",
    "batch_number",
    "expiry_date",
    "received_date",
    "supplier_id",
    "quantity",
    "expired",
}


def receive(product, warehouse, quantity, batch, expiry=None, **details):
    return services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=quantity,
        details=services.LedgerDetails(batch_number=batch, expiry_date=expiry, **details),
    )


def _state():
    """Everything a refused request must leave untouched."""
    items = list(InventoryItem.objects.order_by("pk").values_list("pk", "available_quantity", "total_quantity"))
    lots = list(StockLot.objects.order_by("pk").values_list("pk", "batch_number", "quantity", "expiry_date"))
    products = list(Product.objects.order_by("pk").values_list("pk", "track_lots", "requires_expiry"))
    return items, lots, products, InventoryTransaction.objects.count()


# --- GET /inventory/{id}/lots ---------------------------------------------------------------------


def test_lots_are_listed_first_expired_first_out_with_undated_ones_last(storefront_api):
    product = ProductFactory(track_lots=True)
    north, south = WarehouseFactory(), WarehouseFactory()
    receive(product, north, 5, "UNDATED", supplier_id=7)
    receive(product, north, 8, "LATE", TODAY + timedelta(days=30))
    receive(product, south, 3, "SOON", TODAY + timedelta(days=2))
    receive(product, north, 4, "OLD", TODAY - timedelta(days=1))

    response = storefront_api.get(f"/api/v1/inventory/{product.pk}/lots")
    assert response.status_code == 200
    body = response.json()
    assert (body["product_id"], body["sku"], body["track_lots"], body["requires_expiry"]) == (
        product.pk,
        product.sku,
        True,
        False,
    )
    assert [
        (lot["batch_number"], lot["warehouse_id"], lot["quantity"], lot["expiry_date"], lot["expired"])
        for lot in body["lots"]
    ] == [
        ("OLD", north.pk, 4, (TODAY - timedelta(days=1)).isoformat(), True),
        ("SOON", south.pk, 3, (TODAY + timedelta(days=2)).isoformat(), False),
        ("LATE", north.pk, 8, (TODAY + timedelta(days=30)).isoformat(), False),
        ("UNDATED", north.pk, 5, None, False),
    ]
    undated = body["lots"][-1]
    assert set(undated) == LOT_FIELDS
    assert (undated["supplier_id"], undated["received_date"]) == (7, TODAY.isoformat())
    assert undated["id"] == StockLot.objects.get(batch_number="UNDATED").pk

    # One warehouse only; an unknown one has no lots.
    one = storefront_api.get(f"/api/v1/inventory/{product.pk}/lots?warehouse_id={north.pk}").json()
    assert [lot["batch_number"] for lot in one["lots"]] == ["OLD", "LATE", "UNDATED"]
    assert storefront_api.get(f"/api/v1/inventory/{product.pk}/lots?warehouse_id=999999").json()["lots"] == []


def test_a_lot_without_units_is_not_listed(warehouse_api):
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    receive(product, warehouse, 2, "A", TODAY + timedelta(days=1))
    receive(product, warehouse, 6, "B", TODAY + timedelta(days=9))
    # Three units out first-expired-first-out: A empties, B gives one.
    response = warehouse_api.post(
        f"/api/v1/inventory/{product.pk}/adjust",
        {"warehouse_id": warehouse.pk, "quantity_change": -3, "transaction_type": "damage"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    lots = warehouse_api.get(f"/api/v1/inventory/{product.pk}/lots").json()["lots"]
    assert [(lot["batch_number"], lot["quantity"]) for lot in lots] == [("B", 5)]
    assert StockLot.objects.get(batch_number="A").quantity == 0


def test_an_untracked_product_has_no_lots(storefront_api):
    item = stocked_item(10)
    body = storefront_api.get(f"/api/v1/inventory/{item.product_id}/lots").json()
    assert body["track_lots"] is False and body["requires_expiry"] is False
    assert body["lots"] == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/api/v1/inventory/999999/lots", 404, "not_found"),
        ("/api/v1/inventory/{product}/lots?warehouse_id=abc", 400, "invalid"),
        ("/api/v1/inventory/{product}/lots?warehouse_id=0", 400, "invalid"),
    ],
)
def test_unknown_products_and_bad_warehouse_ids_are_refused(storefront_api, path, status, code):
    product = ProductFactory(track_lots=True)
    response = storefront_api.get(path.format(product=product.pk))
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and body["detail"]


def test_reading_lots_needs_a_stock_role(anon_api, plain_api):
    product = ProductFactory(track_lots=True)
    assert anon_api.get(f"/api/v1/inventory/{product.pk}/lots").status_code == 401
    assert plain_api.get(f"/api/v1/inventory/{product.pk}/lots").status_code == 403


# --- adjust and count name the lot ------------------------------------------------------------------


def test_adjust_books_into_the_named_lot(warehouse_api):
    product = ProductFactory(track_lots=True, requires_expiry=True)
    warehouse = stocked_item(product=product).warehouse  # adjust books on an existing item
    expiry = TODAY + timedelta(days=20)
    response = warehouse_api.post(
        f"/api/v1/inventory/{product.pk}/adjust",
        {
            "warehouse_id": warehouse.pk,
            "quantity_change": 12,
            "transaction_type": "purchase",
            "batch_number": "B-77",
            "expiry_date": expiry.isoformat(),
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["total_quantity"], body["next_expiry_date"]) == (12, expiry.isoformat())
    lot = StockLot.objects.get(item__product=product)
    assert (lot.batch_number, lot.expiry_date, lot.quantity) == ("B-77", expiry, 12)
    row = InventoryTransaction.objects.get(product=product)
    assert (row.batch_number, row.expiry_date, row.quantity_change) == ("B-77", expiry, 12)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"quantity_change": 5, "transaction_type": "purchase"}, "batch_required"),
        ({"quantity_change": 5, "transaction_type": "purchase", "batch_number": "   "}, "batch_required"),
        ({"quantity_change": 5, "transaction_type": "return", "batch_number": "B-2"}, "expiry_required"),
    ],
)
def test_a_tracked_adjust_without_its_lot_is_400_and_changes_nothing(warehouse_api, body, code):
    product = ProductFactory(track_lots=True, requires_expiry=True)
    warehouse = WarehouseFactory()
    receive(product, warehouse, 4, "B-1", TODAY + timedelta(days=5))
    before = _state()
    response = warehouse_api.post(
        f"/api/v1/inventory/{product.pk}/adjust", {"warehouse_id": warehouse.pk, **body}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == code and response.json()["detail"]
    assert _state() == before


def test_a_count_is_per_lot(warehouse_api):
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    soon, later = TODAY + timedelta(days=3), TODAY + timedelta(days=40)
    receive(product, warehouse, 10, "A", soon)
    receive(product, warehouse, 6, "B", later)
    url = f"/api/v1/inventory/{product.pk}?warehouse_id={warehouse.pk}"

    # Lot A holds 10 but 7 are on the shelf; B is untouched.
    response = warehouse_api.put(url, {"quantity": 7, "batch_number": "A", "reason": "cycle count"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["total_quantity"] == 13
    # A batch nobody booked is found on the shelf: counted in as a new lot with its expiry.
    found = TODAY + timedelta(days=1)
    body = {"quantity": 2, "batch_number": "C", "expiry_date": found.isoformat()}
    response = warehouse_api.put(url, body, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["total_quantity"], response.json()["next_expiry_date"]) == (15, found.isoformat())

    lots = warehouse_api.get(f"/api/v1/inventory/{product.pk}/lots").json()["lots"]
    assert [(lot["batch_number"], lot["quantity"], lot["expiry_date"]) for lot in lots] == [
        ("C", 2, found.isoformat()),
        ("A", 7, soon.isoformat()),
        ("B", 6, later.isoformat()),
    ]
    counts = InventoryTransaction.objects.filter(transaction_type="count").order_by("id")
    assert list(counts.values_list("batch_number", "quantity_change", "expiry_date")) == [
        ("A", -3, soon),
        ("C", 2, found),
    ]
    # The stock read right after the count sees it.
    assert warehouse_api.get(url).json()["total_quantity"] == 15


def test_a_count_of_a_tracked_product_without_a_batch_is_400(warehouse_api):
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    receive(product, warehouse, 10, "A")
    before = _state()
    response = warehouse_api.put(
        f"/api/v1/inventory/{product.pk}?warehouse_id={warehouse.pk}", {"quantity": 3}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "batch_required"
    assert _state() == before


def test_a_count_with_an_expected_quantity_compares_the_lot(warehouse_api):
    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    receive(product, warehouse, 10, "A")
    receive(product, warehouse, 5, "B")
    before = _state()
    url = f"/api/v1/inventory/{product.pk}?warehouse_id={warehouse.pk}"
    # 15 on hand, but lot A holds 10: the expectation is about the lot.
    response = warehouse_api.put(url, {"quantity": 9, "batch_number": "A", "expected_quantity": 15}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "quantity_mismatch"
    assert _state() == before
    response = warehouse_api.put(url, {"quantity": 9, "batch_number": "A", "expected_quantity": 10}, format="json")
    assert response.status_code == 200 and response.json()["total_quantity"] == 14


# --- switching lot tracking ---------------------------------------------------------------------------


def test_a_product_is_created_lot_tracked(warehouse_api, storefront_api):
    response = warehouse_api.post(
        "/api/v1/products/",
        {"sku": "MILK-1", "name": "Milk", "track_lots": True, "requires_expiry": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert (response.json()["track_lots"], response.json()["requires_expiry"]) == (True, True)
    product = Product.objects.get(sku="MILK-1")
    assert (product.track_lots, product.requires_expiry) == (True, True)
    ProductFactory()  # untracked
    listed = storefront_api.get("/api/v1/products/?track_lots=true").json()["results"]
    assert [(p["sku"], p["track_lots"], p["requires_expiry"]) for p in listed] == [("MILK-1", True, True)]
    # Its first receipt must name a lot with an expiry.
    warehouse = stocked_item(product=product).warehouse
    response = warehouse_api.post(
        f"/api/v1/inventory/{product.pk}/adjust",
        {"warehouse_id": warehouse.pk, "quantity_change": 3, "transaction_type": "purchase", "batch_number": "L1"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["code"] == "expiry_required"


def test_tracking_is_switched_on_and_off_only_without_stock(warehouse_api):
    item = stocked_item(6)
    url = f"/api/v1/products/{item.product_id}/"
    before = _state()
    response = warehouse_api.patch(url, {"track_lots": True, "name": "Renamed"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "lots_required" and response.json()["on_hand"] == 6
    assert "6 units on hand" in response.json()["detail"]
    assert _state() == before
    assert Product.objects.get(pk=item.product_id).name != "Renamed"  # the whole request changed nothing

    # Book the units out, switch on, receive them into a lot.
    services.adjust_stock(
        product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-6, transaction_type="damage"
    )
    response = warehouse_api.patch(url, {"track_lots": True, "name": "Renamed"}, format="json")
    assert response.status_code == 200, response.json()
    assert (response.json()["track_lots"], response.json()["name"]) == (True, "Renamed")
    receive(item.product, item.warehouse, 4, "LOT-1")

    before = _state()
    response = warehouse_api.patch(url, {"track_lots": False}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "lots_in_use"
    assert _state() == before


def test_switching_tracking_off_also_stops_requiring_expiry(warehouse_api):
    product = ProductFactory(track_lots=True, requires_expiry=True)
    response = warehouse_api.patch(f"/api/v1/products/{product.pk}/", {"track_lots": False}, format="json")
    assert response.status_code == 200
    assert (response.json()["track_lots"], response.json()["requires_expiry"]) == (False, False)


def test_requiring_expiry_needs_tracking_and_dated_lots(warehouse_api):
    untracked = ProductFactory()
    response = warehouse_api.patch(f"/api/v1/products/{untracked.pk}/", {"requires_expiry": True}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert response.json()["field"] == "requires_expiry"

    product = ProductFactory(track_lots=True)
    warehouse = WarehouseFactory()
    receive(product, warehouse, 3, "NO-DATE")
    receive(product, warehouse, 3, "DATED", TODAY + timedelta(days=9))
    url = f"/api/v1/products/{product.pk}/"
    response = warehouse_api.patch(url, {"requires_expiry": True}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "undated_lots"
    assert response.json()["batch_numbers"] == ["NO-DATE"]
    assert Product.objects.get(pk=product.pk).requires_expiry is False

    # Receiving into the batch with its expiry dates it; then expiry can be required.
    receive(product, warehouse, 1, "NO-DATE", TODAY + timedelta(days=4))
    response = warehouse_api.patch(url, {"requires_expiry": True}, format="json")
    assert response.status_code == 200 and response.json()["requires_expiry"] is True
