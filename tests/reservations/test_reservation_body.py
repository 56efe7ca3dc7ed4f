"""The reservation JSON every reservation answer carries (``reservation_body``) is what the
documented ``ReservationOutput`` serializer (the OpenAPI schema) produces, in every state."""

import pytest

from reservations.models import StockReservation
from reservations.serializers import ReservationOutput, reservation_body
from reservations.services import LineRequest, confirm_reservation, release_reservation, reserve_stock
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db


def _both(reservation: StockReservation) -> tuple[dict, dict]:
    return reservation_body(reservation), ReservationOutput(reservation).data


def test_the_fast_body_equals_the_serializer_for_new_confirmed_released_and_reloaded_reservations():
    first, second = stocked_item(20), stocked_item(20)
    single = reserve_stock(
        lines=[LineRequest(product_id=first.product_id, warehouse_id=first.warehouse_id, quantity=2)],
        order_id="ORD-77",
    )
    several = reserve_stock(
        lines=[
            LineRequest(
                product_id=first.product_id,
                warehouse_id=first.warehouse_id,
                quantity=1,
                product_attributes={"size": "M", "gift": True, "tags": ["a", 1]},
            ),
            LineRequest(product_id=second.product_id, warehouse_id=None, quantity=3),
        ],
        session_id="cart-9",
        reservation_type="cart",
        expires_in=60,
    )
    confirmed = confirm_reservation(reservation_id=single.pk)
    released = release_reservation(reservation_id=several.pk)
    for reservation in (single, several, confirmed, released, *StockReservation.objects.all()):
        body, documented = _both(reservation)
        assert body == documented
    body, _ = _both(StockReservation.objects.get(pk=released.pk))
    assert body["status"] == "released" and body["released_at"].endswith("Z") and body["fulfilled_at"] is None
    assert [line["quantity"] for line in body["items"]] == [1, 3]
    assert body["items"][0]["product_attributes"] == {"size": "M", "gift": True, "tags": ["a", 1]}
