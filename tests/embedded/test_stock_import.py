"""The CSV import and the scan station's Undo on SQLite (the embedded default of `make run`)."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from inventory import services
from inventory.exceptions import InsufficientStock
from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def test_stock_lines_book_in_order_or_not_at_all():
    warehouse = WarehouseFactory()
    item = stocked_item(10, warehouse=warehouse)
    new = ProductFactory()
    lines = [
        services.Movement(product_id=new.pk, warehouse_id=warehouse.pk, quantity_change=8, transaction_type="purchase"),
        services.Count(product_id=new.pk, warehouse_id=warehouse.pk, counted_quantity=5),
        services.Movement(
            product_id=item.product_id, warehouse_id=warehouse.pk, quantity_change=-11, transaction_type="damage"
        ),
    ]
    before = InventoryTransaction.objects.count()
    with pytest.raises(InsufficientStock):
        services.apply_stock_lines(lines)
    assert InventoryTransaction.objects.count() == before
    assert not InventoryItem.objects.filter(product=new).exists()

    services.apply_stock_lines(lines[:2])
    assert InventoryItem.objects.get(product=new, warehouse=warehouse).total_quantity == 5
    assert ledger_drift() == []


def test_csv_import_previews_and_applies(client, warehouse_user):
    client.force_login(warehouse_user)
    warehouse = WarehouseFactory(code="MAIN")
    item = stocked_item(10, product=ProductFactory(sku="A-1"), warehouse=warehouse)
    text = b"sku,warehouse,quantity_change,transaction_type,counted_quantity\nA-1,MAIN,5,purchase,\nA-1,MAIN,,,12\n"
    preview = client.post(reverse("stock_import"), {"file": SimpleUploadedFile("s.csv", text)})
    token = re.search(rb'name="token" value="([^"]+)"', preview.content).group(1).decode()
    applied = client.post(reverse("stock_import"), {"token": token})
    assert applied.status_code == 200 and b'id="import-summary"' in applied.content
    item.refresh_from_db()
    assert item.total_quantity == 12
    row = InventoryTransaction.objects.filter(product=item.product).latest("id")
    undone, _ = services.reverse_transaction(transaction_id=row.pk)
    assert undone.total_quantity == 15
    assert ledger_drift() == []
