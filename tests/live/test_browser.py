"""The ops page in a real browser (Debian's Chromium driven by Playwright) against a real server."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from inventory import feed
from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import rest_adjust, settled, token_for, unique_product

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TIMEOUT_MS = 60_000  # generous: only reached when something is broken
PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def _event_ids(page) -> list[str]:
    return page.eval_on_selector_all("#changes tbody tr", "rows => rows.map(row => row.dataset.eventId)")


def _available(page, rows: str) -> list[str]:
    """The Available column of these change rows, newest first."""
    return page.eval_on_selector_all(f"{rows} .available", "cells => cells.map(cell => cell.textContent)")


def test_ops_page_shows_history_then_changes_and_alerts_live_and_resumes_after_a_reconnect(
    start_server, warehouse_user
):
    main, other = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(50, product=unique_product(), warehouse=main, reorder_point=10)
    elsewhere = stocked_item(50, product=item.product, warehouse=other, reorder_point=10)
    token = token_for(warehouse_user)
    username, sku = warehouse_user.username, item.product.sku
    host = start_server()
    spare = start_server()  # takes the changes while the first server is down
    port = int(host.rsplit(":", 1)[1])
    row = f'#changes tbody tr[data-product-id="{item.product_id}"][data-warehouse-id="{main.pk}"]'
    alert = f'#alerts tbody tr[data-product-id="{item.product_id}"][data-warehouse-id="{main.pk}"]'
    # A change made before the page opens: the page shows it from the change feed's history.
    rest_adjust(host, token, product_id=item.product_id, warehouse_id=main.pk, change=-3)
    settled()
    before = feed.read_events(after=0, product_id=item.product_id, warehouse_id=main.pk).events[-1]
    assert before.data["available_quantity"] == 47
    # No ORM past this point: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://{host}/ops/")
            assert "/admin/login/" in page.url  # staff login required
            page.fill("#id_username", username)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"http://{host}/ops/")
            page.wait_for_selector('#state[data-state="live"]')

            # The history: the changes made before the page opened (the receipts, then -3), once each.
            assert _available(page, row) == ["47", "50"]
            assert page.locator(row).first.get_attribute("data-event-id") == str(before.id)
            assert page.locator(row).first.locator(".sku").inner_text() == sku
            assert len(_event_ids(page)) == 3

            # Down to 5 (reorder point 10): a stock change row and an open alert appear.
            rest_adjust(host, token, product_id=item.product_id, warehouse_id=main.pk, change=-42)
            page.wait_for_selector(f"{row} .available:text-is('5')")
            page.wait_for_selector(alert)
            assert page.inner_text(f"{alert} .available") == "5"

            # Back above the reorder point: the alert leaves the list.
            rest_adjust(host, token, product_id=item.product_id, warehouse_id=main.pk, change=20)
            page.wait_for_selector(f"{row} .available:text-is('25')")
            page.wait_for_selector(alert, state="detached")
            assert _available(page, row) == ["25", "5", "47", "50"]

            # The server goes away (the page's socket is closed by it); a change is made meanwhile, through
            # the other server; when the server is back the page reconnects and shows the change it missed.
            start_server.stop(host)
            page.wait_for_selector('#state[data-state="reconnecting"]')
            rest_adjust(spare, token, product_id=item.product_id, warehouse_id=main.pk, change=-15)
            rest_adjust(spare, token, product_id=elsewhere.product_id, warehouse_id=other.pk, change=-1)
            assert start_server(port=port) == host
            page.wait_for_selector('#state[data-state="live"]')
            page.wait_for_selector(f"{row} .available:text-is('10')")
            page.wait_for_selector(f'#changes tbody tr[data-warehouse-id="{other.pk}"] .available:text-is("49")')
            page.wait_for_selector(alert)  # 10 is at the reorder point: the alert is back
            assert page.inner_text(f"{alert} .available") == "10"
            # And live again after the reconnect.
            rest_adjust(host, token, product_id=item.product_id, warehouse_id=main.pk, change=1)
            page.wait_for_selector(f"{row} .available:text-is('11')")
            page.wait_for_selector(alert, state="detached")
            shown = _event_ids(page)
            assert len(shown) == len(set(shown)) == 8  # every change once: no gap, no duplicate
            assert _available(page, row) == ["11", "10", "25", "5", "47", "50"]

            # Filter on the other warehouse: the page reloads its history there and shows only its changes.
            page.select_option("#warehouse", str(other.pk))
            page.wait_for_selector('#state[data-state="live"]')
            page.wait_for_selector(f'#changes tbody tr[data-warehouse-id="{other.pk}"] .available:text-is("49")')
            rest_adjust(host, token, product_id=item.product_id, warehouse_id=main.pk, change=-1)
            rest_adjust(host, token, product_id=elsewhere.product_id, warehouse_id=other.pk, change=-2)
            page.wait_for_selector(f'#changes tbody tr[data-warehouse-id="{other.pk}"] .available:text-is("47")')
            assert page.locator(f'#changes tbody tr[data-warehouse-id="{main.pk}"]').count() == 0
            assert _available(page, "#changes tbody tr") == ["47", "49", "50"]
        finally:
            browser.close()


def test_api_docs_render_their_operations_from_our_own_assets(start_server):
    host = start_server()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(f"http://{host}/api/docs/")
            page.wait_for_selector(".opblock")  # Swagger UI drew the operations from /api/schema/
            summaries = page.locator(".opblock-summary-path").all_inner_texts()
            assert any("/inventory/reserve" in path for path in summaries), summaries
            assert len(summaries) > 20
            # Nothing from a CDN: every asset came from this server (the docs work offline).
            outside = [url for url in requested if not url.startswith((f"http://{host}/", "data:"))]
            assert outside == []
        finally:
            browser.close()
