"""The ops dashboard's reads on SQLite (the embedded default of ``make run``): per-minute charts with
Django's Trunc, the changes told in full, and following the feed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db.models import F

from inventory import services
from reservations.models import StockReservation
from reservations.services import (
    LineRequest,
    confirm_reservation,
    expire_reservations,
    release_reservation,
    reserve_stock,
)
from tests.factories import WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _reserve(item, quantity: int, user):
    line = LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=quantity)
    return reserve_stock(lines=[line], user=user)


def test_the_dashboard_and_its_activity_on_sqlite(client, warehouse_user):
    main, other = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(20, warehouse=main, reorder_point=5)
    stocked_item(3, product=item.product, warehouse=other, reorder_point=5)
    client.force_login(warehouse_user)
    opened = client.get("/ops/api/dashboard").json()
    assert opened["counted"] == []

    services.adjust_stock(product_id=item.product_id, warehouse_id=main.pk, quantity_change=-14, user=warehouse_user)
    confirm_reservation(reservation_id=_reserve(item, 2, warehouse_user).pk, user=warehouse_user)
    release_reservation(reservation_id=_reserve(item, 1, warehouse_user).pk, user=warehouse_user)
    overdue = _reserve(item, 1, warehouse_user)
    StockReservation.objects.filter(pk=overdue.pk).update(expires_at=F("created_at") + timedelta(microseconds=1))
    assert expire_reservations() == 1

    followed = client.get("/ops/api/activity", {"after": opened["next_after"]}).json()
    who = warehouse_user.username
    assert [(c["change"], c["type"], c["who"], c["available_quantity"]) for c in followed["changes"]] == [
        (-14, "adjustment", who, 6),
        (-2, "reserved", who, 4),
        (-2, "sale", who, 4),
        (-1, "reserved", who, 3),
        (1, "released", who, 4),
        (-1, "reserved", who, 3),
        (1, "reservation_expired", "system", 4),
    ]
    assert [a["type"] for a in followed["alerts"]] == ["low_stock.raised"]

    body = client.get("/ops/api/dashboard", {"warehouse_id": main.pk}).json()
    assert sum(body["charts"]["movements"][str(main.pk)]) == 3  # receipt, adjustment, sale
    assert sum(body["charts"]["movements"][str(other.pk)]) == 1
    assert {kind: sum(n) for kind, n in body["charts"]["reservations"].items()} == {
        "created": 3,
        "confirmed": 1,
        "released": 1,
        "expired": 1,
    }
    assert body["charts"]["open_alerts"][-1] == 2  # both items are at or below 5
    assert {c["warehouse_id"] for c in body["changes"]} == {main.pk}
    tile = next(t for t in body["warehouses"] if t["warehouse_id"] == main.pk)
    assert (tile["on_hand"], tile["available"], tile["reserved"], tile["low_items"]) == (4, 4, 0, 1)
