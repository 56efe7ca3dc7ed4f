"""A reservation past ``expires_at`` that the sweep has not reached yet: every request sees it expired."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from reservations.models import StockReservation
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _overdue_reservation(client, item, quantity: int) -> str:
    response = client.post(
        "/api/v1/inventory/reserve",
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": quantity},
        format="json",
    )
    assert response.status_code == 201, response.json()
    rid = response.json()["id"]
    now = timezone.now()
    StockReservation.objects.filter(pk=rid).update(
        created_at=now - timedelta(minutes=5), expires_at=now - timedelta(seconds=1)
    )
    return rid


def _quantities(item) -> tuple[int, int]:
    item = InventoryItem.objects.get(pk=item.pk)
    return item.available_quantity, item.reserved_quantity


@pytest.mark.parametrize("action", ["confirm", "release"])
def test_an_idempotent_action_on_an_overdue_reservation_expires_it(storefront_api, action):
    item = stocked_item(10)
    rid = _overdue_reservation(storefront_api, item, 4)

    first = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/{action}", HTTP_IDEMPOTENCY_KEY=f"{action}-1")
    assert first.status_code == 409 and first.json()["code"] == "reservation_expired"
    # The refusal must not undo the expiry done on the spot: the units are free again.
    assert StockReservation.objects.get(pk=rid).status == "expired"
    assert _quantities(item) == (10, 0)
    stock = storefront_api.get(f"/api/v1/inventory/{item.product_id}").json()
    assert (stock["available_quantity"], stock["reserved_quantity"]) == (10, 0)

    retry = storefront_api.post(f"/api/v1/inventory/reserve/{rid}/{action}", HTTP_IDEMPOTENCY_KEY=f"{action}-1")
    assert retry.status_code == 409 and retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert not InventoryTransaction.objects.filter(transaction_type="sale").exists()
    assert ledger_drift() == []


def test_an_idempotent_refusal_that_changed_nothing_still_rolls_back(storefront_api):
    item = stocked_item(3)
    response = storefront_api.post(
        "/api/v1/inventory/reserve",
        {
            "items": [
                {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2},
                {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2},
            ]
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="short-1",
    )
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert _quantities(item) == (3, 0)
    assert not StockReservation.objects.exists()


def test_reading_an_overdue_reservation_shows_it_expired_and_frees_its_units(storefront_api):
    item = stocked_item(10)
    rid = _overdue_reservation(storefront_api, item, 6)
    assert _quantities(item) == (4, 6)

    body = storefront_api.get(f"/api/v1/inventory/reserve/{rid}").json()
    assert body["status"] == "expired" and body["released_at"]
    assert _quantities(item) == (10, 0)
    stock = storefront_api.get(f"/api/v1/inventory/{item.product_id}").json()
    assert (stock["available_quantity"], stock["reserved_quantity"]) == (10, 0)
    # Reading again changes nothing more.
    assert storefront_api.get(f"/api/v1/inventory/reserve/{rid}").json()["status"] == "expired"
    assert _quantities(item) == (10, 0)
    assert ledger_drift() == []


def test_reading_a_live_reservation_leaves_it_active(storefront_api):
    item = stocked_item(10)
    rid = storefront_api.post(
        "/api/v1/inventory/reserve",
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2},
        format="json",
    ).json()["id"]
    assert storefront_api.get(f"/api/v1/inventory/reserve/{rid}").json()["status"] == "active"
    assert _quantities(item) == (8, 2)
