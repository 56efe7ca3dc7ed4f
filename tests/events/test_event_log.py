"""The outbox: every committed change is an event written in the same transaction, by the write path only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from inventory import catalog, services
from inventory.alerts import scan_low_stock
from inventory.exceptions import InsufficientStock
from inventory.models import Event, InventoryItem, LowStockAlert
from reservations import services as reservations
from reservations.models import StockReservation
from reservations.services import LineRequest
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from transfers import services as transfers

pytestmark = pytest.mark.django_db(transaction=True)


def _events(**filters) -> list[Event]:
    return list(Event.objects.filter(**filters).order_by("id"))


def _types(events: list[Event]) -> list[str]:
    return [event.type for event in events]


def test_an_adjustment_writes_one_inventory_updated_with_the_items_json(storefront_api):
    item = stocked_item(10, reorder_point=2)
    before = Event.objects.count()
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-3)
    (event,) = Event.objects.order_by("id")[before:]
    assert (event.type, event.product_id, event.warehouse_id, event.item_id) == (
        "inventory.updated",
        item.product_id,
        item.warehouse_id,
        item.pk,
    )
    # The event's data is exactly the item JSON the API serves (built in SQL, formatted the same way).
    served = storefront_api.get(f"/api/v1/inventory/{item.product_id}").json()["items"][0]
    assert event.data == served
    assert event.data["available_quantity"] == 7 and event.data["version"] == served["version"]


def test_several_changes_to_one_item_in_one_transaction_give_one_event_with_the_final_state():
    item = stocked_item(10, reorder_point=0)
    other = stocked_item(5, reorder_point=0)
    before = Event.objects.count()
    with transaction.atomic():
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
        services.adjust_stock(product_id=other.product_id, warehouse_id=other.warehouse_id, quantity_change=2)
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-4)
    events = list(Event.objects.order_by("id")[before:])
    assert _types(events) == ["inventory.updated", "inventory.updated"]
    by_item = {event.item_id: event.data for event in events}
    assert by_item[item.pk]["available_quantity"] == 5
    assert by_item[item.pk]["version"] == InventoryItem.objects.get(pk=item.pk).version
    assert by_item[other.pk]["available_quantity"] == 7
    # One transaction: the events share its id block, in the order the items were first touched.
    assert events[0].item_id == item.pk and events[0].txid == events[1].txid


def test_a_refused_or_rolled_back_change_writes_no_event():
    item = stocked_item(3)
    before = Event.objects.count()
    with pytest.raises(InsufficientStock):
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-5)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
        raise RuntimeError("the caller fails after the service")
    assert Event.objects.count() == before


def test_a_rolled_back_savepoint_drops_its_events_and_the_rest_commit():
    item = stocked_item(10, reorder_point=0)
    before = Event.objects.count()
    with transaction.atomic():
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
        with pytest.raises(InsufficientStock):
            services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-50)
    (event,) = Event.objects.order_by("id")[before:]
    assert event.data["available_quantity"] == 9


def test_the_checkout_flow_writes_reservation_events(storefront_api):
    item = stocked_item(10, reorder_point=0)
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2, "order_id": "ORD-9"}
    rid = storefront_api.post("/api/v1/inventory/reserve", body, format="json").json()["id"]
    storefront_api.post(f"/api/v1/inventory/reserve/{rid}/confirm")
    events = _events(id__gt=before)
    assert _types(events) == ["inventory.updated", "reservation.created", "inventory.updated", "reservation.confirmed"]
    created, confirmed = events[1], events[3]
    assert created.data["id"] == rid and created.data["status"] == "active" and created.data["order_id"] == "ORD-9"
    assert created.data["items"] == [
        {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2, "product_attributes": {}}
    ]
    assert (created.product_id, created.warehouse_id) == (item.product_id, item.warehouse_id)
    assert confirmed.data["status"] == "fulfilled" and confirmed.data["fulfilled_at"]
    assert events[2].data["total_quantity"] == 8


def test_the_expiry_sweep_writes_its_events_set_based():
    items = [stocked_item(10, reorder_point=0) for _ in range(3)]
    for item in items:
        for _ in range(2):
            reservations.reserve_stock(
                lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=1)]
            )
    now = timezone.now()
    StockReservation.objects.update(created_at=now - timedelta(minutes=5), expires_at=now - timedelta(seconds=1))
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    assert reservations.expire_reservations(batch_size=4) == 6
    events = _events(id__gt=before)
    assert _types(events).count("reservation.expired") == 6
    updates = [event for event in events if event.type == "inventory.updated"]
    # Two batches; each batch's transaction writes one update per item it released, with the final state.
    assert {event.item_id for event in updates} == {item.pk for item in items}
    final = {event.item_id: event.data["available_quantity"] for event in updates}
    assert set(final.values()) == {10}


def test_alerts_write_raised_and_resolved_events():
    item = stocked_item(20, reorder_point=10)
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-15)
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=+15)
    events = [event for event in _events(id__gt=before) if event.type.startswith("low_stock.")]
    assert _types(events) == ["low_stock.raised", "low_stock.resolved"]
    alert = LowStockAlert.objects.get(item=item)
    assert events[0].data["alert_id"] == alert.pk and events[0].data["current_quantity"] == 5
    assert events[0].data["sku"] == item.product.sku and events[1].data["status"] == "resolved"


def test_the_scan_writes_events_for_what_it_raises_and_resolves():
    item = stocked_item(20, reorder_point=10)
    # A reorder point moved by raw SQL: only the scan sees it.
    InventoryItem.objects.filter(pk=item.pk).update(reorder_point=30)
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    assert scan_low_stock() == (1, 0)
    InventoryItem.objects.filter(pk=item.pk).update(reorder_point=5)
    assert scan_low_stock() == (0, 1)
    assert _types(_events(id__gt=before)) == ["low_stock.raised", "low_stock.resolved"]


def test_transfers_write_an_event_per_step():
    source, target = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(10, warehouse=source, reorder_point=0)
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    transfer = transfers.create_transfer(
        product_id=item.product_id, from_warehouse_id=source.pk, to_warehouse_id=target.pk, quantity=4
    )
    transfers.start_transfer(transfer_id=transfer.pk)
    transfers.complete_transfer(transfer_id=transfer.pk)
    kinds = [event for event in _events(id__gt=before) if event.type.startswith("transfer.")]
    assert _types(kinds) == ["transfer.created", "transfer.started", "transfer.completed"]
    assert [event.warehouse_id for event in kinds] == [source.pk, source.pk, target.pk]
    assert kinds[-1].data["status"] == "completed" and kinds[-1].data["id"] == str(transfer.pk)


def test_a_renamed_sku_reaches_every_items_json_with_a_higher_version():
    product = ProductFactory()
    items = [stocked_item(3, product=product, warehouse=WarehouseFactory()) for _ in range(2)]
    versions = {item.pk: InventoryItem.objects.get(pk=item.pk).version for item in items}
    before = Event.objects.order_by("-id").values_list("id", flat=True).first()
    catalog.update_product(product_id=product.pk, changes={"sku": "NEW-SKU"})
    events = _events(id__gt=before)
    assert _types(events) == ["inventory.updated", "inventory.updated"]
    for event in events:
        assert event.data["sku"] == "NEW-SKU" and event.data["version"] > versions[event.item_id]
    # A name change is not part of the stock JSON: no event.
    catalog.update_product(product_id=product.pk, changes={"name": "Renamed"})
    assert _events(id__gt=events[-1].id) == []
