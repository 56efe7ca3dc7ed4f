"""Low-stock alerts: raised and resolved by the write path and by the periodic scan, never twice."""

from __future__ import annotations

import contextlib
import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from inventory import services
from inventory.alerts import acknowledge_alert, scan_low_stock
from inventory.models import ACTIVE_ALERT_STATUSES, AlertStatus, InventoryItem, LowStockAlert
from inventory.services import Movement
from inventory.tasks import scan_low_stock_task
from tests.factories import WarehouseFactory, stocked_item


def adjust(item: InventoryItem, change: int) -> InventoryItem:
    return services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)


def alerts_of(item: InventoryItem) -> list[tuple[str, int, int]]:
    rows = LowStockAlert.objects.filter(item=item).order_by("pk")
    return list(rows.values_list("status", "current_quantity", "reorder_point"))


def make_low_without_alert(item: InventoryItem, reorder_point: int) -> None:
    """A settings change that bypasses the write path (as the admin's item form does)."""
    InventoryItem.objects.filter(pk=item.pk).update(reorder_point=reorder_point)


@pytest.mark.django_db
class TestWritePath:
    def test_crossing_raises_one_alert_and_rising_above_resolves_it(self):
        item = stocked_item(20, reorder_point=10)
        assert alerts_of(item) == []
        adjust(item, -10)  # 10: at the point counts
        assert alerts_of(item) == [("open", 10, 10)]
        adjust(item, -3)
        adjust(item, 1)
        assert alerts_of(item) == [("open", 10, 10)]  # still the same alert, raised once
        adjust(item, 5)  # 13
        ((status, resolved_at),) = LowStockAlert.objects.filter(item=item).values_list("status", "resolved_at")
        assert status == "resolved" and resolved_at is not None
        adjust(item, -4)  # 9 again: a new alert, the old one stays as history
        assert alerts_of(item) == [("resolved", 10, 10), ("open", 9, 10)]

    def test_reserving_counts_and_releasing_resolves(self):
        item = stocked_item(15, reorder_point=10)
        held = services.hold_stock([((item.product_id, item.warehouse_id), 6)])
        assert alerts_of(item) == [("open", 9, 10)]
        services.release_held_stock({held[(item.product_id, item.warehouse_id)].pk: 6})
        assert [status for status, *_ in alerts_of(item)] == ["resolved"]

    def test_an_acknowledged_alert_stays_the_active_one_until_resolved(self, warehouse_user):
        item = stocked_item(5, reorder_point=10)
        alert = LowStockAlert.objects.get(item=item)
        acknowledge_alert(alert_id=alert.pk, user=warehouse_user)
        adjust(item, -1)
        assert alerts_of(item) == [("acknowledged", 5, 10)]
        adjust(item, 10)
        assert alerts_of(item) == [("resolved", 5, 10)]

    def test_a_rolled_back_write_raises_nothing(self):
        item = stocked_item(20, reorder_point=10)
        with contextlib.suppress(RuntimeError), transaction.atomic():
            adjust(item, -15)
            assert alerts_of(item) == [("open", 5, 10)]
            raise RuntimeError("the caller fails")
        assert alerts_of(item) == []

    def test_the_write_path_is_set_based(self):
        def alert_queries(count: int) -> int:
            warehouse = WarehouseFactory()
            items = [stocked_item(20, warehouse=warehouse, reorder_point=10) for _ in range(count)]
            movements = [
                Movement(
                    product_id=i.product_id, warehouse_id=i.warehouse_id, quantity_change=-15, transaction_type="sale"
                )
                for i in items
            ]
            with CaptureQueriesContext(connection) as queries:
                services.apply_movements(movements)
            assert LowStockAlert.objects.filter(item__in=items, status="open").count() == count
            return sum(LowStockAlert._meta.db_table in q["sql"] for q in queries.captured_queries)

        # Read the active alerts, insert the new ones, read them for their low_stock.raised events.
        assert alert_queries(2) == alert_queries(7) == 3

    def test_the_database_refuses_a_second_active_alert(self):
        item = stocked_item(5, reorder_point=10)
        LowStockAlert.objects.filter(item=item).update(status=AlertStatus.RESOLVED, resolved_at=timezone.now())
        LowStockAlert.objects.create(item=item, current_quantity=5, reorder_point=10)  # resolved ones do not count
        with pytest.raises(IntegrityError), transaction.atomic():
            LowStockAlert.objects.create(
                item=item, current_quantity=5, reorder_point=10, status=AlertStatus.ACKNOWLEDGED
            )


@pytest.mark.django_db
class TestScan:
    def test_raises_what_the_write_path_missed_and_resolves_what_recovered(self):
        missed = stocked_item(8, reorder_point=5)
        make_low_without_alert(missed, 10)
        recovered = stocked_item(4, reorder_point=10)
        make_low_without_alert(recovered, 2)  # its open alert is now stale
        still_low = stocked_item(3, reorder_point=10)
        fine = stocked_item(50, reorder_point=10)

        assert scan_low_stock() == (1, 1)
        assert alerts_of(missed) == [("open", 8, 10)]
        assert [status for status, *_ in alerts_of(recovered)] == ["resolved"]
        assert alerts_of(still_low) == [("open", 3, 10)]
        assert alerts_of(fine) == []
        assert scan_low_stock() == (0, 0)

    def test_the_task_reports_its_counts(self):
        item = stocked_item(8, reorder_point=5)
        make_low_without_alert(item, 10)
        assert scan_low_stock_task() == {"raised": 1, "resolved": 0}
        assert scan_low_stock_task() == {"raised": 0, "resolved": 0}

    def test_beat_runs_it_every_low_stock_scan_seconds(self, settings):
        from inventory_site.celery import app

        app.finalize()
        entry = app.conf.beat_schedule["scan-low-stock"]
        assert entry["task"] == "inventory.tasks.scan_low_stock_task"
        assert entry["schedule"] == settings.LOW_STOCK_SCAN_SECONDS
        assert "inventory.tasks.scan_low_stock_task" in app.tasks


def scan_concurrently(count: int) -> list[tuple[int, int]]:
    """Run ``count`` scans in threads (own connections) released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def scan() -> None:
        try:
            barrier.wait(timeout=30)
            results.append(scan_low_stock())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=scan) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == count
    return results


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_raise_and_resolve_each_alert_once():
    warehouse = WarehouseFactory()
    to_raise = [stocked_item(8, warehouse=warehouse, reorder_point=5) for _ in range(25)]
    to_resolve = [stocked_item(4, warehouse=warehouse, reorder_point=10) for _ in range(25)]
    for rounds in range(3):
        InventoryItem.objects.filter(pk__in=[i.pk for i in to_raise]).update(reorder_point=10)
        InventoryItem.objects.filter(pk__in=[i.pk for i in to_resolve]).update(reorder_point=2)
        results = scan_concurrently(2)
        assert sum(raised for raised, _ in results) == 25, (rounds, results)
        assert sum(resolved for _, resolved in results) == 25, (rounds, results)
        for item in to_raise:
            assert LowStockAlert.objects.filter(item=item, status__in=ACTIVE_ALERT_STATUSES).count() == 1
        assert not LowStockAlert.objects.filter(item__in=to_resolve, status__in=ACTIVE_ALERT_STATUSES).exists()
        # Back to the starting state: the first group without an alert, the second with one.
        InventoryItem.objects.filter(pk__in=[i.pk for i in to_raise]).update(reorder_point=5)
        assert scan_low_stock() == (0, 25)
        InventoryItem.objects.filter(pk__in=[i.pk for i in to_resolve]).update(reorder_point=10)
        assert scan_low_stock() == (25, 0)


def _wait_until_blocked(pid: int) -> None:
    """Until the backend ``pid`` waits for a lock held by another transaction."""
    deadline = time.monotonic() + 60
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
            row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.05)
    raise AssertionError("the second scan never waited for the first one")


@pytest.mark.parametrize("kind", ["raise", "resolve"])
@pytest.mark.django_db(transaction=True)
def test_a_scan_that_overlaps_an_uncommitted_one_waits_and_does_nothing_twice(kind):
    warehouse = WarehouseFactory()
    if kind == "raise":
        items = [stocked_item(8, warehouse=warehouse, reorder_point=5) for _ in range(5)]
        InventoryItem.objects.filter(warehouse=warehouse).update(reorder_point=10)
        expected = (5, 0)
    else:
        items = [stocked_item(4, warehouse=warehouse, reorder_point=10) for _ in range(5)]
        InventoryItem.objects.filter(warehouse=warehouse).update(reorder_point=2)
        expected = (0, 5)
    first_scanned, release = threading.Event(), threading.Event()
    pids: list[int] = []
    results: dict[str, tuple[int, int]] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                results["first"] = scan_low_stock()
                first_scanned.set()
                assert release.wait(timeout=60)
        except BaseException as exc:
            errors.append(exc)
        finally:
            first_scanned.set()
            connection.close()

    def second() -> None:
        try:
            assert first_scanned.wait(timeout=60)
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pids.append(cursor.fetchone()[0])
            results["second"] = scan_low_stock()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    try:
        assert first_scanned.wait(timeout=60)
        deadline = time.monotonic() + 60
        while not pids and time.monotonic() < deadline:
            time.sleep(0.01)
        _wait_until_blocked(pids[0])
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=120)
    assert not errors, errors
    assert results == {"first": expected, "second": (0, 0)}
    active = LowStockAlert.objects.filter(item__in=items, status__in=ACTIVE_ALERT_STATUSES).count()
    assert active == (5 if kind == "raise" else 0)
