"""Checkout through the API: reserve → confirm / release / extend, all-or-nothing, exact quantities."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from reservations.models import StockReservation
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _quantities(item):
    item = InventoryItem.objects.get(pk=item.pk)
    return item.available_quantity, item.reserved_quantity, item.total_quantity


def _reserve(client, body, **headers):
    return client.post("/api/v1/inventory/reserve", body, format="json", **headers)


def test_single_line_reserve_then_confirm(storefront_api):
    item = stocked_item(10)
    response = _reserve(
        storefront_api,
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 3, "order_id": "ORD-1"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "active" and body["order_id"] == "ORD-1" and body["reservation_type"] == "order"
    assert body["items"] == [
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 3, "product_attributes": {}}
    ]
    assert _quantities(item) == (7, 3, 10)
    assert storefront_api.get(f"/api/v1/inventory/reserve/{body['id']}").json()["status"] == "active"
    # The stock read right after shows the hold.
    stock = storefront_api.get(f"/api/v1/inventory/{item.product_id}").json()
    assert (stock["available_quantity"], stock["reserved_quantity"]) == (7, 3)

    confirmed = storefront_api.post(f"/api/v1/inventory/reserve/{body['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "fulfilled"
    assert confirmed.json()["fulfilled_at"]
    assert _quantities(item) == (7, 0, 7)
    sale = InventoryTransaction.objects.get(transaction_type="sale")
    assert (sale.quantity_change, sale.reference_type, sale.reference_id) == (-3, "reservation", body["id"])
    assert ledger_drift() == []


def test_release_returns_units_and_a_second_release_is_409(storefront_api):
    item = stocked_item(10)
    rid = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 4}
    ).json()["id"]
    released = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/release")
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert _quantities(item) == (10, 0, 10)
    again = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/release")
    assert again.status_code == 409 and again.json()["code"] == "reservation_not_active"
    confirm = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/confirm")
    assert confirm.status_code == 409 and confirm.json()["code"] == "reservation_not_active"
    assert InventoryTransaction.objects.filter(transaction_type="sale").count() == 0


def test_multi_line_is_all_or_nothing_and_names_the_short_products(storefront_api):
    a, b = stocked_item(10), stocked_item(2)
    response = _reserve(
        storefront_api,
        {
            "items": [
                {"product_id": a.product_id, "warehouse_id": a.warehouse_id, "quantity": 5},
                {"product_id": b.product_id, "warehouse_id": b.warehouse_id, "quantity": 3},
            ],
            "order_id": "ORD-2",
        },
    )
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock" and f"product {b.product_id}" in body["detail"]
    assert body["shortages"] == [
        {"product_id": b.product_id, "warehouse_id": b.warehouse_id, "requested": 3, "available_quantity": 2}
    ]
    assert _quantities(a) == (10, 0, 10) and _quantities(b) == (2, 0, 2)
    assert StockReservation.objects.count() == 0


def test_two_lines_for_the_same_item_claim_units_together(storefront_api):
    item = stocked_item(10)
    line = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 6}
    response = _reserve(storefront_api, {"items": [line, line]})
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert _quantities(item) == (10, 0, 10)
    ok = _reserve(storefront_api, {"items": [line, {**line, "quantity": 4}]})
    assert ok.status_code == 201 and _quantities(item) == (0, 10, 10)
    confirmed = storefront_api.post(f"/api/v1/inventory/reserve/{ok.json()['id']}/confirm")
    assert confirmed.status_code == 200
    # One sale row per line.
    assert list(
        InventoryTransaction.objects.filter(transaction_type="sale")
        .values_list("quantity_change", flat=True)
        .order_by("id")
    ) == [-6, -4]
    assert ledger_drift() == []


def test_allocation_by_priority_splits_across_warehouses(storefront_api):
    product = ProductFactory()
    first = WarehouseFactory(priority=1)
    second = WarehouseFactory(priority=2)
    inactive = WarehouseFactory(priority=0, is_active=False)
    stocked_item(4, product=product, warehouse=first)
    stocked_item(10, product=product, warehouse=second)
    stocked_item(100, product=product, warehouse=inactive)
    response = _reserve(storefront_api, {"product_id": product.pk, "quantity": 7})
    assert response.status_code == 201, response.json()
    held = {(i["warehouse_id"], i["quantity"]) for i in response.json()["items"]}
    assert held == {(first.pk, 4), (second.pk, 3)}
    too_many = _reserve(storefront_api, {"product_id": product.pk, "quantity": 8})
    assert too_many.status_code == 409
    assert too_many.json()["shortages"][0]["available_quantity"] == 7


def test_extend_keeps_the_hold(storefront_api):
    item = stocked_item(5)
    rid = _reserve(
        storefront_api,
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 1, "expires_in": 60},
    ).json()["id"]
    response = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/extend", {"expires_in": 3600}, format="json")
    assert response.status_code == 200
    expires_at = StockReservation.objects.get(pk=rid).expires_at
    assert expires_at > timezone.now() + timedelta(minutes=59)
    bad = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/extend", {"expires_in": 0}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_confirming_an_overdue_reservation_expires_it_on_the_spot(storefront_api):
    item = stocked_item(5)
    rid = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2}
    ).json()["id"]
    past = timezone.now() - timedelta(seconds=1)
    StockReservation.objects.filter(pk=rid).update(expires_at=past, created_at=past - timedelta(minutes=30))
    response = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/confirm")
    assert response.status_code == 409 and response.json()["code"] == "reservation_expired"
    assert StockReservation.objects.get(pk=rid).status == "expired"
    assert _quantities(item) == (5, 0, 5)
    again = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/release")
    assert again.status_code == 409 and again.json()["code"] == "reservation_expired"


def test_an_unswept_overdue_hold_never_refuses_a_sale(storefront_api):
    item = stocked_item(3)
    rid = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 3}
    ).json()["id"]
    past = timezone.now() - timedelta(seconds=1)
    StockReservation.objects.filter(pk=rid).update(expires_at=past, created_at=past - timedelta(minutes=30))
    response = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2}
    )
    assert response.status_code == 201, response.json()
    assert StockReservation.objects.get(pk=rid).status == "expired"
    assert _quantities(item) == (1, 2, 3)
    assert ledger_drift() == []


def test_one_active_reservation_per_order(storefront_api):
    item = stocked_item(10)
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 1, "order_id": "ORD-9"}
    first = _reserve(storefront_api, body)
    assert first.status_code == 201
    second = _reserve(storefront_api, body)
    assert second.status_code == 409 and second.json()["code"] == "order_already_reserved"
    storefront_api.post(f"/api/v1/inventory/reserve/{first.json()['id']}/release")
    assert _reserve(storefront_api, body).status_code == 201
    assert _quantities(item) == (9, 1, 10)


def test_idempotent_retry_holds_once(storefront_api):
    item = stocked_item(10)
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2, "session_id": "cart-7"}
    first = _reserve(storefront_api, body, HTTP_IDEMPOTENCY_KEY="checkout-1")
    retry = _reserve(storefront_api, body, HTTP_IDEMPOTENCY_KEY="checkout-1")
    assert first.status_code == retry.status_code == 201
    assert first.json()["id"] == retry.json()["id"]
    assert _quantities(item) == (8, 2, 10)
    other = _reserve(storefront_api, {**body, "quantity": 3}, HTTP_IDEMPOTENCY_KEY="checkout-1")
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"quantity": 1},
        {"product_id": 1, "quantity": 0},
        {"product_id": 1, "quantity": -2},
        {"product_id": 1, "quantity": "two"},
        {"product_id": 1, "quantity": 2**31},
        {"product_id": 1, "quantity": 1, "expires_in": 0},
        {"product_id": 1, "quantity": 1, "expires_in": 86401},
        {"product_id": 1, "quantity": 1, "reservation_type": "forever"},
        {"items": []},
        {"items": [{"product_id": 1}]},
        {"items": [{"product_id": 1, "quantity": 1}], "product_id": 1, "quantity": 1},
    ],
)
def test_bad_reserve_bodies_are_400_and_hold_nothing(storefront_api, body):
    item = stocked_item(5)
    response = _reserve(storefront_api, body)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "invalid" and response.json()["detail"]
    assert _quantities(item) == (5, 0, 5)


def test_unknown_things_are_404(storefront_api):
    item = stocked_item(5)
    assert _reserve(storefront_api, {"product_id": 999999, "quantity": 1}).status_code == 404
    response = _reserve(storefront_api, {"product_id": item.product_id, "warehouse_id": 999999, "quantity": 1})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    unknown = "00000000-0000-0000-0000-000000000000"
    for suffix in ("", "/confirm", "/release"):
        method = storefront_api.get if not suffix else storefront_api.post
        response = method(f"/api/v1/inventory/reserve/{unknown}{suffix}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert storefront_api.get("/api/v1/inventory/reserve/not-a-uuid").status_code == 404


def test_anonymous_cannot_reserve(anon_api):
    item = stocked_item(5)
    response = _reserve(anon_api, {"product_id": item.product_id, "quantity": 1})
    assert response.status_code == 401
    assert _quantities(item) == (5, 0, 5)
