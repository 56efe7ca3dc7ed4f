"""End to end: a real Celery worker with beat, on Redis, expires a reservation on its own."""

import pytest

from inventory.models import InventoryItem
from reservations import services
from reservations.models import StockReservation
from reservations.services import LineRequest
from tests.factories import stocked_item
from tests.processes import running, service_env, wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_beat_and_worker_expire_a_two_second_reservation(tmp_path):
    item = stocked_item(10)
    reservation = services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=4)], expires_in=2
    )
    assert InventoryItem.objects.get(pk=item.pk).available_quantity == 6
    env = service_env(RESERVATION_SWEEP_SECONDS="1", VAR_DIR=str(tmp_path))
    log = tmp_path / "worker.log"
    with running(["celery", "-A", "inventory_site", "worker", "-B", "-l", "info", "-c", "1"], env, log):
        wait_until(
            lambda: StockReservation.objects.get(pk=reservation.pk).status == "expired",
            timeout=60,
            message=f"the reservation to expire (worker log: {log})",
        )
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity) == (10, 0)
    assert "expire_reservations_task" in log.read_text()
