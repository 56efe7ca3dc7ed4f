"""CSV import of lot-tracked stock: rows name their batch (and expiry), counts are of one batch, outbound rows
without a batch take the earliest expiry first; a row the services would refuse is a row error in the preview."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction, StockLot
from inventory.selectors import ledger_drift
from tests.back_office.test_csv_import import apply, row_errors, upload
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
SOON, LATER = TODAY + timedelta(days=20), TODAY + timedelta(days=200)
HEADER = "sku,warehouse,quantity_change,transaction_type,counted_quantity,batch_number,expiry_date,reason\n"


def lots(product, warehouse) -> dict[str, int]:
    return dict(
        StockLot.objects.filter(item__product=product, item__warehouse=warehouse).values_list(
            "batch_number", "quantity"
        )
    )


@pytest.fixture
def main():
    return WarehouseFactory(code="MAIN")


@pytest.fixture
def milk(main):
    """Lot-tracked, expiry required, with one lot of 10 in MAIN."""
    product = ProductFactory(sku="MILK", track_lots=True, requires_expiry=True)
    services.receive_stock(
        product_id=product.pk,
        warehouse_id=main.pk,
        quantity=10,
        details=services.LedgerDetails(batch_number="M-1", expiry_date=LATER),
    )
    return product


def test_batch_columns_book_receipts_into_lots_counts_per_batch_and_fefo_removals(staff_client, main, milk):
    text = HEADER + (
        f"MILK,MAIN,6,purchase,,M-2,{SOON},Delivery\n"  # a new lot that expires first
        "MILK,MAIN,,,4,M-1,,Recount of M-1\n"  # 10 -> 4; M-1 keeps its expiry
        "MILK,MAIN,-7,damage,,,,Fridge failed\n"  # earliest expiry first: 6 of M-2, then 1 of M-1
        "MILK,MAIN,,,2,M-3,2027-01-31,Found on the shelf\n"  # a batch new to the item, with its expiry
    )
    preview = upload(staff_client, text)
    rows = preview.context["preview"].rows
    assert row_errors(preview) == {}
    assert [(r.before, r.after, r.change) for r in rows] == [(10, 16, 6), (16, 10, -6), (10, 3, -7), (3, 5, 2)]
    assert [r.batch_label for r in rows] == [
        f"M-2, exp. {SOON.isoformat()}",
        f"M-1, exp. {LATER.isoformat()}, held 10",
        "earliest expiry first",
        "M-3, exp. 2027-01-31, held 0",
    ]
    html = preview.content.decode()
    assert "<th>Batch</th>" in html and f"M-1, exp. {LATER.isoformat()}, held 10" in html

    applied = apply(staff_client, preview)
    assert applied.status_code == 200 and applied.context["summary"].ledger_rows == 4
    assert lots(milk, main) == {"M-1": 3, "M-2": 0, "M-3": 2}
    rows = InventoryTransaction.objects.filter(reference_type="csv_import").order_by("id")
    assert [(r.transaction_type, r.batch_number, r.quantity_change, r.expiry_date) for r in rows] == [
        ("purchase", "M-2", 6, SOON),
        ("count", "M-1", -6, LATER),
        ("damage", "M-2", -6, SOON),
        ("damage", "M-1", -1, LATER),
        ("count", "M-3", 2, date(2027, 1, 31)),
    ]
    assert InventoryItem.objects.get(product=milk, warehouse=main).total_quantity == 5
    assert ledger_drift() == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("MILK,MAIN,5,purchase,,,2027-01-31,", "MILK is lot-tracked: fill batch_number (inbound units join a batch)."),
        ("MILK,MAIN,,,3,,,", "MILK is lot-tracked: fill batch_number (a count is of one batch)."),
        ("MILK,MAIN,5,purchase,,M-9,,", "Lots of MILK must carry an expiry date: fill expiry_date (YYYY-MM-DD)."),
        ("MILK,MAIN,5,purchase,,M-1,,", "Lots of MILK must carry an expiry date"),  # a receipt states it
        ("MILK,MAIN,,,12,M-NEW,,", "Lots of MILK must carry an expiry date"),
        ("MILK,MAIN,5,purchase,,M-1,2030-01-01,", f"Batch M-1 expires on {LATER.isoformat()}, not 2030-01-01."),
        ("MILK,MAIN,-2,damage,,M-404,,", "MILK has no batch M-404 in MAIN."),
        ("MILK,MAIN,-12,damage,,M-1,,", "Would leave -1 available (only 11 available)."),
    ],
)
def test_a_row_the_services_would_refuse_is_a_row_error_and_nothing_is_applied(staff_client, main, milk, line, message):
    preview = upload(staff_client, HEADER + "MILK,MAIN,1,return,,M-1,,Customer return\n" + line + "\n")
    assert message in row_errors(preview)[3]
    assert 2 not in row_errors(preview)  # a return into M-1 keeps the batch's expiry: fine
    assert preview.context["token"] == ""  # no Apply while a row is wrong
    assert b'id="apply"' not in preview.content
    assert lots(milk, main) == {"M-1": 10}
    assert InventoryTransaction.objects.count() == 1


def test_a_batch_short_of_units_is_a_row_error(staff_client, main, milk):
    services.receive_stock(
        product_id=milk.pk,
        warehouse_id=main.pk,
        quantity=5,
        details=services.LedgerDetails(batch_number="M-2", expiry_date=SOON),
    )
    preview = upload(staff_client, HEADER + "MILK,MAIN,-6,damage,,M-2,,\n")
    assert row_errors(preview) == {2: "Batch M-2 holds 5; cannot remove 6."}


def test_a_count_of_a_batch_that_moved_after_the_preview_is_refused_and_previewed_again(staff_client, main, milk):
    preview = upload(staff_client, HEADER + "MILK,MAIN,,,8,M-1,,\n")
    assert preview.context["preview"].rows[0].lot_before == 10
    services.adjust_stock(
        product_id=milk.pk,
        warehouse_id=main.pk,
        quantity_change=-1,
        transaction_type="damage",
        details=services.LedgerDetails(batch_number="M-1"),
    )
    refused = apply(staff_client, preview)
    assert refused.status_code == 409
    assert "Nothing was booked" in refused.context["error"]
    assert refused.context["preview"].rows[0].lot_before == 9  # previewed again against the batch of now
    assert lots(milk, main) == {"M-1": 9}
    applied = apply(staff_client, refused)
    assert applied.status_code == 200
    assert lots(milk, main) == {"M-1": 8}


def test_untracked_rows_keep_working_with_or_without_a_batch(staff_client, main):
    cups = stocked_item(4, product=ProductFactory(sku="CUP"), warehouse=main)
    preview = upload(staff_client, HEADER + "CUP,MAIN,3,purchase,,B-1,,\nCUP,MAIN,,,5,,,\n")
    assert row_errors(preview) == {}
    assert apply(staff_client, preview).status_code == 200
    cups.refresh_from_db()
    assert cups.total_quantity == 5
    assert not StockLot.objects.exists()


def test_units_not_for_sale_count_in_the_on_hand_but_cannot_be_removed_by_a_row(staff_client, main):
    item = stocked_item(10, product=ProductFactory(sku="LAMP"), warehouse=main)
    services.move_stock_state(
        product_id=item.product_id,
        warehouse_id=main.pk,
        quantity=4,
        from_state="available",
        to_state="damaged",
        reason="Broken",
    )
    preview = upload(staff_client, HEADER + "LAMP,MAIN,-7,adjustment,,,,\nLAMP,MAIN,,,3,,,\n")
    rows = preview.context["preview"].rows
    assert rows[0].before == 10
    assert row_errors(preview) == {
        2: "Would leave -1 available (only 6 available, 4 not for sale).",
        3: "Counted 3 but 4 are reserved or not for sale (0 reserved).",
    }
