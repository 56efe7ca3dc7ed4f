"""Reservations on SQLite: reserve, confirm and release over the API, all-or-nothing, and the expiry sweep."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from reservations import services
from reservations.models import StockReservation
from reservations.services import LineRequest
from reservations.tasks import expire_reservations_task
from tests.embedded.support import check_ledger
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _quantities(item):
    item = InventoryItem.objects.get(pk=item.pk)
    return item.available_quantity, item.reserved_quantity, item.total_quantity


def _reserve(client, body, **headers):
    return client.post("/api/v1/inventory/reserve", body, format="json", **headers)


def _make_overdue(*reservation_ids):
    past = timezone.now() - timedelta(seconds=1)
    StockReservation.objects.filter(pk__in=reservation_ids).update(
        expires_at=past, created_at=past - timedelta(minutes=30)
    )


def test_reserve_then_confirm(storefront_api):
    item = stocked_item(10)
    response = _reserve(
        storefront_api,
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 3, "order_id": "ORD-1"},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "active" and body["order_id"] == "ORD-1"
    assert _quantities(item) == (7, 3, 10)
    stock = storefront_api.get(f"/api/v1/inventory/{item.product_id}").json()
    assert (stock["available_quantity"], stock["reserved_quantity"]) == (7, 3)

    confirmed = storefront_api.post(f"/api/v1/inventory/reserve/{body['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "fulfilled"
    assert _quantities(item) == (7, 0, 7)
    sale = InventoryTransaction.objects.get(transaction_type="sale")
    assert (sale.previous_quantity, sale.quantity_change, sale.new_quantity) == (10, -3, 7)
    assert (sale.reference_type, sale.reference_id) == ("reservation", body["id"])
    assert "Ledger balanced" in check_ledger()


def test_release_returns_the_units_once(storefront_api):
    item = stocked_item(10)
    rid = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 4}
    ).json()["id"]
    assert _quantities(item) == (6, 4, 10)
    released = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/release")
    assert released.status_code == 200 and released.json()["status"] == "released"
    assert _quantities(item) == (10, 0, 10)
    again = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/release")
    assert again.status_code == 409 and again.json()["code"] == "reservation_not_active"
    assert storefront_api.post(f"/api/v1/inventory/reserve/{rid}/confirm").status_code == 409
    assert _quantities(item) == (10, 0, 10)
    assert not InventoryTransaction.objects.filter(transaction_type="sale").exists()
    assert ledger_drift() == []


def test_multi_line_is_all_or_nothing(storefront_api):
    a, b = stocked_item(10), stocked_item(2)
    lines = [
        {"product_id": a.product_id, "warehouse_id": a.warehouse_id, "quantity": 5},
        {"product_id": b.product_id, "warehouse_id": b.warehouse_id, "quantity": 3},
    ]
    refused = _reserve(storefront_api, {"items": lines, "order_id": "ORD-2"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "insufficient_stock"
    assert refused.json()["shortages"] == [
        {"product_id": b.product_id, "warehouse_id": b.warehouse_id, "requested": 3, "available_quantity": 2}
    ]
    assert _quantities(a) == (10, 0, 10) and _quantities(b) == (2, 0, 2)
    assert StockReservation.objects.count() == 0

    lines[1]["quantity"] = 2
    accepted = _reserve(storefront_api, {"items": lines, "order_id": "ORD-2"})
    assert accepted.status_code == 201, accepted.json()
    assert _quantities(a) == (5, 5, 10) and _quantities(b) == (0, 2, 2)
    confirmed = storefront_api.post(f"/api/v1/inventory/reserve/{accepted.json()['id']}/confirm")
    assert confirmed.status_code == 200
    assert _quantities(a) == (5, 0, 5) and _quantities(b) == (0, 0, 0)
    assert InventoryTransaction.objects.filter(transaction_type="sale").count() == 2
    assert ledger_drift() == []


def test_allocated_reservation_splits_across_warehouses(storefront_api):
    product = ProductFactory()
    first, second = WarehouseFactory(priority=1), WarehouseFactory(priority=2)
    a = stocked_item(4, product=product, warehouse=first)
    b = stocked_item(10, product=product, warehouse=second)
    response = _reserve(storefront_api, {"product_id": product.pk, "quantity": 7})
    assert response.status_code == 201, response.json()
    assert {(i["warehouse_id"], i["quantity"]) for i in response.json()["items"]} == {(first.pk, 4), (second.pk, 3)}
    assert _quantities(a) == (0, 4, 4) and _quantities(b) == (7, 3, 10)
    assert _reserve(storefront_api, {"product_id": product.pk, "quantity": 8}).status_code == 409
    assert ledger_drift() == []


def test_one_active_reservation_per_order(storefront_api):
    item = stocked_item(10)
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 1, "order_id": "ORD-9"}
    assert _reserve(storefront_api, body).status_code == 201
    second = _reserve(storefront_api, body)
    assert second.status_code == 409 and second.json()["code"] == "order_already_reserved"
    assert _quantities(item) == (9, 1, 10)


def test_expire_reservations_returns_the_units_of_overdue_holds_only():
    item = stocked_item(10)
    key = {"product_id": item.product_id, "warehouse_id": item.warehouse_id}
    keep = services.reserve_stock(lines=[LineRequest(**key, quantity=2)])
    sold = services.reserve_stock(lines=[LineRequest(**key, quantity=3)])
    services.confirm_reservation(reservation_id=sold.pk)
    overdue = [services.reserve_stock(lines=[LineRequest(**key, quantity=1)]) for _ in range(4)]
    _make_overdue(*(r.pk for r in overdue))
    assert _quantities(item) == (1, 6, 7)

    assert services.expire_reservations(batch_size=3) == 4  # two batches
    assert _quantities(item) == (5, 2, 7)
    assert StockReservation.objects.filter(status="expired").count() == 4
    assert StockReservation.objects.get(pk=keep.pk).status == "active"
    assert services.expire_reservations() == 0
    assert "Ledger balanced" in check_ledger()


def test_the_celery_sweep_task_expires_overdue_reservations():
    a, b = stocked_item(8), stocked_item(8)
    reservation = services.reserve_stock(
        lines=[
            LineRequest(product_id=a.product_id, warehouse_id=a.warehouse_id, quantity=3),
            LineRequest(product_id=b.product_id, warehouse_id=b.warehouse_id, quantity=5),
        ]
    )
    assert expire_reservations_task.apply().get() == 0
    _make_overdue(reservation.pk)
    assert expire_reservations_task.apply().get() == 1
    assert StockReservation.objects.get(pk=reservation.pk).status == "expired"
    assert _quantities(a) == (8, 0, 8) and _quantities(b) == (8, 0, 8)
    assert "Ledger balanced" in check_ledger()


def test_an_unswept_overdue_hold_never_refuses_a_sale(storefront_api):
    item = stocked_item(3)
    rid = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 3}
    ).json()["id"]
    _make_overdue(rid)
    response = _reserve(
        storefront_api, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2}
    )
    assert response.status_code == 201, response.json()
    assert StockReservation.objects.get(pk=rid).status == "expired"
    assert _quantities(item) == (1, 2, 3)
    assert ledger_drift() == []


def test_check_ledger_detects_reserved_units_no_reservation_holds():
    item = stocked_item(5)
    services.reserve_stock(lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=2)])
    assert ledger_drift() == []
    InventoryItem.objects.filter(pk=item.pk).update(available_quantity=2, reserved_quantity=3)
    assert [(d.item_id, d.kind) for d in ledger_drift()] == [(item.pk, "reserved")]
