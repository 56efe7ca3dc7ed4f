"""Product and item-setting writes go through services, so API reads and the live feed follow them at once."""

import pytest
from django.test import override_settings
from django.urls import reverse

from inventory import services
from inventory.exceptions import DuplicateBarcode
from inventory.models import InventoryItem, LowStockAlert, Product
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def _product_form(product: Product, **changes) -> dict:
    data = {
        "sku": product.sku,
        "name": product.name,
        "barcode": product.barcode or "",
        "category": product.category_id or "",
        "is_active": "on" if product.is_active else "",
    }
    return {**data, **changes}


def test_a_product_renamed_in_the_admin_shows_its_new_sku_in_cached_api_reads(admin_client, storefront_api):
    item = stocked_item(5)
    url = f"/api/v1/inventory/{item.product_id}"
    assert storefront_api.get(url).json()["sku"] == item.product.sku  # now cached

    response = admin_client.post(
        reverse("admin:inventory_product_change", args=[item.product_id]),
        _product_form(item.product, sku="RENAMED-1"),
    )
    assert response.status_code == 302
    body = storefront_api.get(url).json()
    assert body["sku"] == "RENAMED-1"
    assert {i["sku"] for i in body["items"]} == {"RENAMED-1"}


def test_a_product_renamed_through_the_api_shows_its_new_sku(warehouse_api, storefront_api):
    item = stocked_item(5)
    url = f"/api/v1/inventory/{item.product_id}"
    assert storefront_api.get(url).json()["sku"] == item.product.sku
    patched = warehouse_api.patch(f"/api/v1/products/{item.product_id}/", {"sku": "API-NEW"}, format="json")
    assert patched.status_code == 200 and patched.json()["sku"] == "API-NEW"
    assert storefront_api.get(url).json()["sku"] == "API-NEW"


def test_a_product_created_in_the_admin_gets_its_category(admin_client):
    response = admin_client.post(
        reverse("admin:inventory_product_add"), {"sku": "NEW-1", "name": "New", "barcode": "", "is_active": "on"}
    )
    assert response.status_code == 302
    assert Product.objects.get(sku="NEW-1").name == "New"


def test_item_settings_edited_in_the_admin_reach_cached_reads_and_alerts(admin_client, storefront_api):
    item = stocked_item(5, reorder_point=2)
    url = f"/api/v1/inventory/{item.product_id}"
    assert storefront_api.get(url).json()["items"][0]["reorder_point"] == 2
    form = {
        "reorder_point": "8",
        "reorder_quantity": str(item.reorder_quantity),
        "max_stock_level": str(item.max_stock_level),
        "location_zone": "A",
        "location_aisle": "",
        "location_shelf": "",
        "barcode": "",
    }
    response = admin_client.post(reverse("admin:inventory_inventoryitem_change", args=[item.pk]), form)
    assert response.status_code == 302
    cached = storefront_api.get(url).json()["items"][0]
    assert cached["reorder_point"] == 8 and cached["location"]["zone"] == "A"
    # 5 available is now at or below the new point: the alert is raised with the edit.
    assert LowStockAlert.objects.filter(item=item, status="open").exists()
    assert InventoryItem.objects.get(pk=item.pk).available_quantity == 5


def test_update_item_settings_refuses_a_taken_barcode(warehouse_api):
    first = stocked_item(1, barcode="BC-1")
    second = stocked_item(1)
    with pytest.raises(DuplicateBarcode):
        services.update_item_settings(item_id=second.pk, changes={"barcode": "BC-1"})
    assert InventoryItem.objects.get(pk=second.pk).barcode is None
    assert InventoryItem.objects.get(pk=first.pk).barcode == "BC-1"


@override_settings(LOW_STOCK_THRESHOLD=3)
def test_a_new_item_takes_low_stock_threshold_as_its_reorder_point(warehouse_api):
    product, warehouse = ProductFactory(), WarehouseFactory()
    item = services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=4)
    assert item.reorder_point == 3
    counted = warehouse_api.put(
        f"/api/v1/inventory/{product.pk}?warehouse_id={WarehouseFactory().pk}", {"quantity": 2}, format="json"
    )
    assert counted.status_code == 201 and counted.json()["reorder_point"] == 3
    # An explicit reorder point still wins.
    assert stocked_item(1, reorder_point=7).reorder_point == 7
