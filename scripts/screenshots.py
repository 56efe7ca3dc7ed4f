"""Screenshots of the service's pages for the README, from a running `make run` (headless Chromium).

    .venv/bin/python scripts/screenshots.py [http://127.0.0.1:8000]

Logs in as `admin` with the password `ensure_admin` kept in $VAR_DIR/admin-password, and writes
docs/screenshots/*.png at 1366x768. The demo data has no reservations or transfers: a few are made
first through the API (`demo_activity`), so their lists and detail pages have something to show.
`SCREENSHOTS=admin-item-lots,admin-scan` takes only the named shots.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
PAGES = {
    "admin-index": "/admin/",
    "admin-items": "/admin/inventory/inventoryitem/",
    "admin-ledger": "/admin/inventory/inventorytransaction/",
    "admin-transfers": "/admin/transfers/transfer/",
    "admin-reservations": "/admin/reservations/stockreservation/",
    "admin-reorder": "/admin/forecasting/demandforecast/",
    "admin-webhooks": "/admin/inventory/webhookendpoint/",
    "ops": "/ops/",
    "api-docs": "/api/docs/",
}
# Detail pages: the first row of a filtered list, opened as a person would (click).
DETAILS = {
    "admin-transfer": "/admin/transfers/transfer/?status__exact=pending",
    "admin-reservation": "/admin/reservations/stockreservation/?status__exact=active",
}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(base: str) -> None:
    only = {name for name in os.environ.get("SCREENSHOTS", "").split(",") if name}

    def wanted(name: str) -> bool:
        return not only or name in only

    var_dir = Path(os.environ.get("VAR_DIR", ROOT / "var"))
    password = (var_dir / "admin-password").read_text().strip()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{base}/admin/login/")
        page.fill("#id_username", "admin")
        page.fill("#id_password", password)
        page.click("input[type=submit]")
        page.wait_for_url(f"{base}/admin/")
        demo_activity(page, base)
        for name, path in PAGES.items():
            if not wanted(name):
                continue
            page.goto(f"{base}{path}")
            if name == "ops":
                page.wait_for_selector('#state[data-state="live"]')
                ops_activity(page, base)  # made while the page watches: its charts and list fill live
            if name == "api-docs":
                page.wait_for_selector(".opblock")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        for name, path in DETAILS.items():
            if not wanted(name):
                continue
            page.goto(f"{base}{path}")
            page.click("#result_list tbody tr:first-child th a")
            page.wait_for_selector(".state-buttons")
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        flows = {"admin-item-lots": item_with_lots, "admin-scan": scan_station, "admin-import": import_preview}
        for name, flow in flows.items():
            if not wanted(name):
                continue
            flow(page, base)
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        browser.close()


def demo_activity(page, base: str) -> None:
    """Reservations and transfers in every state, through the API as the admin (session and CSRF token)."""
    api = f"{base}/api/v1"
    headers = {"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")}

    def call(method: str, path: str, body: dict | None = None) -> dict:
        response = page.request.fetch(f"{api}{path}", method=method, data=body, headers=headers)
        assert response.ok, f"{method} {path}: {response.status} {response.text()[:300]}"
        return response.json()

    def product(sku: str) -> int:
        return call("GET", f"/products/?sku={sku}")["results"][0]["id"]

    warehouses = {w["code"]: w["id"] for w in call("GET", "/warehouses/")["results"]}
    if not call("GET", "/inventory/transfer?status=pending")["results"]:
        moves = [
            ("DEMO-0005", "EAST", "WEST", 40),
            ("DEMO-0004", "EAST", "MAIN", 20),
            ("DEMO-0002", "WEST", "EAST", 30),
        ]
        made = [
            call(
                "POST",
                "/inventory/transfer",
                {
                    "product_id": product(sku),
                    "from_warehouse_id": warehouses[a],
                    "to_warehouse_id": warehouses[b],
                    "quantity": quantity,
                    "requested_by": "Demo",
                    "notes": "Rebalancing stock between hubs",
                },
            )
            for sku, a, b, quantity in moves
        ]
        call("POST", f"/inventory/transfer/{made[1]['id']}/start")
        call("POST", f"/inventory/transfer/{made[2]['id']}/start")
        call("POST", f"/inventory/transfer/{made[2]['id']}/complete")
    stamp = page.evaluate("Date.now()")
    carts = [  # the newest active one (the detail page shown) has three lines
        [("DEMO-0003", 1)],
        [("DEMO-0002", 2), ("DEMO-0004", 1), ("DEMO-0005", 3)],
        [("DEMO-0006", 2), ("DEMO-0003", 2)],
        [("DEMO-0004", 1)],
    ]
    made = [
        call(
            "POST",
            "/inventory/reserve",
            {
                "items": [{"product_id": product(sku), "quantity": q} for sku, q in lines],
                "order_id": f"WEB-{stamp % 100000 + n}",
                "expires_in": 900 + 300 * n,
            },
        )
        for n, lines in enumerate(carts)
    ]
    call("POST", f"/inventory/reserve/{made[2]['id']}/confirm")
    call("POST", f"/inventory/reserve/{made[3]['id']}/release")


def ops_activity(page, base: str, seconds: float | None = None) -> None:
    """A couple of minutes of a shop's day (receipts, damages, checkouts, an expiry) for the ops page's charts.

    ``OPS_ACTIVITY_SECONDS`` (default 150) sets how long; the charts show one bar per minute.
    """
    seconds = float(os.environ.get("OPS_ACTIVITY_SECONDS", 150)) if seconds is None else seconds
    api = f"{base}/api/v1"
    headers = {"X-CSRFToken": next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")}

    def call(method: str, path: str, body: dict | None = None) -> dict | None:
        response = page.request.fetch(f"{api}{path}", method=method, data=body, headers=headers)
        if response.status == 409:  # short of stock, or already ended: a shop's day has those too
            return None
        assert response.ok, f"{method} {path}: {response.status} {response.text()[:300]}"
        return response.json()

    products = [p["id"] for p in call("GET", "/products/")["results"]][:12]
    # Items with stock to spare, as (product, warehouse): not every product is kept everywhere.
    items = [
        (product, item["warehouse_id"])
        for product in products
        for item in call("GET", f"/inventory/{product}")["items"]
        if item["available_quantity"] >= 10
    ]
    moves = [(6, "purchase"), (-1, "damage"), (-2, "adjustment"), (1, "return"), (-1, "adjustment")]
    overdue, rounds = [], max(1, int(seconds / 6))
    for n in range(rounds):
        product, warehouse = items[(n * 7) % len(items)]
        change, kind = moves[n % len(moves)]
        call(
            "POST",
            f"/inventory/{product}/adjust",
            {"warehouse_id": warehouse, "quantity_change": change, "transaction_type": kind, "reason": "Demo"},
        )
        held = call(
            "POST",
            "/inventory/reserve",
            {
                "product_id": products[(n * 5 + 3) % len(products)],
                "quantity": 1 + n % 2,
                "expires_in": 4 if n % 5 == 2 else 900,
            },
        )
        if held and n % 5 == 2:
            overdue.append(held["id"])  # read once overdue: that expires it
        elif held and n % 4 != 3:  # (every fourth stays held: still in a checkout)
            call("POST", f"/inventory/reserve/{held['id']}/{'confirm' if n % 3 != 1 else 'release'}")
        page.wait_for_timeout(6000)
        while overdue:
            call("GET", f"/inventory/reserve/{overdue.pop()}")


def scan_station(page, base: str) -> None:
    """The scan station after two receipts typed as a scanner does (code + Enter, quantity, Tab, cost, Enter)."""
    page.goto(f"{base}/admin/inventory/scan/")
    page.select_option("#id_warehouse", label="MAIN – Main distribution centre")
    page.get_by_label("Receive", exact=True).check()
    page.click("#station-form button")
    page.wait_for_selector("#id_code")
    for code, quantity, cost in [("2000000000015", "24", "3,20"), ("DEMO-0002", "12", "4.15")]:
        page.keyboard.type(code)
        page.keyboard.press("Enter")
        page.wait_for_selector("#scan-target")
        page.keyboard.type(quantity)
        page.keyboard.press("Tab")
        page.keyboard.type(cost)
        page.fill("#id_supplier_id", "1042")
        page.fill("#id_reference_id", "DN-20731")
        page.press("#id_quantity", "Enter")
        page.wait_for_selector(".messagelist .success")


LOT_SKU = "DEMO-LOT-1"  # a lot-tracked product the screenshots add to the demo data (the seed has none)


def item_with_lots(page, base: str) -> None:
    """An item page of a lot-tracked product: its lots (earliest expiry first) under its stock, and the Move
    stock state form just used. The product is added, and two lots received at the scan station, on the first run."""
    page.goto(f"{base}/admin/inventory/product/?q={LOT_SKU}")
    if page.locator(f"#result_list a:text-is('{LOT_SKU}')").count() == 0:
        page.goto(f"{base}/admin/inventory/product/add/")
        page.fill("#id_sku", LOT_SKU)
        page.fill("#id_name", "Greek yoghurt 500 g")
        page.check("#id_track_lots")
        page.check("#id_requires_expiry")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        stamp = page.evaluate("Date.now()")
        today = page.evaluate("new Date().toISOString().slice(0, 10)")
        page.goto(f"{base}/admin/inventory/scan/")
        page.select_option("#id_warehouse", label="MAIN – Main distribution centre")
        page.get_by_label("Receive", exact=True).check()
        page.click("#station-form button")
        page.wait_for_selector("#id_code")
        for quantity, batch, days in [("36", "Y-2611", 150), ("24", "Y-2609", 12), ("18", "Y-2610", 60)]:
            page.keyboard.type(LOT_SKU)
            page.keyboard.press("Enter")
            page.wait_for_selector("#scan-target")
            page.keyboard.type(quantity)
            page.fill("#id_batch_number", batch)
            expiry = page.evaluate(f"new Date(Date.parse('{today}') + {days} * 864e5).toISOString().slice(0, 10)")
            page.fill("#id_expiry_date", expiry)
            page.fill("#id_reference_id", f"DN-{stamp % 100000}")
            page.press("#id_batch_number", "Enter")
            page.wait_for_selector(".messagelist .success")
    page.goto(f"{base}/admin/inventory/inventoryitem/?q={LOT_SKU}")
    page.click(f"#result_list a:text-is('{LOT_SKU}')")
    page.wait_for_selector("#move-state-form")
    page.fill("#id_move-quantity", "3")
    page.select_option("#id_move-to_state", "damaged")
    page.fill("#id_move-reason", "Crushed pots found at goods-in")
    page.click("#move-state-form button[type=submit]")
    page.wait_for_selector(".messagelist .success")


IMPORT_COLUMNS = (
    "sku,warehouse,quantity_change,transaction_type,counted_quantity,cost_per_unit,batch_number,expiry_date"
)
IMPORT_CSV = f"""{IMPORT_COLUMNS},reference_id,reason
DEMO-0001,MAIN,120,purchase,,3.20,B-2207,2027-06-30,PO-4711,Delivery
DEMO-0002,MAIN,60,purchase,,"4,15",B-2208,,PO-4711,Delivery
DEMO-0003,MAIN,-2,damage,,,,,,Crushed in transit
DEMO-0004,EAST,,,48,,,,,Cycle count aisle 4
DEMO-0005,EAST,,,0,,,,,Cycle count aisle 4
DEMO-0006,WEST,-5000,adjustment,,,,,,Correction
DEMO-0007,WEST,12,return,,,,,RMA-118,Customer return
DEMO-LOT-1,MAIN,24,purchase,,1.10,,2027-01-15,PO-4712,Delivery
DEMO-9999,MAIN,5,purchase,,,,,,
"""


def import_preview(page, base: str) -> None:
    """The CSV import's preview of a file with three bad rows (the rows' changes, their errors, no Apply)."""
    page.goto(f"{base}/admin/inventory/import/")
    page.set_input_files(
        "#id_file", files=[{"name": "stock-count.csv", "mimeType": "text/csv", "buffer": IMPORT_CSV.encode()}]
    )
    page.click("#preview-button")
    page.wait_for_selector("#preview")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
