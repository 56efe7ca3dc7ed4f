"""The scan station through Django's test client: look-ups, the three modes, refusals, Undo."""

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db

GTIN = "4006381333931"


def station(warehouse, mode: str) -> str:
    return f"{reverse('scan_station')}?warehouse={warehouse.pk}&mode={mode}"


def page_fields(response) -> dict[str, str]:
    """The scan form's values as the page holds them (hidden fields included), as a browser would send them."""
    form = response.context["form"]
    return {name: "" if form[name].value() is None else str(form[name].value()) for name in form.fields}


def enter(client, url: str, page, **typed):
    """Type into the page's scan form and press Enter (the page's other values are sent along)."""
    return client.post(url, {**page_fields(page), **typed})


def scan_and_book(client, url: str, code: str, quantity: str, **typed):
    looked_up = enter(client, url, client.get(url), code=code)
    assert looked_up.context["target"] is not None, looked_up.context["error"]
    return enter(client, url, looked_up, quantity=quantity, **typed)


def error(response) -> str:
    return response.context["error"] or " ".join(
        e for errors in response.context["form"].errors.values() for e in errors
    )


def ledger_rows() -> int:
    return InventoryTransaction.objects.count()


def test_without_a_station_the_page_asks_for_warehouse_and_mode_then_remembers_them(staff_client):
    warehouse = WarehouseFactory()
    first = staff_client.get(reverse("scan_station"))
    assert first.status_code == 200 and first.context["form"] is None
    assert b"Start scanning" in first.content
    chosen = staff_client.get(station(warehouse, "count"))
    assert b'id="id_code"' in chosen.content and b"autofocus" in chosen.content
    # Back later without the URL's parameters: the same station.
    again = staff_client.get(reverse("scan_station"))
    assert (again.context["warehouse"], again.context["mode"]) == (warehouse, "count")
    bogus = staff_client.get(f"{reverse('scan_station')}?warehouse=999999&mode=count")
    assert bogus.status_code == 200 and bogus.context["form"] is None
    assert bogus.context["station"].errors


def test_scan_then_quantity_receives_with_the_delivery_details_and_keeps_supplier_and_reference(staff_client):
    warehouse = WarehouseFactory()
    product = ProductFactory(barcode=GTIN)
    url = station(warehouse, "receive")
    looked_up = enter(staff_client, url, staff_client.get(url), code=GTIN)
    assert looked_up.context["target"].product == product
    assert b"not stocked in" in looked_up.content
    assert "autofocus" in str(looked_up.context["form"]["quantity"])  # the focus moved to the quantity

    booked = enter(
        staff_client,
        url,
        looked_up,
        quantity="12",
        cost_per_unit="3,20",
        supplier_id="42",
        batch_number="B-7",
        expiry_date="2027-03-31",
        reference_id="DN-881",
    )
    assert booked.status_code == 302
    row = InventoryTransaction.objects.get(product=product)
    assert (row.transaction_type, row.quantity_change, row.new_quantity) == ("purchase", 12, 12)
    assert (row.cost_per_unit, row.supplier_id, row.batch_number) == (Decimal("3.20"), 42, "B-7")
    assert (row.expiry_date, row.reference_id, row.received_date) == (date(2027, 3, 31), "DN-881", date.today())
    page = staff_client.get(booked["Location"])
    assert "Received 12 × " in " ".join(str(m) for m in page.context["messages"])
    assert [b.row for b in page.context["bookings"]] == [row]
    # The next line of the same delivery: supplier and delivery note are offered again, the rest is empty.
    fields = page_fields(page)
    assert (fields["supplier_id"], fields["reference_id"], fields["batch_number"]) == ("42", "DN-881", "")


@pytest.mark.parametrize(
    ("typed", "matched"),
    [
        (GTIN, "GTIN"),
        ("04006381333931", "GTIN"),  # GTIN-14 form of the same EAN-13
        ("SHELF-77", "item barcode"),
        ("ABC-1", "SKU"),
        ("abc-1", "SKU"),  # typed by hand in the wrong case
    ],
)
def test_a_gtin_an_item_barcode_or_a_sku_find_the_item(staff_client, typed, matched):
    warehouse = WarehouseFactory()
    product = ProductFactory(sku="ABC-1", barcode=GTIN)
    stocked_item(5, product=product, warehouse=warehouse, barcode="SHELF-77")
    url = station(warehouse, "count")
    looked_up = enter(staff_client, url, staff_client.get(url), code=typed)
    target = looked_up.context["target"]
    assert (target.product, target.matched, target.on_hand) == (product, matched, 5)


def test_unknown_ambiguous_and_other_warehouse_codes_are_explained_and_change_nothing(staff_client):
    warehouse, elsewhere = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    ProductFactory(sku="40063813")
    ProductFactory(sku="OTHER", barcode="40063813")
    stocked_item(5, warehouse=elsewhere, barcode="SHELF-S1")
    url = station(warehouse, "receive")
    before = ledger_rows()

    unknown = enter(staff_client, url, staff_client.get(url), code="NO-SUCH-THING", quantity="3")
    assert "Unknown code NO-SUCH-THING" in error(unknown)
    assert page_fields(unknown)["code"] == ""  # ready for the next scan
    ambiguous = enter(staff_client, url, staff_client.get(url), code="40063813")
    assert "ambiguous" in error(ambiguous) and "OTHER" in error(ambiguous)
    other = enter(staff_client, url, staff_client.get(url), code="SHELF-S1")
    assert "labels a shelf in SOUTH, not in NORTH" in error(other)
    empty = enter(staff_client, url, staff_client.get(url), code="  ")
    assert "Scan or type a code" in error(empty)
    assert ledger_rows() == before


@pytest.mark.parametrize(
    ("mode", "quantity", "message"),
    [
        ("receive", "0", "at least 1 unit"),
        ("receive", "-4", "without a sign"),
        ("damaged", "-4", "without a sign"),
        ("count", "-1", "cannot be negative"),
        ("receive", "2.5", "not a whole number"),
        ("receive", "1.000", "not a whole number"),
        ("count", "ten", "not a whole number"),
        ("receive", "3000000000", "far too many units"),
        ("receive", "5000000", None),  # fine: a big but possible delivery
    ],
)
def test_wrong_quantities_are_refused_and_change_nothing(staff_client, mode, quantity, message):
    item = stocked_item(10)
    url = station(item.warehouse, mode)
    before = ledger_rows()
    response = scan_and_book(staff_client, url, item.product.sku, quantity)
    if message is None:
        assert response.status_code == 302
        return
    assert response.status_code == 200
    assert message in error(response)
    assert ledger_rows() == before
    assert "autofocus" in str(response.context["form"]["quantity"])


def test_a_count_books_the_difference_and_refuses_when_stock_moved_since_the_scan(staff_client):
    item = stocked_item(10)
    url = station(item.warehouse, "count")
    looked_up = enter(staff_client, url, staff_client.get(url), code=item.product.sku)
    assert page_fields(looked_up)["shown_on_hand"] == "10"
    # Meanwhile two units are sold elsewhere.
    services.adjust_stock(
        product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-2, transaction_type="damage"
    )
    before = ledger_rows()
    refused = enter(staff_client, url, looked_up, quantity="7")
    assert "Stock moved since you scanned: 8 on hand now, not 10" in error(refused)
    assert ledger_rows() == before
    item.refresh_from_db()
    assert item.total_quantity == 8
    # The person checks and presses Enter again: booked against 8.
    booked = enter(staff_client, url, refused)
    assert booked.status_code == 302
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.new_quantity) == ("count", -1, 7)
    page = staff_client.get(booked["Location"])
    assert "(was 8, -1)" in " ".join(str(m) for m in page.context["messages"])


def test_damaged_moves_units_out_and_cannot_take_more_than_available(staff_client):
    item = stocked_item(5)
    url = station(item.warehouse, "damaged")
    booked = scan_and_book(staff_client, url, item.product.sku, "2", reason="Forklift")
    assert booked.status_code == 302
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.reason) == ("damage", -2, "Forklift")
    too_many = scan_and_book(staff_client, url, item.product.sku, "4")
    assert "Only 3 available" in error(too_many) and "Nothing was booked" in error(too_many)
    item.refresh_from_db()
    assert item.total_quantity == 3


def test_a_code_scanned_into_the_quantity_field_is_looked_up_not_booked(staff_client):
    first = stocked_item(5)
    second = ProductFactory(barcode=GTIN)
    url = station(first.warehouse, "receive")
    looked_up = enter(staff_client, url, staff_client.get(url), code=first.product.sku)
    before = ledger_rows()
    response = enter(staff_client, url, looked_up, quantity=GTIN)
    assert response.context["target"].product == second
    assert "scanned into the quantity field" in response.context["note"]
    assert ledger_rows() == before


def test_the_same_form_sent_twice_books_once(staff_client):
    item = stocked_item(5)
    url = station(item.warehouse, "receive")
    looked_up = enter(staff_client, url, staff_client.get(url), code=item.product.sku)
    assert enter(staff_client, url, looked_up, quantity="3").status_code == 302
    again = enter(staff_client, url, looked_up, quantity="3")
    assert again.status_code == 302
    assert "already made" in " ".join(str(m) for m in staff_client.get(again["Location"]).context["messages"])
    item.refresh_from_db()
    assert item.total_quantity == 8


def test_undo_books_the_reverse_of_a_receipt_and_of_a_count(staff_client):
    item = stocked_item(10)
    receive, count = station(item.warehouse, "receive"), station(item.warehouse, "count")
    scan_and_book(staff_client, receive, item.product.sku, "5")
    scan_and_book(staff_client, count, item.product.sku, "12")
    item.refresh_from_db()
    assert item.total_quantity == 12
    bookings = staff_client.get(count).context["bookings"]
    assert [(b.row.transaction_type, b.row.quantity_change) for b in bookings] == [("count", -3), ("purchase", 5)]

    undo_count = staff_client.post(count, {"undo": bookings[0].row.pk})
    assert undo_count.status_code == 302
    item.refresh_from_db()
    assert item.total_quantity == 15  # the quantity before the count
    undo_receipt = staff_client.post(count, {"undo": bookings[1].row.pk})
    page = staff_client.get(undo_receipt["Location"])
    item.refresh_from_db()
    assert item.total_quantity == 10
    assert all(b.undone_by is not None for b in page.context["bookings"])
    assert b"Undo</button>" not in page.content
    again = staff_client.post(count, {"undo": bookings[1].row.pk})
    assert "already undone" in " ".join(str(m) for m in staff_client.get(again["Location"]).context["messages"])
    item.refresh_from_db()
    assert item.total_quantity == 10
    assert ledger_drift() == []


def test_undo_that_would_drive_stock_negative_or_of_someone_elses_booking_is_refused(staff_client, warehouse_user):
    item = stocked_item(0)
    url = station(item.warehouse, "receive")
    scan_and_book(staff_client, url, item.product.sku, "5")
    row = InventoryTransaction.objects.latest("id")
    services.adjust_stock(
        product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-4, transaction_type="damage"
    )
    refused = staff_client.post(url, {"undo": row.pk})
    message = " ".join(str(m) for m in staff_client.get(refused["Location"]).context["messages"])
    assert "Cannot undo" in message and "only 1 are available now" in message
    item.refresh_from_db()
    assert item.total_quantity == 1

    colleague = UserFactory(is_staff=True)
    colleague.groups.set(warehouse_user.groups.all())
    staff_client.force_login(colleague)
    response = staff_client.post(url, {"undo": row.pk})
    message = " ".join(str(m) for m in staff_client.get(response["Location"]).context["messages"])
    assert "Only your own bookings" in message
    assert staff_client.post(url, {"undo": "not-a-number"}).status_code == 302


def test_staff_without_stock_permissions_get_403(client):
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_inventoryitem"))
    client.force_login(viewer)
    assert client.get(reverse("scan_station")).status_code == 403
    assert client.get(reverse("stock_import")).status_code == 403
    client.logout()
    assert client.get(reverse("scan_station")).status_code == 302  # to the admin login


def test_the_admin_index_links_the_scan_station_and_the_import(staff_client):
    page = staff_client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("scan_station")}">Scan station' in page
    assert f'href="{reverse("stock_import")}">Import CSV' in page


def test_items_stay_unique_when_a_receipt_creates_one(staff_client):
    warehouse = WarehouseFactory()
    product = ProductFactory()
    url = station(warehouse, "receive")
    scan_and_book(staff_client, url, product.sku, "4")
    scan_and_book(staff_client, url, product.sku, "6")
    assert InventoryItem.objects.get(product=product, warehouse=warehouse).total_quantity == 10
