"""The alert API, the alert admin and the ops page's server side."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse
from rest_framework.test import APIClient

from inventory import services
from inventory.models import AlertStatus, LowStockAlert
from tests.factories import UserFactory, WarehouseFactory, stocked_item
from tests.live.support import token_for

pytestmark = pytest.mark.django_db

LIST_URL = "/api/v1/alerts/low-stock"


def api_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


@pytest.fixture
def warehouse_api(warehouse_user) -> APIClient:
    return api_for(warehouse_user)


@pytest.fixture
def storefront_api(storefront_user) -> APIClient:
    return api_for(storefront_user)


def ack_url(alert_id: int) -> str:
    return f"/api/v1/alerts/low-stock/{alert_id}/acknowledge"


@pytest.fixture
def three_alerts():
    """One open (warehouse A), one acknowledged (warehouse B), one resolved (warehouse A)."""
    a, b = WarehouseFactory(), WarehouseFactory()
    open_item = stocked_item(3, warehouse=a)
    acked_item = stocked_item(4, warehouse=b)
    resolved_item = stocked_item(5, warehouse=a)
    services.adjust_stock(product_id=resolved_item.product_id, warehouse_id=a.pk, quantity_change=20)
    alerts = {alert.item_id: alert for alert in LowStockAlert.objects.all()}
    acked = alerts[acked_item.pk]
    LowStockAlert.objects.filter(pk=acked.pk).update(status=AlertStatus.ACKNOWLEDGED)
    return {
        "a": a,
        "b": b,
        "open": alerts[open_item.pk],
        "acknowledged": acked,
        "resolved": alerts[resolved_item.pk],
    }


def ids(response) -> list[int]:
    return [row["id"] for row in response.json()["results"]]


def test_any_role_lists_alerts_newest_first_with_filters(storefront_api, three_alerts):
    response = storefront_api.get(LIST_URL)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3 and {"next", "previous", "results"} <= set(body)
    assert ids(response) == sorted(ids(response), reverse=True)
    row = next(r for r in body["results"] if r["id"] == three_alerts["open"].pk)
    item = three_alerts["open"].item
    assert row == {
        "id": three_alerts["open"].pk,
        "status": "open",
        "item_id": item.pk,
        "product_id": item.product_id,
        "sku": item.product.sku,
        "warehouse_id": item.warehouse_id,
        "current_quantity": 3,
        "reorder_point": 10,
        "quantity_when_raised": 3,
        "reorder_point_when_raised": 10,
        "created_at": row["created_at"],
        "acknowledged_by": None,
        "acknowledged_at": None,
        "resolved_at": None,
    }
    for status in ("open", "acknowledged", "resolved"):
        assert ids(storefront_api.get(LIST_URL, {"status": status})) == [three_alerts[status].pk]
    assert set(ids(storefront_api.get(LIST_URL, {"status": "active"}))) == {
        three_alerts["open"].pk,
        three_alerts["acknowledged"].pk,
    }
    assert set(ids(storefront_api.get(LIST_URL, {"warehouse_id": three_alerts["a"].pk}))) == {
        three_alerts["open"].pk,
        three_alerts["resolved"].pk,
    }
    assert ids(storefront_api.get(LIST_URL, {"warehouse_id": three_alerts["b"].pk, "status": "open"})) == []


def test_bad_filters_and_missing_roles_are_refused(storefront_api, plain_user):
    bad = storefront_api.get(LIST_URL, {"status": "closed"})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert storefront_api.get(LIST_URL, {"warehouse_id": "x"}).status_code == 400
    assert api_for().get(LIST_URL).status_code == 401
    assert api_for(plain_user).get(LIST_URL).status_code == 403


def test_warehouse_staff_acknowledge_an_open_alert_once(warehouse_api, warehouse_user, three_alerts):
    alert = three_alerts["open"]
    response = warehouse_api.post(ack_url(alert.pk))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["id"], body["status"], body["acknowledged_by"]) == (alert.pk, "acknowledged", warehouse_user.pk)
    assert body["acknowledged_at"] is not None
    again = warehouse_api.post(ack_url(alert.pk))
    assert again.status_code == 200 and again.json() == body  # idempotent: the first acknowledgement stays


def test_acknowledge_refusals(warehouse_api, storefront_api, three_alerts):
    resolved = warehouse_api.post(ack_url(three_alerts["resolved"].pk))
    assert resolved.status_code == 409 and resolved.json()["code"] == "invalid_state"
    unknown = warehouse_api.post(ack_url(999_999_999))
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert storefront_api.post(ack_url(three_alerts["open"].pk)).status_code == 403
    assert LowStockAlert.objects.get(pk=three_alerts["open"].pk).status == "open"


# --- admin ---------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def test_the_admin_lists_and_filters_alerts(staff_client, three_alerts):
    url = reverse("admin:inventory_lowstockalert_changelist")
    page = staff_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    assert three_alerts["open"].item.product.sku in text and "Acknowledge selected low-stock alerts" in text
    filtered = staff_client.get(url, {"status__exact": "open", "item__warehouse__id__exact": three_alerts["a"].pk})
    assert filtered.status_code == 200
    assert list(filtered.context["cl"].result_list) == [three_alerts["open"]]
    assert (
        staff_client.get(reverse("admin:inventory_lowstockalert_change", args=[three_alerts["open"].pk])).status_code
        == 200
    )


def test_the_admin_acknowledge_action(staff_client, warehouse_user, three_alerts):
    selected = [three_alerts["open"].pk, three_alerts["resolved"].pk]
    response = staff_client.post(
        reverse("admin:inventory_lowstockalert_changelist"),
        {"action": "acknowledge", "_selected_action": selected},
        follow=True,
    )
    assert response.status_code == 200
    assert "1 alert(s) acknowledged. 1 skipped" in response.content.decode()
    opened = LowStockAlert.objects.get(pk=three_alerts["open"].pk)
    assert (opened.status, opened.acknowledged_by, opened.acknowledged_at is not None) == (
        "acknowledged",
        warehouse_user,
        True,
    )
    assert LowStockAlert.objects.get(pk=three_alerts["resolved"].pk).status == "resolved"


# --- the ops page --------------------------------------------------------------------------------------


def test_the_ops_page_needs_a_staff_login(client):
    response = client.get("/ops/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/?next=/ops/")


def test_staff_without_an_inventory_role_are_refused(client):
    client.force_login(UserFactory(is_staff=True))
    assert client.get("/ops/").status_code == 403


def test_the_ops_page_lists_the_warehouses_and_loads_its_script(staff_client):
    warehouses = [WarehouseFactory(), WarehouseFactory()]
    response = staff_client.get("/ops/")
    assert response.status_code == 200
    text = response.content.decode()
    for warehouse in warehouses:
        assert f'<option value="{warehouse.pk}">{warehouse.code}' in text
    assert 'data-state="connecting"' in text and "/static/inventory/ops.js" in text
    assert finders.find("inventory/ops.js")
    assert api_for().get("/static/inventory/ops.js").status_code == 200


def test_alert_lists_show_the_live_quantity_and_keep_the_raise_time_one(storefront_api, admin_client):
    item = stocked_item(20, reorder_point=10)
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-14)
    alert = LowStockAlert.objects.get(item=item)
    # Still at or below the point, so the alert stays open while the quantity moves.
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=2)
    services.set_stock_count(
        product_id=item.product_id, warehouse_id=item.warehouse_id, counted_quantity=9, item_settings={}
    )
    row = next(r for r in storefront_api.get(LIST_URL).json()["results"] if r["id"] == alert.pk)
    assert (row["status"], row["current_quantity"], row["quantity_when_raised"]) == ("open", 9, 6)
    page = admin_client.get("/admin/inventory/lowstockalert/").content.decode()
    assert "Available now" in page and "Quantity when raised" in page
    assert '<td class="field-available_now">9</td>' in page
    assert '<td class="field-current_quantity">6</td>' in page
