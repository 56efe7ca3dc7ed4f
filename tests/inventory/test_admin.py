"""The back office: staff change stock only through forms that write the ledger under their name."""

import pytest
from django.urls import reverse

from inventory.models import InventoryItem, InventoryTransaction
from tests.factories import UserFactory, stocked_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def test_warehouse_staff_adjust_stock_through_the_admin_form(staff_client, warehouse_user):
    item = stocked_item(10)
    url = reverse("admin:inventory_inventoryitem_adjust", args=[item.pk])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(
        url,
        {"quantity_change": "-3", "transaction_type": "damage", "reason": "Crushed pallet", "reference_id": "INC-7"},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.available_quantity == 7
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.created_by, row.reason) == (
        "damage",
        -3,
        warehouse_user,
        "Crushed pallet",
    )
    page = staff_client.get(reverse("admin:inventory_inventoryitem_change", args=[item.pk])).content.decode()
    assert row.transaction_number in page and "Adjust stock" in page


def test_an_impossible_adjustment_shows_an_error_and_changes_nothing(staff_client):
    item = stocked_item(2)
    response = staff_client.post(
        reverse("admin:inventory_inventoryitem_adjust", args=[item.pk]),
        {"quantity_change": "-5", "transaction_type": "adjustment"},
    )
    assert response.status_code == 200
    assert "Only 2 available" in response.content.decode()
    assert InventoryTransaction.objects.count() == 1


def test_record_count_through_the_admin(staff_client, warehouse_user):
    item = stocked_item(10)
    response = staff_client.post(
        reverse("admin:inventory_inventoryitem_count", args=[item.pk]),
        {"counted_quantity": "8", "reason": "Cycle count", "expected_quantity": "10"},
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.total_quantity == 8 and item.last_count_date is not None
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.created_by) == ("count", -2, warehouse_user)


def test_a_count_from_a_stale_form_is_refused(staff_client):
    item = stocked_item(10)
    response = staff_client.post(
        reverse("admin:inventory_inventoryitem_count", args=[item.pk]),
        {"counted_quantity": "8", "expected_quantity": "9"},
    )
    assert response.status_code == 200
    item.refresh_from_db()
    assert item.total_quantity == 10


def test_quantity_fields_cannot_be_posted_directly(staff_client):
    item = stocked_item(10)
    url = reverse("admin:inventory_inventoryitem_change", args=[item.pk])
    response = staff_client.post(
        url,
        {
            "available_quantity": "999",
            "reserved_quantity": "5",
            "reorder_point": "3",
            "reorder_quantity": "50",
            "max_stock_level": "500",
            "location_zone": "A",
            "location_aisle": "1",
            "location_shelf": "2",
            "barcode": "",
        },
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity, item.reorder_point) == (10, 0, 3)
    assert InventoryTransaction.objects.count() == 1


def test_the_ledger_is_read_only_in_the_admin(staff_client):
    stocked_item(1)
    row = InventoryTransaction.objects.get()
    assert staff_client.get(reverse("admin:inventory_inventorytransaction_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:inventory_inventorytransaction_add")).status_code == 403
    assert staff_client.get(reverse("admin:inventory_inventorytransaction_delete", args=[row.pk])).status_code == 403
    detail = staff_client.post(reverse("admin:inventory_inventorytransaction_change", args=[row.pk]), {"reason": "x"})
    assert detail.status_code == 403


def test_low_stock_filter_and_search(staff_client):
    low = stocked_item(3, reorder_point=5)
    ok = stocked_item(30, reorder_point=5)
    url = reverse("admin:inventory_inventoryitem_changelist")
    page = staff_client.get(url, {"stock": "low"}).content.decode()
    assert low.product.sku in page and ok.product.sku not in page
    page = staff_client.get(url, {"q": ok.product.sku}).content.decode()
    assert ok.product.sku in page and low.product.sku not in page


def test_users_without_the_warehouse_role_cannot_adjust(client):
    user = UserFactory(is_staff=True)
    client.force_login(user)
    item = stocked_item(5)
    response = client.post(
        reverse("admin:inventory_inventoryitem_adjust", args=[item.pk]),
        {"quantity_change": "1", "transaction_type": "adjustment"},
    )
    assert response.status_code == 403
    assert InventoryItem.objects.get(pk=item.pk).available_quantity == 5
