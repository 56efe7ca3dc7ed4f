"""End to end: a real Celery worker with beat, on Redis, writes off an expired lot on its own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from inventory import services
from inventory.event_models import Event, EventType
from inventory.models import InventoryItem, InventoryTransaction, StockLot, TransactionType
from tests.factories import ProductFactory, WarehouseFactory
from tests.processes import running, service_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_beat_and_worker_write_off_an_expired_lot(tmp_path):
    product = ProductFactory(track_lots=True, requires_expiry=True)
    warehouse = WarehouseFactory()
    expired_on = timezone.localdate() - timedelta(days=1)
    services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=7,
        details=services.LedgerDetails(batch_number="OLD", expiry_date=expired_on),
    )
    lot = StockLot.objects.get(item__product=product, batch_number="OLD")
    env = service_env(LOT_EXPIRY_SWEEP_SECONDS="1", VAR_DIR=str(tmp_path))
    log = tmp_path / "worker.log"
    with running(["celery", "-A", "inventory_site", "worker", "-B", "-l", "info", "-c", "1"], env, log):
        wait_until(
            lambda: StockLot.objects.get(pk=lot.pk).quantity == 0,
            timeout=60,
            message=f"the expired lot to be written off (worker log: {log})",
        )
    row = InventoryTransaction.objects.get(product=product, transaction_type=TransactionType.EXPIRED)
    assert (row.batch_number, row.quantity_change, row.new_quantity) == ("OLD", -7, 0)
    assert InventoryItem.objects.get(product=product, warehouse=warehouse).available_quantity == 0
    (event,) = Event.objects.filter(type=EventType.LOT_EXPIRED).values_list("data", flat=True)
    assert (event["batch_number"], event["written_off"], event["shortfall"]) == ("OLD", 7, 0)
    assert "sweep_lot_expiry_task" in log.read_text()
    call_command("check_ledger")
