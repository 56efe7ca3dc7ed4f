"""Counts and reorder-point edits raise or resolve low-stock alerts at once, not only at the next scan."""

import pytest
from django.urls import reverse

from inventory import services
from inventory.models import LowStockAlert
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db


def test_a_count_below_the_reorder_point_raises_an_alert_and_a_recount_resolves_it():
    item = stocked_item(50, reorder_point=10)
    services.set_stock_count(product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=4)
    alert = LowStockAlert.objects.get(item=item)
    assert (alert.status, alert.current_quantity, alert.reorder_point) == ("open", 4, 10)
    services.set_stock_count(product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=40)
    alert.refresh_from_db()
    assert alert.status == "resolved"


def test_raising_the_reorder_point_in_the_admin_raises_an_alert(client, warehouse_user):
    item = stocked_item(8, reorder_point=5)
    assert not LowStockAlert.objects.exists()
    client.force_login(warehouse_user)
    response = client.post(
        reverse("admin:inventory_inventoryitem_change", args=[item.pk]),
        {"reorder_point": "12", "reorder_quantity": "50", "max_stock_level": "500", "barcode": ""},
    )
    assert response.status_code == 302
    alert = LowStockAlert.objects.get(item=item)
    assert (alert.status, alert.current_quantity, alert.reorder_point) == ("open", 8, 12)


def test_selling_down_to_the_point_raises_once_and_restocking_resolves():
    item = stocked_item(12, reorder_point=10)
    for _ in range(4):
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
    assert LowStockAlert.objects.filter(item=item, status="open").count() == 1
    services.receive_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=20)
    assert LowStockAlert.objects.get(item=item).status == "resolved"
