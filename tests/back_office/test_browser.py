"""The scan station and the CSV import in a real browser (Debian's Chromium driven by Playwright) against a
real server, driven as a person does: a USB scanner types the code and Enter, the hands type the quantity."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, sync_playwright

from inventory.models import InventoryItem, InventoryTransaction
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from tests.live.support import rest_adjust, token_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 60_000  # generous: only reached when something is broken
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's
GTIN = "4006381333931"


def log_in(page: Page, host: str, path: str, username: str) -> None:
    """Open a back-office page, get the login form, type, submit, land on the page."""
    page.goto(f"http://{host}{path}")
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"http://{host}{path}")


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.name")


def scanner(page: Page, code: str) -> None:
    """What a USB barcode scanner does: type the code into whatever has the focus, then Enter."""
    page.keyboard.type(code)
    page.keyboard.press("Enter")


def test_scan_station_with_a_scanner_receive_undo_count_and_refusals(start_server, warehouse_user):
    warehouse = WarehouseFactory(code="DOCK")
    item = stocked_item(
        10, product=ProductFactory(sku="MUG-01", name="Stoneware mug", barcode=GTIN), warehouse=warehouse
    )
    token = token_for(warehouse_user)
    host = start_server()
    # No ORM past this point: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, host, "/admin/inventory/scan/", warehouse_user.username)

            # Choose the station once: warehouse and mode.
            page.select_option("#id_warehouse", label=str(warehouse))
            page.get_by_label("Receive", exact=True).check()
            page.click("text=Start scanning")
            page.wait_for_selector("#id_code")
            assert focused(page) == "code"

            # Scan (code + Enter): the item and its on-hand show, the focus is in the quantity.
            scanner(page, GTIN)
            page.wait_for_selector("#scan-target")
            assert page.inner_text("#scan-target .sku") == "MUG-01"
            assert page.inner_text("#on-hand") == "10"
            assert focused(page) == "quantity"
            page.keyboard.type("5")
            page.keyboard.press("Enter")
            page.wait_for_selector(".messagelist .success")
            assert "Received 5 × MUG-01" in page.inner_text(".messagelist")
            first = page.locator("#bookings tbody tr").first
            assert first.locator(".change").inner_text() == "+5"
            assert first.locator(".on-hand").inner_text() == "15"
            assert focused(page) == "code"  # ready for the next scan

            # An unknown code: a clear message, nothing booked, the focus back in the code field.
            scanner(page, "NOPE-404")
            page.wait_for_selector("#scan-error")
            assert "Unknown code NOPE-404" in page.inner_text("#scan-error")
            assert focused(page) == "code"

            # Undo the receipt: the reverse is booked and the row shows it was undone.
            page.click("#bookings tbody tr:first-child button:text('Undo')")
            page.wait_for_selector(".messagelist .success")
            assert "on hand" in page.inner_text(".messagelist")
            assert "undone" in page.locator("#bookings tbody tr").first.inner_text()
            scanner(page, "MUG-01")  # by SKU this time: 10 on hand again
            page.wait_for_selector("#on-hand")
            assert page.inner_text("#on-hand") == "10"

            # Count mode: scan, then stock moves elsewhere before Enter: refused, nothing changes.
            page.get_by_label("Count", exact=True).check()
            page.click("text=Switch")
            page.wait_for_selector("h2.scan-mode:text('Count in DOCK')")
            assert focused(page) == "code"
            scanner(page, GTIN)
            page.wait_for_selector("#scan-target")
            assert page.inner_text("#on-hand") == "10"
            rest_adjust(host, token, product_id=item.product_id, warehouse_id=warehouse.pk, change=-2)
            page.keyboard.type("7")
            page.keyboard.press("Enter")
            page.wait_for_selector("#scan-error")
            assert "Stock moved since you scanned: 8 on hand now, not 10" in page.inner_text("#scan-error")
            assert page.inner_text("#on-hand") == "8"
            assert focused(page) == "quantity"
            # The person recounts and presses Enter again: the count is booked against 8.
            page.keyboard.press("Enter")
            page.wait_for_selector(".messagelist .success")
            assert "was 8, -1" in page.inner_text(".messagelist")
            counted = page.locator("#bookings tbody tr").first
            assert (counted.locator(".change").inner_text(), counted.locator(".on-hand").inner_text()) == ("-1", "7")
        finally:
            browser.close()
    item.refresh_from_db()
    assert item.total_quantity == 7
    rows = InventoryTransaction.objects.filter(product=item.product).order_by("id")
    assert [(r.transaction_type, r.quantity_change) for r in rows] == [
        ("purchase", 10),
        ("purchase", 5),
        ("adjustment", -5),
        ("adjustment", -2),
        ("count", -1),
    ]


def test_csv_import_preview_shows_the_bad_row_then_the_fixed_file_applies(start_server, warehouse_user, tmp_path):
    warehouse = WarehouseFactory(code="MAIN")
    cups = stocked_item(10, product=ProductFactory(sku="CUP-1"), warehouse=warehouse)
    plates = stocked_item(3, product=ProductFactory(sku="PLATE-2"), warehouse=warehouse)
    header = "sku,warehouse,quantity_change,transaction_type,counted_quantity,reason\n"
    bad = tmp_path / "delivery.csv"
    bad.write_text(header + "CUP-1,MAIN,24,purchase,,Delivery\nPLATE-2,MAIN,-5,damage,,Dropped\n")
    fixed = tmp_path / "delivery-fixed.csv"
    fixed.write_text(header + "CUP-1,MAIN,24,purchase,,Delivery\nPLATE-2,MAIN,-2,damage,,Dropped\nPLATE-2,MAIN,,,6,\n")
    host = start_server()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, host, "/admin/", warehouse_user.username)
            page.click("#service-links a:text('Import CSV')")
            page.wait_for_selector("#upload-form")

            page.set_input_files("#id_file", str(bad))
            page.click("#preview-button")
            page.wait_for_selector("#preview")
            error_row = page.locator('#preview tr[data-line="3"]')
            assert "Would leave -2 available (only 3 available)." in error_row.locator(".error").inner_text()
            assert "1 row with errors" in page.inner_text("#import-preview .summary")
            assert page.locator("#apply").count() == 0  # nothing to apply while a row is wrong

            page.set_input_files("#id_file", str(fixed))
            page.click("#preview-button")
            page.wait_for_selector("#apply")
            cells = page.locator('#preview tr[data-line="4"] td').all_inner_texts()
            assert cells[3:7] == ["Cycle count", "+5", "1", "6"]
            page.click("#apply")
            page.wait_for_selector("#import-summary")
            assert page.inner_text("#units-in") == "+29"
            assert page.inner_text("#units-out") == "−2"
        finally:
            browser.close()
    cups.refresh_from_db()
    plates.refresh_from_db()
    assert (cups.total_quantity, plates.total_quantity) == (34, 6)
    assert InventoryItem.objects.get(pk=plates.pk).last_count_date is not None
