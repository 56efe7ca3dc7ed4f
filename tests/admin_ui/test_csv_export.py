"""CSV export of the item list and the ledger: the rows the list shows (filters, search, ordering), streamed,
with the API's field names."""

import csv
import io

import pytest
from django.urls import reverse

from inventory import services as stock
from inventory.models import InventoryTransaction
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db

ITEMS = reverse("admin:inventory_inventoryitem_changelist")
ITEMS_CSV = reverse("admin:inventory_inventoryitem_export")
LEDGER = reverse("admin:inventory_inventorytransaction_changelist")
LEDGER_CSV = reverse("admin:inventory_inventorytransaction_export")


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def download(response, name: str) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.streaming  # written as it is read: a ledger can be millions of rows
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{name}-')
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def shelves():
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    return {
        "mug_north": stocked_item(
            3, product=ProductFactory(sku="MUG-1", name="Mug, large"), warehouse=north, reorder_point=5
        ),
        "mug_south": stocked_item(40, product=ProductFactory(sku="MUG-2", name="Mug"), warehouse=south),
        "cap_north": stocked_item(2, product=ProductFactory(sku="CAP-1", name="Cap"), warehouse=north, reorder_point=5),
        "pen_north": stocked_item(90, product=ProductFactory(sku="PEN-1", name="Pen"), warehouse=north),
    }


def test_the_item_list_links_its_export_with_the_current_filters(staff_client, shelves):
    page = staff_client.get(ITEMS, {"stock": "low", "q": "MUG"}).content.decode()
    assert f'href="{ITEMS_CSV}?q=MUG&amp;stock=low"' in page and "Export CSV" in page


def test_the_item_export_has_the_rows_of_the_filtered_list(staff_client, shelves):
    north = shelves["mug_north"].warehouse_id
    rows = download(
        staff_client.get(ITEMS_CSV, {"stock": "low", "warehouse__id__exact": north, "o": "0"}), "inventory-items"
    )
    assert [r["sku"] for r in rows] == ["CAP-1", "MUG-1"]
    mug = rows[1]
    assert list(mug) == [
        "id",
        "product_id",
        "sku",
        "product_name",
        "warehouse_id",
        "warehouse_code",
        "available_quantity",
        "reserved_quantity",
        "total_quantity",
        "in_transit_out",
        "reorder_point",
        "reorder_quantity",
        "max_stock_level",
        "low_stock",
        "barcode",
        "location_zone",
        "location_aisle",
        "location_shelf",
        "last_count_date",
        "last_movement_at",
        "updated_at",
        "version",
    ]
    item = shelves["mug_north"]
    assert (mug["id"], mug["product_id"], mug["warehouse_id"], mug["warehouse_code"]) == (
        str(item.pk),
        str(item.product_id),
        str(north),
        "NORTH",
    )
    assert (mug["available_quantity"], mug["total_quantity"], mug["reorder_point"], mug["low_stock"]) == (
        "3",
        "3",
        "5",
        "True",
    )
    assert (mug["barcode"], mug["in_transit_out"]) == ("", "0")
    # Search, and the list's sort order (descending by SKU).
    assert [r["sku"] for r in download(staff_client.get(ITEMS_CSV, {"q": "Mug", "o": "-0"}), "inventory-items")] == [
        "MUG-2",
        "MUG-1",
    ]


def test_the_ledger_export_follows_the_list_filters_and_names_who_did_it(staff_client, warehouse_user, shelves):
    mug = shelves["mug_south"]
    stock.adjust_stock(
        product_id=mug.product_id,
        warehouse_id=mug.warehouse_id,
        quantity_change=-2,
        transaction_type="damage",
        details=stock.LedgerDetails(reason="=Broken; see INC-7", reference_type="incident", reference_id="INC-7"),
        user=warehouse_user,
    )
    page = staff_client.get(LEDGER, {"item": mug.pk}).content.decode()
    assert f'href="{LEDGER_CSV}?item={mug.pk}"' in page
    rows = download(staff_client.get(LEDGER_CSV, {"item": mug.pk}), "ledger")
    assert [(r["sku"], r["transaction_type"], r["quantity_change"], r["new_quantity"]) for r in rows] == [
        ("MUG-2", "damage", "-2", "38"),
        ("MUG-2", "purchase", "40", "40"),
    ]
    damage = rows[0]
    row = InventoryTransaction.objects.get(transaction_number=damage["transaction_number"])
    assert (damage["warehouse_code"], damage["reference_type"], damage["reference_id"]) == (
        "SOUTH",
        "incident",
        "INC-7",
    )
    assert (damage["created_by"], damage["created_by_username"]) == (str(warehouse_user.pk), warehouse_user.username)
    assert damage["created_at"] == row.created_at.isoformat()
    assert damage["reason"] == "'=Broken; see INC-7"  # a spreadsheet must not run it as a formula
    assert rows[1]["created_by"] == rows[1]["created_by_username"] == ""
    # The list's own filters: one type across every item, a search.
    only_damage = download(staff_client.get(LEDGER_CSV, {"transaction_type__exact": "damage"}), "ledger")
    assert [r["transaction_number"] for r in only_damage] == [damage["transaction_number"]]
    searched = download(staff_client.get(LEDGER_CSV, {"q": "PEN-1"}), "ledger")
    assert [r["sku"] for r in searched] == ["PEN-1"]
    assert len(download(staff_client.get(LEDGER_CSV), "ledger")) == 5


def test_a_filter_the_list_refuses_leads_back_to_the_list(staff_client, shelves):
    response = staff_client.get(LEDGER_CSV, {"warehouse__id__exact": "north"})
    assert response.status_code == 302 and response["Location"] == f"{LEDGER}?e=1"


def test_only_staff_who_may_see_the_list_can_export_it(client, shelves):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(ITEMS_CSV).status_code == 403
    assert client.get(LEDGER_CSV).status_code == 403
    client.logout()
    assert client.get(LEDGER_CSV).status_code == 302  # to the admin login
