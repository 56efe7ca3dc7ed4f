"""The back office in a real browser (Debian's Chromium driven by Playwright) at 1366×768, against a real server:
the lists fit the screen, the state buttons work, a filtered export downloads, a suggestion becomes a transfer."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from forecasting.models import DemandForecast
from inventory import services as stock
from reservations.models import StockReservation
from tests.admin_ui.support import reserve
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from transfers import services as transfers
from transfers.models import Transfer

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 60_000  # generous: only reached when something is broken
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's
LAPTOP = {"width": 1366, "height": 768}

# Each list, and the columns a person must see on it without scrolling sideways.
LISTS = {
    "/admin/inventory/inventoryitem/": [
        "SKU",
        "Product",
        "WH",
        "Avail",
        "Resv",
        "On hand",
        "In transit",
        "Reorder pt",
        "Low",
        "Last movement",
        "Ledger",
    ],
    "/admin/inventory/inventorytransaction/": [
        "Product",
        "WH",
        "Change",
        "On hand",
        "Type",
        "Reason",
        "Reference",
        "Who",
        "When",
    ],
    "/admin/transfers/transfer/": ["Transfer", "Status", "Product", "From", "To", "Quantity", "Created"],
    "/admin/reservations/stockreservation/": ["Reservation", "Status", "Order / cart", "Lines", "Time left", "Type"],
    "/admin/forecasting/demandforecast/": ["SKU", "WH", "Avail", "Demand/day", "Days left", "Order qty", "Transfer"],
}
# Long names and references, as real data has: the columns must still fit.
NAMES = [
    "Insulated stainless steel water bottle 750 ml (forest green)",
    "Wireless ergonomic mouse with silent buttons (graphite)",
    "Organic cotton hoodie, relaxed fit, size XXL (heather grey)",
    "Desk lamp",
]


def log_in(page: Page, host: str, username: str) -> None:
    """As a person does: open the admin, get the login page, type, submit."""
    page.goto(f"http://{host}/admin/")
    assert "/admin/login/" in page.url
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"http://{host}/admin/")


def fits(page: Page) -> dict:
    """Widths of the page and of the list's table, as Chromium laid them out."""
    return page.evaluate(
        """() => {
            const results = document.querySelector('#changelist .results');
            return {page: document.scrollingElement.scrollWidth, table: results.scrollWidth,
                    room: results.clientWidth};
        }"""
    )


def shown_headers(page: Page) -> list[str]:
    """The list's column headers that are visible and end inside the 1366-px window."""
    shown = []
    for header in page.locator("#result_list thead th").all():
        box = header.bounding_box()
        if header.is_visible() and box and box["x"] >= 0 and box["x"] + box["width"] <= LAPTOP["width"]:
            shown.append(header.locator(".text").inner_text().strip().upper())  # (headers are set in capitals)
    return shown


def message(page: Page, level: str) -> str:
    return page.locator(f".messagelist .{level}").inner_text()


@pytest.fixture
def shop(warehouse_user):
    """Two warehouses, a dozen items (some low), ledger history, a reservation, a transfer, a suggestion."""
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    items = []
    for n in range(12):
        product = ProductFactory(sku=f"LONG-SKU-{n:04d}-XL", name=NAMES[n % len(NAMES)])
        items.append(stocked_item(5 + 20 * n, product=product, warehouse=north, reorder_point=30))
        stocked_item(60 + n, product=product, warehouse=south, reorder_point=20)
    bottle = items[0]
    stock.adjust_stock(
        product_id=bottle.product_id,
        warehouse_id=bottle.warehouse_id,
        quantity_change=-2,
        transaction_type="damage",
        details=stock.LedgerDetails(
            reason="Dropped from the top shelf during the night shift restock", reference_type="incident"
        ),
        user=warehouse_user,
    )
    cart = reserve(items[5], 2, order_id="WEB-2026-000123")
    transfer = transfers.create_transfer(
        product_id=items[3].product_id,
        from_warehouse_id=north.pk,
        to_warehouse_id=south.pk,
        quantity=10,
        user=warehouse_user,
    )
    # NORTH is short of item 1's product; SOUTH has 61 available over a reorder point of 20.
    DemandForecast.objects.create(
        item=items[1], recommended_order_quantity=35, days_until_stockout=1.2, forecast_daily_demand=6.0
    )
    return {"bottle": bottle, "cart": cart, "transfer": transfer, "north": north, "south": south, "items": items}


def test_every_list_fits_a_laptop_screen_and_a_filtered_export_downloads(start_server, warehouse_user, shop):
    bottle = shop["bottle"]
    bottle_sku = bottle.product.sku
    host = start_server()
    # No ORM past this point: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, host, warehouse_user.username)

            for path, columns in LISTS.items():
                page.goto(f"http://{host}{path}")
                width = fits(page)
                assert width["page"] <= LAPTOP["width"], (path, width)
                assert width["table"] <= width["room"], (path, width)  # the table does not scroll inside itself
                headers = shown_headers(page)
                assert [c for c in columns if c.upper() not in headers] == [], (path, headers)

            # The Low flag: a red badge on low rows, nothing on the others.
            page.goto(f"http://{host}/admin/inventory/inventoryitem/?warehouse__id__exact={shop['north'].pk}&o=0")
            flags = page.locator("#result_list td.field-low_stock").all_inner_texts()
            assert flags[:2] == ["LOW", "LOW"] and flags[2:] == [""] * 10  # 5 and 25 available, reorder point 30
            red = page.locator("#result_list td.field-low_stock .badge").first.evaluate(
                "badge => getComputedStyle(badge).backgroundColor"
            )
            assert red == "rgb(186, 33, 33)"

            # An item's "Ledger" link: every movement of that item, and only those.
            page.click(f'#result_list a[href$="?item={bottle.pk}"]')
            page.wait_for_url(f"**?item={bottle.pk}")  # the item list also has a #result_list
            assert page.locator("h1").inner_text() == f"Ledger of {bottle_sku} in NORTH"
            assert page.locator("#result_list td.field-change").all_inner_texts() == ["\u22122", "+5"]
            assert page.locator("#result_list td.field-why").first.inner_text().startswith("Dropped from the top")

            # Filter the items as a person does (the warehouse in the filter panel, a search), then export.
            page.goto(f"http://{host}/admin/inventory/inventoryitem/")
            page.click("#changelist-filter a:has-text('SOUTH')")
            page.fill("#searchbar", "Desk lamp")
            page.press("#searchbar", "Enter")
            page.wait_for_url("**q=Desk+lamp**")
            shown = page.locator("#result_list td.field-warehouse_code").all_inner_texts()
            with page.expect_download() as download:
                page.click("text=Export CSV")
            rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
            filename = download.value.suggested_filename
        finally:
            browser.close()
    assert filename.startswith("inventory-items-")
    expected = {f"LONG-SKU-{n:04d}-XL" for n in range(3, 12, 4)}  # the desk lamps
    assert {r["sku"] for r in rows} == expected and len(rows) == len(shown) == 3
    assert {(r["warehouse_code"], r["product_name"]) for r in rows} == {("SOUTH", "Desk lamp")}
    assert all(r["available_quantity"] == r["total_quantity"] for r in rows)


def test_state_buttons_and_a_suggestion_turned_into_a_transfer(start_server, warehouse_user, shop):
    cart, transfer = shop["cart"], shop["transfer"]
    short, donor = shop["items"][1], shop["south"]
    host = start_server()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=LAPTOP)
            page.set_default_timeout(TIMEOUT_MS)
            log_in(page, host, warehouse_user.username)

            # A reservation: open it from the list, Confirm, see it sold.
            page.goto(f"http://{host}/admin/reservations/stockreservation/")
            assert "min left" in page.locator("#result_list td.field-time_left").first.inner_text()
            page.click(f"#result_list a:text-is('{str(cart.pk)[:8]}')")
            assert "Holding " in page.locator(".state-summary").inner_text()
            page.click("button[name=confirm]")
            assert message(page, "success") == "Reservation WEB-2026-000123 confirmed: the units are sold."
            assert page.locator(".state-summary .badge").inner_text() == "FULFILLED"
            assert page.locator(".state-buttons").count() == 0

            # A transfer: Start, then Complete.
            page.goto(f"http://{host}/admin/transfers/transfer/")
            page.click(f"#result_list a:text-is('{str(transfer.pk)[:8]}')")
            # all_inner_texts() does not wait: let the detail page arrive first.
            page.locator(".state-buttons button").first.wait_for()
            assert [b.strip() for b in page.locator(".state-buttons button").all_inner_texts()] == [
                "Start",
                "Cancel transfer",
            ]
            page.click("button[name=start]")
            assert "started" in message(page, "success")
            assert page.locator(".state-summary .badge").inner_text() == "IN TRANSIT"
            page.click("button[name=complete]")
            assert "completed" in message(page, "success")
            assert page.locator(".state-summary .badge").inner_text() == "COMPLETED"
            page.goto(f"http://{host}/admin/transfers/transfer/")
            assert page.locator("#result_list td.field-status_badge").all_inner_texts() == ["COMPLETED"]

            # A reorder suggestion's Transfer link opens the New transfer form, filled in.
            page.goto(f"http://{host}/admin/forecasting/demandforecast/")
            link = page.locator("a.transfer-link")
            assert link.inner_text() == "35 from SOUTH"
            link.click()
            page.wait_for_url("**/admin/transfers/transfer/add/**")
            assert page.input_value("#id_product") == str(short.product_id)
            assert page.input_value("#id_from_warehouse") == str(donor.pk)
            assert page.input_value("#id_to_warehouse") == str(short.warehouse_id)
            assert page.input_value("#id_quantity") == "35"
            assert "SOUTH can spare 41" in page.input_value("#id_notes")
            assert "SOUTH" in page.locator("#select2-id_from_warehouse-container").inner_text()
            page.click("input[name=_save]")
            page.wait_for_url(f"http://{host}/admin/transfers/transfer/")
            assert "was added successfully" in message(page, "success")
        finally:
            browser.close()
    assert StockReservation.objects.get(pk=cart.pk).status == "fulfilled"
    assert Transfer.objects.get(pk=transfer.pk).status == "completed"
    created = Transfer.objects.exclude(pk=transfer.pk).get()
    assert (created.product_id, created.from_warehouse_id, created.to_warehouse_id, created.quantity) == (
        short.product_id,
        donor.pk,
        short.warehouse_id,
        35,
    )
    assert created.status == "pending" and created.created_by == warehouse_user
