"""CSV import with batch columns in a real browser (Debian's Chromium driven by Playwright) against a real server:
a lot-tracked product's row without its batch is an error in the preview, the fixed file books into the lots."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import sync_playwright

from inventory import services
from inventory.models import InventoryItem, StockLot
from inventory.selectors import ledger_drift
from tests.back_office.test_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, log_in
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_csv_import_with_batch_columns_flags_a_row_without_its_batch_then_books_the_lots(
    start_server, warehouse_user, tmp_path
):
    today = timezone.localdate()
    soon, later = today + timedelta(days=15), today + timedelta(days=120)
    warehouse = WarehouseFactory(code="MAIN")
    milk = ProductFactory(sku="MILK-1", track_lots=True, requires_expiry=True)
    services.receive_stock(
        product_id=milk.pk,
        warehouse_id=warehouse.pk,
        quantity=10,
        details=services.LedgerDetails(batch_number="M-OLD", expiry_date=later),
    )
    header = "sku,warehouse,quantity_change,transaction_type,counted_quantity,batch_number,expiry_date,reason\n"
    bad = tmp_path / "dairy.csv"
    bad.write_text(header + f"MILK-1,MAIN,24,purchase,,M-NEW,{soon},Delivery\nMILK-1,MAIN,,,7,,,Recount\n")
    fixed = tmp_path / "dairy-fixed.csv"
    fixed.write_text(
        header + f"MILK-1,MAIN,24,purchase,,M-NEW,{soon},Delivery\nMILK-1,MAIN,,,7,M-OLD,,Recount\n"
        "MILK-1,MAIN,-4,damage,,,,Leaking\n"
    )
    host = start_server()
    # No ORM past this point: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, host, "/admin/inventory/import/", warehouse_user.username)

            page.set_input_files("#id_file", str(bad))
            page.click("#preview-button")
            page.wait_for_selector("#preview")
            error_row = page.locator('#preview tr[data-line="3"]')
            assert "MILK-1 is lot-tracked: fill batch_number (a count is of one batch)." in error_row.inner_text()
            assert "1 row with errors" in page.inner_text("#import-preview .summary")
            assert page.locator("#apply").count() == 0

            page.set_input_files("#id_file", str(fixed))
            page.click("#preview-button")
            page.wait_for_selector("#apply")
            batches = page.locator("#preview td.batch").all_inner_texts()
            assert batches == [
                f"M-NEW, exp. {soon.isoformat()}",
                f"M-OLD, exp. {later.isoformat()}, held 10",
                "earliest expiry first",
            ]
            count = page.locator('#preview tr[data-line="3"] td').all_inner_texts()
            assert count[3:7] == ["Cycle count", "-3", "34", "31"]  # the batch held 10: 34 on hand -> 31
            page.click("#apply")
            page.wait_for_selector("#import-summary")
            assert page.inner_text("#units-in") == "+24"
            assert page.inner_text("#units-out") == "−7"
        finally:
            browser.close()
    item = InventoryItem.objects.get(product=milk, warehouse=warehouse)
    assert item.total_quantity == 27
    lots = dict(StockLot.objects.filter(item=item).values_list("batch_number", "quantity"))
    assert lots == {"M-NEW": 20, "M-OLD": 7}  # the damage took the earliest expiry first
    assert StockLot.objects.get(item=item, batch_number="M-NEW").expiry_date == soon
    assert item.next_expiry_date == soon
    assert ledger_drift() == []
