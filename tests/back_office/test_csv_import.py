"""CSV import through Django's test client: reading, the preview's per-row changes and errors, all-or-nothing apply."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from inventory import services
from inventory.models import Event, InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from reservations.services import LineRequest, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db


def upload(client, text: str | bytes, name: str = "stock.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(reverse("stock_import"), {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def apply(client, preview):
    return client.post(reverse("stock_import"), {"token": preview.context["token"]})


def row_errors(response) -> dict[int, str]:
    return {r.line: " ".join(r.errors) for r in response.context["preview"].rows if r.errors}


@pytest.fixture
def shop():
    main = WarehouseFactory(code="MAIN")
    a = stocked_item(10, product=ProductFactory(sku="A-1"), warehouse=main)
    b = stocked_item(4, product=ProductFactory(sku="B-2"), warehouse=main)
    return main, a, b


def test_preview_lists_each_rows_change_then_apply_books_them_all_and_shows_a_summary(staff_client, shop):
    main, a, b = shop
    new = ProductFactory(sku="C-3")
    text = (
        "sku,warehouse,quantity_change,transaction_type,counted_quantity,cost_per_unit,batch_number,expiry_date,"
        "reference_id,reason\n"
        'A-1,MAIN,20,purchase,,"3,20",B-9,2027-01-31,PO-1,Delivery\n'
        "B-2,MAIN,-1,damage,,,,,,Broken\n"
        "C-3,main,,,7,,,,,First count\n"  # a warehouse code in another case; an item not stocked yet
        "A-1,MAIN,,,25,,,,,Recount\n"  # after the receipt above: 30 -> 25
        "\n"
    )
    events_before = Event.objects.count()
    preview = upload(staff_client, text)
    assert preview.status_code == 200
    rows = preview.context["preview"].rows
    assert [(r.line, r.type_label, r.before, r.after, r.change) for r in rows] == [
        (2, "Purchase", 10, 30, 20),
        (3, "Damage", 4, 3, -1),
        (4, "Cycle count", 0, 7, 7),
        (5, "Cycle count", 30, 25, -5),
    ]
    assert b'id="apply"' in preview.content and row_errors(preview) == {}
    assert InventoryTransaction.objects.filter(reference_type="csv_import").count() == 0  # a preview writes nothing

    applied = apply(staff_client, preview)
    assert applied.status_code == 200
    summary = applied.context["summary"]
    assert (summary.rows, summary.ledger_rows, summary.units_in, summary.units_out) == (4, 4, 27, 6)
    a.refresh_from_db()
    b.refresh_from_db()
    created = InventoryItem.objects.get(product=new, warehouse=main)
    assert (a.total_quantity, b.total_quantity, created.total_quantity) == (25, 3, 7)
    receipt = InventoryTransaction.objects.get(reference_id="PO-1")
    assert (str(receipt.cost_per_unit), receipt.batch_number, str(receipt.expiry_date)) == ("3.20", "B-9", "2027-01-31")
    assert receipt.notes == f"CSV import {summary.import_id} (stock.csv), line 2"
    assert InventoryTransaction.objects.filter(reference_id=summary.import_id).count() == 3  # rows without their own
    assert Event.objects.count() > events_before
    assert ledger_drift() == []
    # The same preview cannot be applied twice.
    again = apply(staff_client, preview)
    assert again.status_code == 400 and "expired or was applied already" in again.context["error"]
    a.refresh_from_db()
    assert a.total_quantity == 25


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("NOPE,MAIN,5,purchase,", "Unknown SKU NOPE."),
        ("A-1,NOWHERE,5,purchase,", "Unknown warehouse NOWHERE."),
        ("A-1,MAIN,5.5,purchase,", "quantity_change “5.5”: Enter a whole number"),
        ("A-1,MAIN,1.000,purchase,", "without a thousands separator"),
        ("A-1,MAIN,5,gift,", "transaction_type “gift” is not one of"),
        ("A-1,MAIN,5,,", "transaction_type is empty."),
        ("A-1,MAIN,-5,purchase,", "A purchase adds stock"),
        ("A-1,MAIN,5,damage,", "A damage removes stock"),
        ("A-1,MAIN,0,adjustment,", "quantity_change is 0"),
        ("A-1,MAIN,-11,adjustment,", "Would leave -1 available (only 10 available)."),
        ("A-1,MAIN,,,-3", "counted_quantity cannot be negative."),
        ("A-1,MAIN,4,purchase,4", "not both"),
        ("A-1,MAIN,,,", "No quantity"),
        (",MAIN,1,purchase,", "sku is empty."),
        ("A-1,MAIN,99999999999,purchase,", "too large"),
        ("A-1,MAIN,2147483640,purchase,", "On hand would exceed"),
        ("A-1,MAIN,1,purchase,,extra", "6 values but the header names 5 columns."),
    ],
)
def test_a_bad_row_is_shown_with_its_error_and_nothing_can_be_applied(staff_client, shop, row, message):
    text = f"sku,warehouse,quantity_change,transaction_type,counted_quantity\nB-2,MAIN,1,purchase,\n{row}\n"
    preview = upload(staff_client, text)
    assert preview.status_code == 200
    assert message in row_errors(preview)[3]
    assert 2 not in row_errors(preview)
    assert preview.context["token"] == "" and b'id="apply"' not in preview.content


def test_optional_columns_are_checked_too(staff_client, shop):
    text = (
        "sku;warehouse;quantity_change;transaction_type;cost_per_unit;expiry_date;reason\n"  # semicolons
        "A-1;MAIN;1;purchase;1,234;;\n"
        "A-1;MAIN;1;purchase;-2;;\n"
        "A-1;MAIN;1;purchase;;31/01/2027;\n"
        f"A-1;MAIN;1;purchase;;;{'x' * 256}\n"
    )
    errors = row_errors(upload(staff_client, text))
    assert "ambiguous" in errors[2]
    assert "greater than or equal to 0" in errors[3]
    assert "YYYY-MM-DD" in errors[4]
    assert "longer than 255" in errors[5]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b" \n", "The file is empty."),
        (b"sku,warehouse,quantity_change\nA-1,MAIN,1\n", "needs a transaction_type column"),
        (b"sku,warehouse\nA-1,MAIN\n", "Missing quantity columns"),
        (b"sku,quantity_change,transaction_type\nA-1,1,purchase\n", "Missing column warehouse"),
        (b"sku,warehouse,counted_quantity,colour\nA-1,MAIN,1,red\n", "Unknown column colour"),
        (b"sku,sku,warehouse,counted_quantity\n", "names sku more than once"),
        (b"sku,warehouse,counted_quantity\n", "a header but no rows"),
        ("sku,warehouse,counted_quantity,reason\nA-1,MAIN,1,Zählung\n".encode("latin-1"), "not UTF-8"),
        (b'sku,warehouse,counted_quantity\n"A-1,MAIN,1\n', "cannot be read as CSV"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_as_a_whole(staff_client, shop, content, message):
    response = upload(staff_client, content)
    assert response.status_code == 400
    assert message in response.context["error"]
    assert response.context.get("preview") is None


def test_a_utf8_bom_and_a_header_in_another_case_are_fine(staff_client, shop):
    preview = upload(staff_client, "\ufeffSKU, Warehouse ,Counted Quantity\r\nA-1,MAIN,12\r\n")
    assert row_errors(preview) == {}
    assert preview.context["preview"].rows[0].after == 12


def test_a_count_below_what_is_reserved_is_an_error(staff_client, shop):
    _, a, _ = shop
    reserve_stock(lines=[LineRequest(product_id=a.product_id, warehouse_id=a.warehouse_id, quantity=6)])
    preview = upload(staff_client, "sku,warehouse,counted_quantity\nA-1,MAIN,5\n")
    assert row_errors(preview)[2] == "Counted 5 but 6 are reserved."


def test_a_row_that_fails_at_apply_time_rolls_back_every_row(staff_client, shop):
    _, a, b = shop
    preview = upload(
        staff_client,
        "sku,warehouse,quantity_change,transaction_type\nA-1,MAIN,50,purchase\nB-2,MAIN,-4,damage\n",
    )
    assert row_errors(preview) == {}
    # Between preview and apply, B-2 loses a unit: its row would now drive it below zero.
    services.adjust_stock(
        product_id=b.product_id, warehouse_id=b.warehouse_id, quantity_change=-1, transaction_type="theft"
    )
    ledger_before, events_before = InventoryTransaction.objects.count(), Event.objects.count()
    refused = apply(staff_client, preview)
    assert refused.status_code == 409
    assert "Nothing was booked" in refused.context["error"]
    assert "Would leave -1 available" in row_errors(refused)[3]
    assert refused.context["token"] == ""  # no Apply until the file is fixed
    a.refresh_from_db()
    assert a.total_quantity == 10
    assert InventoryTransaction.objects.count() == ledger_before
    assert Event.objects.count() == events_before


def test_a_count_whose_item_moved_since_the_preview_is_refused_then_applied_from_the_new_preview(staff_client, shop):
    _, a, b = shop
    preview = upload(staff_client, "sku,warehouse,counted_quantity\nB-2,MAIN,9\nA-1,MAIN,8\n")
    services.receive_stock(product_id=a.product_id, warehouse_id=a.warehouse_id, quantity=1)  # 10 -> 11
    ledger_before, events_before = InventoryTransaction.objects.count(), Event.objects.count()
    refused = apply(staff_client, preview)
    assert refused.status_code == 409
    assert "line 3 (A-1 in MAIN): Stock moved meanwhile: 11 on hand, not 10" in refused.context["error"]
    assert (InventoryTransaction.objects.count(), Event.objects.count()) == (ledger_before, events_before)
    b.refresh_from_db()
    assert b.total_quantity == 4  # the first row, valid on its own, was not booked either
    # The page previews the file again against the stock of now and offers Apply again.
    assert [r.before for r in refused.context["preview"].rows] == [4, 11]
    applied = apply(staff_client, refused)
    assert applied.status_code == 200
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.total_quantity, b.total_quantity) == (8, 9)


def test_a_preview_token_is_only_good_for_the_user_who_uploaded(staff_client, shop, warehouse_user):
    preview = upload(staff_client, "sku,warehouse,counted_quantity\nA-1,MAIN,3\n")
    colleague = UserFactory(is_staff=True)
    colleague.groups.set(warehouse_user.groups.all())
    client = Client()
    client.force_login(colleague)
    refused = apply(client, preview)
    assert refused.status_code == 400
    assert client.post(reverse("stock_import"), {"token": ""}).status_code == 400
    forged = client.post(reverse("stock_import"), {"token": preview.context["token"][:-3] + "abc"})
    assert forged.status_code == 400
    # The uploader can still apply it.
    assert apply(staff_client, preview).status_code == 200


def test_the_example_file_previews_without_errors_on_the_demo_layout(staff_client):
    main = WarehouseFactory(code="MAIN")
    for n in (1, 2, 3):
        stocked_item(10, product=ProductFactory(sku=f"DEMO-000{n}"), warehouse=main)
    example = staff_client.get(reverse("stock_import") + "?example=1")
    assert example["Content-Type"].startswith("text/csv")
    preview = upload(staff_client, example.content)
    assert row_errors(preview) == {}
    assert [r.after for r in preview.context["preview"].rows] == [130, 8, 48]


def test_many_rows_preview_with_a_constant_number_of_queries(staff_client, django_assert_max_num_queries):
    main = WarehouseFactory(code="MAIN")
    products = ProductFactory.create_batch(300)
    text = "sku,warehouse,quantity_change,transaction_type\n" + "".join(
        f"{p.sku},MAIN,{n + 1},purchase\n" for n, p in enumerate(products)
    )
    with django_assert_max_num_queries(12):  # session, user, permissions, then products, warehouses, items
        preview = upload(staff_client, text)
    assert len(preview.context["preview"].rows) == 300 and row_errors(preview) == {}
    assert re.search(rb"Apply 300 rows", preview.content)
    assert apply(staff_client, preview).status_code == 200
    assert InventoryItem.objects.filter(warehouse=main).count() == 300
    assert ledger_drift() == []
