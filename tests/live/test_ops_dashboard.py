"""The ops dashboard: its two JSON reads (what the page opens with, what happened since) and, in a real
browser against a real server, the tiles, charts and latest changes following changes made through the API."""

from __future__ import annotations

import json
import threading
import urllib.request
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.db.models import F
from playwright.sync_api import sync_playwright

from inventory import feed, services
from inventory.models import RelayCursor
from inventory.roles import STOREFRONT_GROUP, WAREHOUSE_GROUP
from reservations.models import StockReservation
from reservations.services import (
    LineRequest,
    confirm_reservation,
    expire_reservations,
    release_reservation,
    reserve_stock,
)
from tests.factories import UserFactory, WarehouseFactory, stocked_item
from tests.live.support import WAIT, settled, token_for, unique_product
from tests.live.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD, TIMEOUT_MS

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = "/ops/api/dashboard"
ACTIVITY = "/ops/api/activity"


@pytest.fixture
def ops(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def _reserve(item, quantity: int, user, **kwargs):
    line = LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=quantity)
    return reserve_stock(lines=[line], user=user, **kwargs)


def _day_of_work(item, user) -> None:
    """An adjustment, a reservation confirmed, one released and one left to expire (then swept)."""
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-3, user=user)
    confirm_reservation(reservation_id=_reserve(item, 2, user).pk, user=user)
    release_reservation(reservation_id=_reserve(item, 4, user).pk, user=user)
    overdue = _reserve(item, 1, user)
    # Due a microsecond after it was made (the only way to be due at once), then swept as the beat task does.
    StockReservation.objects.filter(pk=overdue.pk).update(expires_at=F("created_at") + timedelta(microseconds=1))
    assert expire_reservations() == 1


def _changes(body: dict, item) -> list[tuple]:
    """(change, type, who, new available) of the item's rows, oldest first."""
    return [
        (row["change"], row["type"], row["who"], row["available_quantity"])
        for row in sorted(body["changes"], key=lambda row: row["event_id"])
        if row["product_id"] == item.product_id and row["warehouse_id"] == item.warehouse_id
    ]


def test_the_dashboard_opens_with_tiles_charts_alerts_and_the_changes_told_in_full(ops, warehouse_user):
    main, other = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(50, product=unique_product(), warehouse=main, reorder_point=10)
    low = stocked_item(8, product=item.product, warehouse=other, reorder_point=10)
    _day_of_work(item, warehouse_user)
    settled()

    body = ops.get(DASHBOARD).json()

    tiles = {tile["warehouse_id"]: tile for tile in body["warehouses"]}
    assert {k: tiles[main.pk][k] for k in ("on_hand", "available", "reserved", "low_items")} == {
        "on_hand": 45,
        "available": 45,
        "reserved": 0,
        "low_items": 0,
    }
    assert (tiles[other.pk]["on_hand"], tiles[other.pk]["low_items"]) == (8, 1)
    charts = body["charts"]
    assert len(charts["minutes"]) == 60
    # Movements are ledger rows: the receipt, the adjustment and the sale in main, the receipt in other.
    assert sum(charts["movements"][str(main.pk)]) == 3 and sum(charts["movements"][str(other.pk)]) == 1
    assert {kind: sum(counts) for kind, counts in charts["reservations"].items()} == {
        "created": 3,
        "confirmed": 1,
        "released": 1,
        "expired": 1,
    }
    assert charts["open_alerts"][-1] == 1
    assert [(a["sku"], a["warehouse_id"], a["current_quantity"]) for a in body["alerts"]] == [
        (low.product.sku, other.pk, 8)
    ]
    who = warehouse_user.username
    assert _changes(body, item) == [
        (50, "purchase", "system", 50),
        (-3, "adjustment", who, 47),
        (-2, "reserved", who, 45),
        (-2, "sale", who, 45),
        (-4, "reserved", who, 41),
        (4, "released", who, 45),
        (-1, "reserved", who, 44),
        (1, "reservation_expired", "system", 45),
    ]
    assert body["next_after"] == feed.latest_final_id() and body["counted"] == []


def test_activity_follows_the_feed_from_where_the_dashboard_stands(ops, warehouse_user):
    item = stocked_item(20, product=unique_product(), reorder_point=5)
    settled()
    opened = ops.get(DASHBOARD).json()

    services.adjust_stock(
        product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-16, user=warehouse_user
    )
    confirm_reservation(reservation_id=_reserve(item, 1, warehouse_user).pk, user=warehouse_user)
    settled()
    body = ops.get(ACTIVITY, {"after": opened["next_after"]}).json()

    assert _changes(body, item) == [
        (-16, "adjustment", warehouse_user.username, 4),
        (-1, "reserved", warehouse_user.username, 3),
        (-1, "sale", warehouse_user.username, 3),
    ]
    assert [row["movements"] for row in body["changes"]] == [1, 0, 1]
    assert [r["kind"] for r in body["reservations"]] == ["created", "confirmed"]
    assert [(a["type"], a["data"]["current_quantity"]) for a in body["alerts"]] == [("low_stock.raised", 4)]
    assert body["warehouses"][0]["low_items"] == 1 and body["more"] is False
    # Nothing new: the same cursor comes back.
    again = ops.get(ACTIVITY, {"after": body["next_after"]}).json()
    assert again["changes"] == [] and again["next_after"] == body["next_after"]


def test_a_warehouse_filter_gets_that_warehouse_s_history(ops, warehouse_user):
    main, other = WarehouseFactory(), WarehouseFactory()
    product = unique_product()
    stocked_item(10, product=product, warehouse=main)
    for _ in range(3):
        services.adjust_stock(product_id=product.pk, warehouse_id=main.pk, quantity_change=1, user=warehouse_user)
    stocked_item(7, product=product, warehouse=other)
    settled()

    body = ops.get(DASHBOARD, {"warehouse_id": main.pk}).json()

    assert {row["warehouse_id"] for row in body["changes"]} == {main.pk}
    assert [row["available_quantity"] for row in body["changes"]] == [10, 11, 12, 13]
    # Tiles and charts stay for every warehouse.
    assert {tile["warehouse_id"] for tile in body["warehouses"]} >= {main.pk, other.pk}


def test_a_change_committed_while_an_older_transaction_is_open_is_counted_once(ops, warehouse_user):
    early, late = stocked_item(10, product=unique_product()), stocked_item(10, product=unique_product())
    settled()
    holding, release = threading.Event(), threading.Event()

    def older_transaction() -> None:
        try:
            with transaction.atomic():
                services.adjust_stock(product_id=early.product_id, warehouse_id=early.warehouse_id, quantity_change=1)
                holding.set()
                release.wait(60)
        finally:
            connection.close()

    thread = threading.Thread(target=older_transaction)
    thread.start()
    try:
        assert holding.wait(60)
        # Committed after the older one started: a later id, but the feed cannot hand it out yet.
        services.adjust_stock(product_id=late.product_id, warehouse_id=late.warehouse_id, quantity_change=1)
        opened = ops.get(DASHBOARD).json()
    finally:
        release.set()
        thread.join(60)
    settled()

    warehouse = str(late.warehouse_id)
    assert sum(opened["charts"]["movements"][warehouse]) == 2  # the receipt and the +1: already in the chart
    assert [row["sku"] for row in opened["changes"] if row["product_id"] == late.product_id] == [late.product.sku]
    followed = ops.get(ACTIVITY, {"after": opened["next_after"]}).json()
    late_rows = [row for row in followed["changes"] if row["product_id"] == late.product_id]
    early_rows = [row for row in followed["changes"] if row["product_id"] == early.product_id]
    # Both come through the feed; the page shows both rows but counts only the one not counted yet.
    assert [row["event_id"] in opened["counted"] for row in late_rows + early_rows] == [True, False]


def test_a_storefront_staff_member_sees_its_own_reservations_and_no_names(client, warehouse_user):
    storefront = UserFactory(is_staff=True)
    storefront.groups.add(Group.objects.get(name=STOREFRONT_GROUP))
    item = stocked_item(10, product=unique_product())
    _reserve(item, 1, warehouse_user)
    _reserve(item, 2, storefront, order_id="SF-1")
    settled()
    client.force_login(storefront)

    body = client.get(DASHBOARD).json()

    assert sum(body["charts"]["reservations"]["created"]) == 1
    assert {row["who"] for row in body["changes"]} == {None}


def test_the_reads_are_for_staff_with_a_role_and_refuse_bad_input(client, warehouse_user):
    for url in (DASHBOARD, f"{ACTIVITY}?after=0"):
        response = client.get(url)
        assert response.status_code in (401, 403) and response.json()["code"] in (
            "not_authenticated",
            "permission_denied",
        )
    clerk = UserFactory()  # warehouse role, but not staff
    clerk.groups.add(Group.objects.get(name=WAREHOUSE_GROUP))
    for user in (clerk, UserFactory(is_staff=True)):  # the second: staff without an inventory role
        client.force_login(user)
        response = client.get(DASHBOARD)
        assert response.status_code == 403 and response.json()["code"] == "permission_denied"

    client.force_login(warehouse_user)
    for params in ({"after": -1}, {"after": "x"}, {}):
        response = client.get(ACTIVITY, params)
        assert response.status_code == 400 and response.json()["code"] == "invalid", params
    response = client.get(DASHBOARD, {"warehouse_id": 999_999})
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    RelayCursor.objects.create(name=feed.PURGED_CURSOR, position=1_000)
    response = client.get(ACTIVITY, {"after": 10})
    assert response.status_code == 410 and response.json()["code"] == "events_expired"


# --- in a real browser --------------------------------------------------------------------------------


def _call(host: str, token: str, method: str, path: str, body: dict | None = None) -> dict:
    """An API call over real HTTP, as the storefront or a scanner would make it."""
    request = urllib.request.Request(
        f"http://{host}/api/v1/{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method=method,
    )
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        return json.loads(response.read())


def _rows(page, warehouse_id: int) -> list[tuple[str, str, str, str]]:
    """(change, type, who, available) of a warehouse's rows in the latest changes, newest first."""
    cells = page.eval_on_selector_all(
        f'#changes tbody tr[data-warehouse-id="{warehouse_id}"]',
        "rows => rows.map(r => ['.change', '.type', '.who', '.available'].map(c => r.querySelector(c).textContent))",
    )
    return [tuple(row) for row in cells]


def _tile(page, warehouse_id: int) -> dict[str, str]:
    return page.eval_on_selector(
        f'#tiles .tile[data-warehouse-id="{warehouse_id}"]',
        "tile => Object.fromEntries(['on-hand', 'available', 'reserved', 'low-items'].map("
        "c => [c, tile.querySelector('dd.' + c).textContent]))",
    )


def _wait_for_total(page, chart: str, series: str, total: int) -> None:
    """Wait until the chart's data points of a series add up to ``total`` (the hour's count)."""
    page.wait_for_function(
        """([chart, series, total]) => {
            const marks = document.querySelectorAll(`#${chart} svg [data-series="${series}"]`);
            let sum = 0;
            for (const mark of marks) sum += Number(mark.dataset.value);
            return sum === total;
        }""",
        arg=[chart, series, total],
    )


@pytest.mark.slow
def test_the_dashboard_follows_changes_made_through_the_api(start_server, warehouse_user):
    main, other = WarehouseFactory(), WarehouseFactory()
    product = unique_product()
    stocked_item(50, product=product, warehouse=main, reorder_point=10)
    stocked_item(12, product=product, warehouse=other, reorder_point=10)
    token, who = token_for(warehouse_user), warehouse_user.username
    host = start_server()

    def adjust(warehouse, change: int) -> dict:
        body = {"warehouse_id": warehouse.pk, "quantity_change": change, "transaction_type": "adjustment"}
        return _call(host, token, "POST", f"inventory/{product.pk}/adjust", body)

    def reserve(quantity: int, **extra) -> dict:
        body = {"product_id": product.pk, "warehouse_id": main.pk, "quantity": quantity, **extra}
        return _call(host, token, "POST", "inventory/reserve", body)

    services.adjust_stock(product_id=product.pk, warehouse_id=main.pk, quantity_change=-3, user=warehouse_user)
    settled()
    # No ORM past this point: Playwright's sync API runs an event loop in this thread.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"http://{host}/ops/")
            page.fill("#id_username", who)
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
            page.wait_for_url(f"http://{host}/ops/")
            page.wait_for_selector('#state[data-state="live"]')

            # Opened with the history: tiles, the receipts and the -3 in the charts and the list.
            assert _tile(page, main.pk) == {"on-hand": "47", "available": "47", "reserved": "0", "low-items": "0"}
            assert _rows(page, main.pk) == [("\u22123", "Adjustment", who, "47"), ("+50", "Purchase", "system", "50")]
            _wait_for_total(page, "chart-movements", str(main.pk), 2)
            _wait_for_total(page, "chart-movements", str(other.pk), 1)
            hover = page.locator(f'#chart-movements rect.bar[data-series="{main.pk}"] title').first.text_content()
            assert main.code in hover and "movements" in hover

            # An adjustment and a reservation: the tile and the list follow.
            adjust(main, -5)
            reservation = reserve(2)
            page.wait_for_selector(f'#tiles .tile[data-warehouse-id="{main.pk}"] dd.reserved:text-is("2")')
            assert _tile(page, main.pk) == {"on-hand": "42", "available": "40", "reserved": "2", "low-items": "0"}
            # Confirmed, another released, a third left to expire (reading it when overdue expires it).
            _call(host, token, "POST", f"inventory/reserve/{reservation['id']}/confirm")
            released = reserve(4)
            _call(host, token, "POST", f"inventory/reserve/{released['id']}/release")
            overdue = reserve(1, expires_in=1)
            page.wait_for_timeout(1500)  # let it fall due
            assert _call(host, token, "GET", f"inventory/reserve/{overdue['id']}")["status"] == "expired"

            page.wait_for_selector(f'#changes tbody tr[data-warehouse-id="{main.pk}"][data-type="reservation_expired"]')
            assert _rows(page, main.pk) == [
                ("+1", "Reservation expired", "system", "40"),
                ("\u22121", "Reserved", who, "39"),
                ("+4", "Released", who, "40"),
                ("\u22124", "Reserved", who, "36"),
                ("\u22122", "Sale", who, "40"),
                ("\u22122", "Reserved", who, "40"),
                ("\u22125", "Adjustment", who, "42"),
                ("\u22123", "Adjustment", who, "47"),
                ("+50", "Purchase", "system", "50"),
            ]
            colors = page.eval_on_selector_all(
                f'#changes tbody tr[data-warehouse-id="{main.pk}"] td.change', "cells => cells.map(c => c.className)"
            )
            assert colors[:2] == ["num change up", "num change down"]
            assert _tile(page, main.pk) == {"on-hand": "40", "available": "40", "reserved": "0", "low-items": "0"}
            # The charts drew the hour with the new points: movements (receipt, -3, -5, sale) and reservations.
            _wait_for_total(page, "chart-movements", str(main.pk), 4)
            for kind, total in (("created", 3), ("confirmed", 1), ("released", 1), ("expired", 1)):
                _wait_for_total(page, "chart-reservations", kind, total)

            # Down to its reorder point elsewhere: an alert with the live quantity, then it moves on.
            adjust(other, -3)
            alert = f'#alerts tbody tr[data-warehouse-id="{other.pk}"]'
            page.wait_for_selector(f"{alert} .available:text-is('9')")
            page.wait_for_selector(f'#tiles .tile[data-warehouse-id="{other.pk}"] dd.low-items:text-is("1")')
            adjust(other, -1)
            page.wait_for_selector(f"{alert} .available:text-is('8')")
            page.wait_for_function(
                "() => [...document.querySelectorAll('#chart-alerts circle.point')].at(-1).dataset.value === '1'"
            )

            # The filter keeps history: the list never empties, and holds the warehouse's changes only.
            shown = _rows(page, main.pk)
            page.evaluate(
                """() => {
                    window.emptied = false;
                    const body = document.querySelector('#changes tbody');
                    new MutationObserver(() => { if (!body.rows.length) window.emptied = true; })
                        .observe(body, {childList: true});
                }"""
            )
            page.select_option("#warehouse", str(main.pk))
            page.wait_for_selector('#state[data-state="live"]')
            assert _rows(page, main.pk) == shown
            assert page.locator(f'#changes tbody tr[data-warehouse-id="{other.pk}"]').count() == 0
            assert page.locator(f'#tiles .tile[data-warehouse-id="{main.pk}"]').get_attribute("aria-pressed") == "true"
            # The other warehouse, from a click on its tile: its history comes from the change feed.
            page.click(f'#tiles .tile[data-warehouse-id="{other.pk}"]')
            page.wait_for_selector(f'#changes tbody tr[data-warehouse-id="{other.pk}"] .available:text-is("12")')
            assert [row[0] for row in _rows(page, other.pk)] == ["\u22121", "\u22123", "+12"]
            assert page.locator(f'#changes tbody tr[data-warehouse-id="{main.pk}"]').count() == 0
            assert page.evaluate("() => window.emptied") is False
        finally:
            browser.close()
