"""Back office: staff release or confirm reservations with admin actions that call the services."""

import pytest
from django.urls import reverse

from inventory.models import InventoryItem
from inventory.selectors import ledger_drift
from reservations import services
from reservations.models import StockReservation
from reservations.services import LineRequest
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db


def _reserve(item, quantity):
    return services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=quantity)],
        order_id=f"ORD-{quantity}",
    )


def test_release_and_confirm_actions(client, warehouse_user):
    client.force_login(warehouse_user)
    item = stocked_item(10)
    to_release, to_confirm = _reserve(item, 2), _reserve(item, 3)
    url = reverse("admin:reservations_stockreservation_changelist")
    page = client.get(url, {"status__exact": "active"})
    assert page.status_code == 200 and "ORD-2" in page.content.decode()
    client.post(url, {"action": "release_selected", "_selected_action": [str(to_release.pk)]})
    client.post(url, {"action": "confirm_selected", "_selected_action": [str(to_confirm.pk)]})
    assert StockReservation.objects.get(pk=to_release.pk).status == "released"
    assert StockReservation.objects.get(pk=to_confirm.pk).status == "fulfilled"
    item = InventoryItem.objects.get(pk=item.pk)
    assert (item.available_quantity, item.reserved_quantity, item.total_quantity) == (7, 0, 7)
    # A second release reports the error instead of failing.
    response = client.post(url, {"action": "release_selected", "_selected_action": [str(to_release.pk)]}, follow=True)
    assert "released, not active" in response.content.decode()
    assert ledger_drift() == []


def test_detail_shows_lines_read_only(client, warehouse_user):
    client.force_login(warehouse_user)
    item = stocked_item(5)
    reservation = _reserve(item, 1)
    page = client.get(reverse("admin:reservations_stockreservation_change", args=[reservation.pk]))
    assert page.status_code == 200
    assert item.product.sku in page.content.decode()
    assert client.get(reverse("admin:reservations_stockreservation_add")).status_code == 403


def test_ledger_check_counts_reservation_holds(client):
    item = stocked_item(10)
    _reserve(item, 4)
    assert ledger_drift() == []
    InventoryItem.objects.filter(pk=item.pk).update(reserved_quantity=5, available_quantity=5)
    assert [d.kind for d in ledger_drift()] == ["reserved"]
