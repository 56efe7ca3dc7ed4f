"""A retried POST with the same Idempotency-Key does the work once."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.models import IdempotencyKey, InventoryTransaction
from inventory.tasks import purge_idempotency_keys_task
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _adjust(client, item, change=5, key="k-1"):
    return client.post(
        f"/api/v1/inventory/{item.product_id}/adjust",
        {"warehouse_id": item.warehouse_id, "quantity_change": change, "transaction_type": "adjustment"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )


def test_same_key_same_body_replays_the_first_response(warehouse_api):
    item = stocked_item(10)
    first = _adjust(warehouse_api, item)
    second = _adjust(warehouse_api, item)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    item.refresh_from_db()
    assert item.total_quantity == 15
    assert InventoryTransaction.objects.count() == 2


def test_same_key_different_body_is_409(warehouse_api):
    item = stocked_item(10)
    _adjust(warehouse_api, item, change=5)
    response = _adjust(warehouse_api, item, change=6)
    assert response.status_code == 409 and response.json()["code"] == "idempotency_key_reused"
    item.refresh_from_db()
    assert item.total_quantity == 15


def test_a_refusal_is_replayed_too(warehouse_api):
    item = stocked_item(3)
    first = _adjust(warehouse_api, item, change=-5)
    assert first.status_code == 409
    from inventory import services

    services.receive_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=10)
    again = _adjust(warehouse_api, item, change=-5)
    assert (again.status_code, again.json()) == (409, first.json())
    item.refresh_from_db()
    assert item.total_quantity == 13


def test_keys_are_scoped_per_user(warehouse_api):
    from tests.conftest import _user_in

    item = stocked_item(10)
    other = APIClient()
    other_user = _user_in("warehouse")
    other.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=other_user).key}")
    _adjust(warehouse_api, item)
    _adjust(other, item)
    item.refresh_from_db()
    assert item.total_quantity == 20


def test_concurrent_retries_with_one_key_apply_once(warehouse_user):
    item = stocked_item(10)
    token = Token.objects.create(user=warehouse_user).key
    barrier = threading.Barrier(8)

    def attempt(_):
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
            barrier.wait()
            return _adjust(client, item, key="same").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(attempt, range(8)))
    assert statuses == [200] * 8
    item.refresh_from_db()
    assert item.total_quantity == 15
    assert InventoryTransaction.objects.count() == 2


def test_old_keys_are_purged_and_then_reusable(warehouse_api):
    item = stocked_item(10)
    _adjust(warehouse_api, item)
    IdempotencyKey.objects.update(created_at=timezone.now() - timezone.timedelta(hours=25))
    assert purge_idempotency_keys_task.apply().get() == 1
    _adjust(warehouse_api, item)
    item.refresh_from_db()
    assert item.total_quantity == 20
    call_command("check_ledger")
