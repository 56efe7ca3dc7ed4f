"""Two purges at once (real threads, real connections) tally every deleted reservation exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from reservations import services
from reservations.models import PurgedReservationTally, StockReservation
from reservations.services import LineRequest
from tests.factories import WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_purges_never_count_a_reservation_twice():
    w1, w2 = WarehouseFactory(), WarehouseFactory()
    a, b = stocked_item(100, warehouse=w1), stocked_item(100, warehouse=w2)
    for n in range(12):
        lines = [LineRequest(product_id=a.product_id, warehouse_id=w1.pk, quantity=1)]
        if n % 3 == 0:
            lines.append(LineRequest(product_id=b.product_id, warehouse_id=w2.pk, quantity=1))
        reservation = services.reserve_stock(lines=lines, reservation_type="cart")
        if n % 2:
            services.release_reservation(reservation_id=reservation.pk)
    assert services.expire_reservations(now=timezone.now() + timedelta(days=1)) == 6
    created = timezone.now() - timedelta(days=40)
    StockReservation.objects.update(created_at=created, expires_at=created + timedelta(hours=1))

    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def purge() -> None:
        try:
            start.wait()
            results.append(services.purge_finished_reservations(batch_size=1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=purge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(results) == 12
    assert not StockReservation.objects.exists()
    tally = {
        (row.warehouse_id, row.reservation_type): (row.reservations, row.expiries)
        for row in PurgedReservationTally.objects.all()
    }
    # 12 reservations in w1 (6 expired: the even ones), 4 of them also in w2 (n = 0, 3, 6, 9; 0 and 6 expired).
    assert tally == {(w1.pk, "cart"): (12, 6), (w2.pk, "cart"): (4, 2)}
