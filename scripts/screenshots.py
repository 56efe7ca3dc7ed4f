"""Screenshots of the service's pages for the README, from a running `make run` (headless Chromium).

    .venv/bin/python scripts/screenshots.py [http://127.0.0.1:8000]

Logs in as `admin` with the password `ensure_admin` kept in $VAR_DIR/admin-password, and writes
docs/screenshots/*.png at 1366x768.
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
    "admin-reorder": "/admin/forecasting/demandforecast/",
    "admin-webhooks": "/admin/inventory/webhookendpoint/",
    "ops": "/ops/",
    "api-docs": "/api/docs/",
}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def main(base: str) -> None:
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
        for name, path in PAGES.items():
            page.goto(f"{base}{path}")
            if name == "ops":
                page.wait_for_selector('#state[data-state="live"]')
            if name == "api-docs":
                page.wait_for_selector(".opblock")
            page.wait_for_timeout(500)
            page.screenshot(path=str(OUT / f"{name}.png"))
            print(f"wrote {OUT / f'{name}.png'}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000")
