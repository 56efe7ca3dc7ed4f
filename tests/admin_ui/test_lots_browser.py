"""Lots and stock states in a real browser (Debian's Chromium driven by Playwright) at 1366×768 against a real
server, as a person works: mark a product lot-tracked, receive two lots at the scan station, read them on the
item page earliest expiry first, move units to Damaged with the item page's form, then dispose of them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format
from playwright.sync_api import Page, sync_playwright

from inventory.models import InventoryItem, InventoryTransaction, Product, StockLot, StockStateMove
from inventory.selectors import ledger_drift
from tests.admin_ui.test_browser import CHROMIUM, CHROMIUM_ARGS, LAPTOP, TIMEOUT_MS, log_in, message
from tests.factories import ProductFactory, WarehouseFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GTIN = "4006381333931"


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.name")


def readonly(page: Page, field: str) -> str:
    """The value an item page shows for a read-only field."""
    return page.locator(f".field-{field} .readonly").first.inner_text().strip()


def receive_lot(page: Page, quantity: str, batch: str, expiry: str) -> None:
    """At the scan station in Receive mode: scan the GTIN, type the quantity, the batch and its expiry, Enter."""
    page.keyboard.type(GTIN)
    page.keyboard.press("Enter")
    page.wait_for_selector("#scan-target")
    assert focused(page) == "quantity"
    page.keyboard.type(quantity)
    page.fill("#id_batch_number", batch)
    page.fill("#id_expiry_date", expiry)
    page.press("#id_batch_number", "Enter")
    page.wait_for_selector(".messagelist .success")


def test_a_lot_tracked_product_from_receipt_to_disposal_of_damaged_units(start_server, warehouse_user):
    today = timezone.localdate()
    soon, later = today + timedelta(days=20), today + timedelta(days=200)
    warehouse = WarehouseFactory(code="COLD", name="Cold store")
    product = ProductFactory(sku="YOG-1", name="Greek yoghurt 500 g", barcode=GTIN)
    host = start_server()
    # No ORM past this point: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, host, warehouse_user.username)

            # The product: found in the product list, marked lot-tracked with an expiry on every lot.
            page.goto(f"http://{host}/admin/inventory/product/?q=YOG-1")
            page.click("#result_list a:text-is('YOG-1')")
            page.check("#id_track_lots")
            page.check("#id_requires_expiry")
            page.click("input[name=_save]")
            assert "was changed successfully" in message(page, "success")

            # Two deliveries at the scan station, the later expiry first. A receipt without its batch is refused.
            page.goto(f"http://{host}/admin/inventory/scan/")
            page.select_option("#id_warehouse", label=str(warehouse))
            page.get_by_label("Receive", exact=True).check()
            page.click("text=Start scanning")
            page.wait_for_selector("#id_code")
            page.keyboard.type(GTIN)
            page.keyboard.press("Enter")
            page.wait_for_selector("#scan-target")
            assert "LOT-TRACKED" in page.inner_text("#scan-target")  # a badge (set in capitals)
            page.keyboard.type("12")
            page.keyboard.press("Enter")
            page.wait_for_selector(".field-batch_number .errorlist")
            assert "YOG-1 is lot-tracked: type the batch number" in page.inner_text(".field-batch_number .errorlist")
            assert focused(page) == "batch_number"
            page.fill("#id_batch_number", "B-LATE")
            page.fill("#id_expiry_date", later.isoformat())
            page.press("#id_batch_number", "Enter")
            page.wait_for_selector(".messagelist .success")
            assert f"batch B-LATE (expires {later.isoformat()}): 12 on hand." in message(page, "success")
            receive_lot(page, "8", "B-SOON", soon.isoformat())
            assert "20 on hand" in message(page, "success")
            assert page.locator("#bookings tbody tr").count() == 2

            # The item page: the lots right under the stock, the one that expires first on top.
            page.goto(f"http://{host}/admin/inventory/inventoryitem/?q=YOG-1")
            page.click("#result_list a:text-is('YOG-1')")
            page.wait_for_selector("#move-state-form")
            batches = page.locator(".inline-group td.field-batch_number").all_inner_texts()
            units = page.locator(".inline-group td.field-quantity").all_inner_texts()
            assert list(zip(batches, units, strict=True)) == [("B-SOON", "8"), ("B-LATE", "12")]
            assert readonly(page, "available_quantity") == "20"
            assert readonly(page, "next_expiry_date") == date_format(soon)  # as the admin writes dates
            assert page.evaluate("document.scrollingElement.scrollWidth") <= LAPTOP["width"]

            # Three units are crushed: moved from available to damaged with the page's form.
            page.fill("#id_move-quantity", "3")
            page.select_option("#id_move-from_state", "available")
            page.select_option("#id_move-to_state", "damaged")
            page.fill("#id_move-reason", "Crushed in the cold store")
            page.click("#move-state-form button[type=submit]")
            assert message(page, "success") == "Moved 3 from available to damaged: 17 available, 3 damaged, 20 on hand."
            assert (readonly(page, "available_quantity"), readonly(page, "damaged_quantity")) == ("17", "3")
            audit = page.locator("#state-move-audit tbody tr").first.locator("td").all_inner_texts()
            assert audit[1:] == ["3", "Available → Damaged", "Crushed in the cold store", warehouse_user.username]

            # A moved-too-many attempt is an error message and changes nothing.
            page.fill("#id_move-quantity", "4")
            page.select_option("#id_move-from_state", "damaged")
            page.select_option("#id_move-to_state", "safety_stock")
            page.fill("#id_move-reason", "Keep back")
            page.click("#move-state-form button[type=submit]")
            assert "Nothing moved: Only 3 damaged" in message(page, "error")
            assert readonly(page, "damaged_quantity") == "3"

            # Disposed of with the adjust form: a damage of damaged units (earliest expiry first).
            page.click(".object-tools a:text('Adjust stock')")
            page.wait_for_selector("#id_quantity_change")
            assert "damaged 3" in page.inner_text("#stock-now")
            page.fill("#id_quantity_change", "-3")
            page.select_option("#id_transaction_type", "damage")
            page.select_option("#id_state", "damaged")
            page.fill("#id_reason", "Disposed of")
            page.click("input[type=submit][value=Save]")
            assert message(page, "success") == "Stock adjusted by -3 damaged units; 17 on hand, 0 damaged."
            assert (readonly(page, "damaged_quantity"), readonly(page, "total_quantity")) == ("0", "17")
            units = page.locator(".inline-group td.field-quantity").all_inner_texts()
            assert units == ["5", "12"]
            latest = page.locator(".field-recent_ledger tbody tr").first.inner_text()
            assert "Damage" in latest and "B-SOON, damaged" in latest and "Disposed of" in latest
        finally:
            browser.close()
    product = Product.objects.get(pk=product.pk)
    assert (product.track_lots, product.requires_expiry) == (True, True)
    item = InventoryItem.objects.get(product=product, warehouse=warehouse)
    assert (item.available_quantity, item.damaged_quantity, item.total_quantity) == (17, 0, 17)
    assert dict(StockLot.objects.filter(item=item).values_list("batch_number", "quantity")) == {
        "B-LATE": 12,
        "B-SOON": 5,
    }
    assert StockStateMove.objects.get().created_by == warehouse_user
    disposal = InventoryTransaction.objects.get(transaction_type="damage")
    assert (disposal.quantity_change, disposal.stock_state, disposal.batch_number) == (-3, "damaged", "B-SOON")
    assert ledger_drift() == []
