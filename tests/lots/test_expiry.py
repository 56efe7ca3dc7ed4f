"""Lot expiry: expired lots are written off (what reservations do not hold), a held shortfall is an alert
until released, and lots about to expire are announced once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from inventory import services
from inventory.event_models import Event, EventType
from inventory.lot_models import LotExpiryAlert, LotExpiryStatus
from inventory.models import InventoryItem, InventoryTransaction, StockLot, TransactionType
from inventory.tasks import sweep_lot_expiry_task
from reservations.services import LineRequest, release_reservation, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = timezone.localdate()
YESTERDAY = TODAY - timedelta(days=1)


@pytest.fixture
def product():
    return ProductFactory(track_lots=True, requires_expiry=True)


@pytest.fixture
def warehouse():
    return WarehouseFactory()


def receive(product, warehouse, quantity, batch, expiry):
    return services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=quantity,
        details=services.LedgerDetails(batch_number=batch, expiry_date=expiry),
    )


def reserve(product, warehouse, quantity):
    return reserve_stock(
        lines=[LineRequest(product_id=product.pk, warehouse_id=warehouse.pk, quantity=quantity)], user=UserFactory()
    )


def item_of(product, warehouse) -> InventoryItem:
    return InventoryItem.objects.get(product=product, warehouse=warehouse)


def lot_quantity(product, warehouse, batch) -> int:
    return StockLot.objects.get(item__product=product, item__warehouse=warehouse, batch_number=batch).quantity


def events_of(event_type: str) -> list[dict]:
    return list(Event.objects.filter(type=event_type).order_by("id").values_list("data", flat=True))


def write_offs(product) -> list[tuple[str, int, int]]:
    rows = InventoryTransaction.objects.filter(product=product, transaction_type=TransactionType.EXPIRED)
    return list(rows.order_by("id").values_list("batch_number", "quantity_change", "new_quantity"))


def alerts_of(product) -> list[tuple[str, str, int, int]]:
    rows = LotExpiryAlert.objects.filter(item__product=product).order_by("id")
    return list(rows.values_list("lot__batch_number", "status", "shortfall", "shortfall_when_raised"))


def books_balance() -> None:
    call_command("check_ledger")  # raises CommandError on any drift, lots and states included


def expired_event(product, warehouse, batch, expiry, *, written_off, shortfall) -> dict:
    item = item_of(product, warehouse)
    return {
        "product_id": product.pk,
        "warehouse_id": warehouse.pk,
        "item_id": item.pk,
        "sku": product.sku,
        "batch_number": batch,
        "expiry_date": expiry.isoformat(),
        "written_off": written_off,
        "shortfall": shortfall,
    }


def test_an_expired_lot_nobody_holds_is_written_off_entirely(product, warehouse):
    later = TODAY + timedelta(days=60)
    receive(product, warehouse, 10, "OLD", YESTERDAY)
    receive(product, warehouse, 5, "NEW", later)

    summary = services.write_off_expired_lots()

    assert summary == services.ExpirySweep(lots_written_off=1, units_written_off=10)
    row = InventoryTransaction.objects.get(product=product, transaction_type=TransactionType.EXPIRED)
    assert (row.batch_number, row.expiry_date, row.quantity_change, row.previous_quantity, row.new_quantity) == (
        "OLD",
        YESTERDAY,
        -10,
        15,
        5,
    )
    assert row.reason == f"Lot expired on {YESTERDAY.isoformat()}"
    assert (lot_quantity(product, warehouse, "OLD"), lot_quantity(product, warehouse, "NEW")) == (0, 5)
    item = item_of(product, warehouse)
    assert (item.available_quantity, item.total_quantity, item.next_expiry_date) == (5, 5, later)
    assert events_of(EventType.LOT_EXPIRED) == [
        expired_event(product, warehouse, "OLD", YESTERDAY, written_off=10, shortfall=0)
    ]
    # The item's own event went out in the same transaction, with the new quantities.
    assert events_of(EventType.INVENTORY_UPDATED)[-1]["available_quantity"] == 5
    assert alerts_of(product) == []

    # Nothing left to do: a second run changes and announces nothing.
    assert services.write_off_expired_lots() == services.ExpirySweep()
    assert len(write_offs(product)) == 1
    assert len(events_of(EventType.LOT_EXPIRED)) == 1
    books_balance()


def test_held_units_stay_as_a_shortfall_alert_and_go_once_released(product, warehouse):
    receive(product, warehouse, 10, "B1", YESTERDAY)
    first = reserve(product, warehouse, 4)
    second = reserve(product, warehouse, 2)  # 6 of the 10 expired units held, 4 available

    summary = services.write_off_expired_lots()

    assert summary == services.ExpirySweep(lots_written_off=1, units_written_off=4, shortfall=6, alerts_raised=1)
    assert write_offs(product) == [("B1", -4, 6)]
    item = item_of(product, warehouse)
    assert (item.available_quantity, item.reserved_quantity, lot_quantity(product, warehouse, "B1")) == (0, 6, 6)
    assert alerts_of(product) == [("B1", "open", 6, 6)]
    assert events_of(EventType.LOT_EXPIRED) == [
        expired_event(product, warehouse, "B1", YESTERDAY, written_off=4, shortfall=6)
    ]
    books_balance()

    # Still held: the next run writes nothing off and says nothing new.
    assert services.write_off_expired_lots() == services.ExpirySweep(shortfall=6)
    assert len(events_of(EventType.LOT_EXPIRED)) == 1
    assert alerts_of(product) == [("B1", "open", 6, 6)]

    # Part of it released: that part goes, the shortfall shrinks, and that is announced.
    release_reservation(reservation_id=first.pk)
    summary = services.write_off_expired_lots()
    assert summary == services.ExpirySweep(lots_written_off=1, units_written_off=4, shortfall=2)
    assert write_offs(product) == [("B1", -4, 6), ("B1", -4, 2)]
    assert alerts_of(product) == [("B1", "open", 2, 6)]
    assert events_of(EventType.LOT_EXPIRED)[-1] == expired_event(
        product, warehouse, "B1", YESTERDAY, written_off=4, shortfall=2
    )
    books_balance()

    # All released: the rest is written off and the alert resolved.
    release_reservation(reservation_id=second.pk)
    summary = services.write_off_expired_lots()
    assert summary == services.ExpirySweep(lots_written_off=1, units_written_off=2, alerts_resolved=1)
    assert write_offs(product) == [("B1", -4, 6), ("B1", -4, 2), ("B1", -2, 0)]
    item = item_of(product, warehouse)
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (0, 0, 0)
    assert lot_quantity(product, warehouse, "B1") == 0
    alert = LotExpiryAlert.objects.get(item=item)
    assert (alert.status, alert.shortfall, alert.shortfall_when_raised) == (LotExpiryStatus.RESOLVED, 0, 6)
    assert alert.resolved_at is not None
    assert events_of(EventType.LOT_EXPIRED)[-1] == expired_event(
        product, warehouse, "B1", YESTERDAY, written_off=2, shortfall=0
    )
    assert len(events_of(EventType.LOT_EXPIRED)) == 3
    books_balance()


def test_the_earliest_expired_lot_takes_the_available_units_first(product, warehouse):
    receive(product, warehouse, 5, "OLDER", TODAY - timedelta(days=10))
    receive(product, warehouse, 5, "OLD", YESTERDAY)
    receive(product, warehouse, 5, "FRESH", TODAY + timedelta(days=30))
    reserve(product, warehouse, 8)  # 7 available of 15

    services.write_off_expired_lots()

    assert write_offs(product) == [("OLDER", -5, 10), ("OLD", -2, 8)]
    assert alerts_of(product) == [("OLD", "open", 3, 3)]
    # Stock received later becomes available and pays off the shortfall on the next run.
    receive(product, warehouse, 3, "FRESH", TODAY + timedelta(days=30))
    services.write_off_expired_lots()
    assert write_offs(product)[-1] == ("OLD", -3, 8)
    assert alerts_of(product) == [("OLD", "resolved", 0, 3)]
    assert lot_quantity(product, warehouse, "FRESH") == 8
    books_balance()


def test_an_alert_whose_lot_was_emptied_by_hand_is_resolved(product, warehouse):
    receive(product, warehouse, 6, "B1", YESTERDAY)
    reservation = reserve(product, warehouse, 6)
    services.write_off_expired_lots()
    assert alerts_of(product) == [("B1", "open", 6, 6)]

    # Released, and staff dispose of the batch themselves before the sweep comes round.
    release_reservation(reservation_id=reservation.pk)
    services.adjust_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity_change=-6,
        transaction_type=TransactionType.DAMAGE,
        details=services.LedgerDetails(batch_number="B1", reason="Binned"),
    )
    summary = services.write_off_expired_lots()

    assert summary == services.ExpirySweep(alerts_resolved=1)
    assert write_offs(product) == []
    assert alerts_of(product) == [("B1", "resolved", 0, 6)]
    assert events_of(EventType.LOT_EXPIRED)[-1]["shortfall"] == 0
    books_balance()


def test_a_lot_is_still_sellable_on_its_expiry_day_and_written_off_the_day_after(product, warehouse):
    receive(product, warehouse, 5, "TODAY", TODAY)

    assert services.write_off_expired_lots() == services.ExpirySweep()
    assert lot_quantity(product, warehouse, "TODAY") == 5
    assert write_offs(product) == []
    assert events_of(EventType.LOT_EXPIRED) == []

    services.write_off_expired_lots(today=TODAY + timedelta(days=1))
    assert write_offs(product) == [("TODAY", -5, 0)]
    assert item_of(product, warehouse).available_quantity == 0
    books_balance()


def test_lot_expiring_is_sent_once_per_lot(product, warehouse, settings):
    soon = TODAY + timedelta(days=5)
    receive(product, warehouse, 8, "SOON", soon)
    receive(product, warehouse, 4, "TODAY", TODAY)
    receive(product, warehouse, 3, "LATER", TODAY + timedelta(days=30))
    receive(product, warehouse, 2, "GONE", YESTERDAY)  # already expired: written off, not warned about

    assert settings.LOT_EXPIRY_WARNING_DAYS == 14
    assert services.notify_expiring_lots() == 2
    item = item_of(product, warehouse)
    sent = sorted(events_of(EventType.LOT_EXPIRING), key=lambda data: data["days_left"])
    assert sent == [
        {
            "product_id": product.pk,
            "warehouse_id": warehouse.pk,
            "item_id": item.pk,
            "sku": product.sku,
            "batch_number": "TODAY",
            "expiry_date": TODAY.isoformat(),
            "quantity": 4,
            "days_left": 0,
        },
        {
            "product_id": product.pk,
            "warehouse_id": warehouse.pk,
            "item_id": item.pk,
            "sku": product.sku,
            "batch_number": "SOON",
            "expiry_date": soon.isoformat(),
            "quantity": 8,
            "days_left": 5,
        },
    ]

    # Twice: nothing new, even after more units join the lot.
    receive(product, warehouse, 2, "SOON", soon)
    assert services.notify_expiring_lots() == 0
    assert len(events_of(EventType.LOT_EXPIRING)) == 2

    # A longer warning window reaches the later lot, once.
    settings.LOT_EXPIRY_WARNING_DAYS = 30
    assert services.notify_expiring_lots() == 1
    assert events_of(EventType.LOT_EXPIRING)[-1]["batch_number"] == "LATER"
    assert services.notify_expiring_lots() == 0
    books_balance()


def test_the_task_writes_off_and_warns_in_one_run(product, warehouse):
    receive(product, warehouse, 3, "GONE", YESTERDAY)
    receive(product, warehouse, 4, "SOON", TODAY + timedelta(days=2))

    assert sweep_lot_expiry_task.apply().get() == {
        "lots_written_off": 1,
        "units_written_off": 3,
        "shortfall": 0,
        "alerts_raised": 0,
        "alerts_resolved": 0,
        "expiring_notified": 1,
    }
    assert [data["batch_number"] for data in events_of(EventType.LOT_EXPIRED)] == ["GONE"]
    assert [data["batch_number"] for data in events_of(EventType.LOT_EXPIRING)] == ["SOON"]
    books_balance()


def test_two_sweeps_at_once_write_each_unit_off_once(product, warehouse):
    warehouses = [warehouse, *(WarehouseFactory() for _ in range(4))]
    for place in warehouses:
        receive(product, place, 5, "B1", YESTERDAY)
        reserve(product, place, 2)
    barrier = threading.Barrier(4)

    def sweep(_):
        try:
            barrier.wait()
            return services.write_off_expired_lots(batch_size=2)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(sweep, range(4)))

    assert sum(r.units_written_off for r in results) == 15
    assert sum(r.alerts_raised for r in results) == 5
    assert len(write_offs(product)) == 5
    assert len(events_of(EventType.LOT_EXPIRED)) == 5
    assert LotExpiryAlert.objects.filter(status=LotExpiryStatus.OPEN, shortfall=2).count() == 5
    books_balance()


def test_beat_runs_the_sweep_every_lot_expiry_sweep_seconds(settings):
    from inventory_site.celery import app

    app.finalize()
    entry = app.conf.beat_schedule["sweep-lot-expiry"]
    assert entry["task"] == "inventory.tasks.sweep_lot_expiry_task"
    assert entry["schedule"] == settings.LOT_EXPIRY_SWEEP_SECONDS == 60
    assert "inventory.tasks.sweep_lot_expiry_task" in app.tasks


def test_staff_see_open_alerts_in_the_admin_list(product, warehouse, warehouse_user, client):
    receive(product, warehouse, 5, "B-ADMIN", YESTERDAY)
    reserve(product, warehouse, 5)
    services.write_off_expired_lots()
    client.force_login(warehouse_user)

    page = client.get("/admin/inventory/lotexpiryalert/?status=open")

    assert page.status_code == 200
    text = page.content.decode()
    for shown in (product.sku, warehouse.code, "B-ADMIN", YESTERDAY.isoformat(), "Open"):
        assert shown in text
    alert = LotExpiryAlert.objects.get()
    assert f'<td class="field-shortfall">{alert.shortfall}</td>' in text
    # Raised and resolved by the sweep only.
    assert client.get("/admin/inventory/lotexpiryalert/add/").status_code == 403


def test_the_change_feed_serves_lot_events_by_family(product, warehouse, warehouse_api):
    receive(product, warehouse, 3, "GONE", YESTERDAY)
    receive(product, warehouse, 4, "SOON", TODAY + timedelta(days=2))
    sweep_lot_expiry_task.apply()

    body = warehouse_api.get("/api/v1/events", {"after": 0, "type": "lot.*"}).json()

    assert [(e["type"], e["data"]["batch_number"]) for e in body["results"]] == [
        ("lot.expired", "GONE"),
        ("lot.expiring", "SOON"),
    ]
    assert all((e["product_id"], e["warehouse_id"]) == (product.pk, warehouse.pk) for e in body["results"])
