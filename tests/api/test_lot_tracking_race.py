"""Switching lot tracking on while a receipt is in flight, on real connections: the switch waits for the
receipt and then refuses (the units are in no lot), so the books never hold untracked units of a tracked product."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from inventory import services
from inventory.exceptions import BatchRequired
from inventory.models import InventoryItem, Product
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)

WAIT = 60  # seconds: only reached when something is broken


def _waiting_on_a_lock(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
        row = cursor.fetchone()
    return row is not None and row[0] == "Lock"


@pytest.mark.parametrize("new_item", [False, True], ids=["existing-item", "new-item"])
def test_switching_tracking_on_waits_for_a_receipt_in_flight_and_refuses(warehouse_api, new_item):
    product = ProductFactory()
    warehouse = WarehouseFactory()
    if not new_item:
        stocked_item(0, product=product, warehouse=warehouse)
    received, finish = threading.Event(), threading.Event()
    switch_pid: list[int] = []
    answers: list = []

    def receipt() -> None:
        try:
            with transaction.atomic():
                # Creates the item when new_item: the switch cannot see it until this commits.
                services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=5)
                received.set()
                assert finish.wait(WAIT)
        finally:
            connection.close()

    def switch() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                switch_pid.append(cursor.fetchone()[0])
            answers.append(warehouse_api.patch(f"/api/v1/products/{product.pk}/", {"track_lots": True}, format="json"))
        finally:
            connection.close()

    receiving = threading.Thread(target=receipt)
    receiving.start()
    assert received.wait(WAIT)
    switching = threading.Thread(target=switch)
    switching.start()
    try:
        # The switch is blocked by the uncommitted receipt (its item lock, or the new item's key lock).
        deadline = time.monotonic() + WAIT
        while not (switch_pid and _waiting_on_a_lock(switch_pid[0])):
            assert switching.is_alive() and time.monotonic() < deadline, "the switch did not wait for the receipt"
            time.sleep(0.02)
    finally:
        finish.set()
        receiving.join(WAIT)
        switching.join(WAIT)

    (response,) = answers
    assert response.status_code == 409
    assert (response.json()["code"], response.json()["on_hand"]) == ("lots_required", 5)
    assert Product.objects.get(pk=product.pk).track_lots is False
    assert InventoryItem.objects.get(product=product, warehouse=warehouse).total_quantity == 5
    assert ledger_drift() == []


def test_a_first_receipt_during_the_switch_waits_and_then_must_name_its_lot(warehouse_api):
    product = ProductFactory()
    stocked_item(0, product=product)  # an item elsewhere: the receipt below creates its own
    warehouse = WarehouseFactory()
    switched, finish = threading.Event(), threading.Event()
    receipt_pid: list[int] = []
    outcome: list[Exception | None] = []

    def switch() -> None:
        try:
            with transaction.atomic():
                services.set_lot_tracking(product_id=product.pk, track_lots=True)
                switched.set()
                assert finish.wait(WAIT)
        finally:
            connection.close()

    def receipt() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                receipt_pid.append(cursor.fetchone()[0])
            try:
                services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=5)
                outcome.append(None)
            except Exception as exc:  # the assertion below names it
                outcome.append(exc)
        finally:
            connection.close()

    switching = threading.Thread(target=switch)
    switching.start()
    assert switched.wait(WAIT)
    receiving = threading.Thread(target=receipt)
    receiving.start()
    try:
        # The receipt's new item collides with the switch's placeholder: it waits for the switch to commit.
        deadline = time.monotonic() + WAIT
        while not (receipt_pid and _waiting_on_a_lock(receipt_pid[0])):
            assert receiving.is_alive() and time.monotonic() < deadline, "the receipt did not wait for the switch"
            time.sleep(0.02)
    finally:
        finish.set()
        switching.join(WAIT)
        receiving.join(WAIT)

    (error,) = outcome
    assert isinstance(error, BatchRequired), error
    assert Product.objects.get(pk=product.pk).track_lots is True
    # Nothing of the placeholders is left, and the refused receipt wrote nothing.
    assert list(InventoryItem.objects.filter(product=product).values_list("total_quantity", flat=True)) == [0]
    assert ledger_drift() == []
    lots = warehouse_api.get(f"/api/v1/inventory/{product.pk}/lots").json()
    assert (lots["track_lots"], lots["lots"]) == (True, [])
