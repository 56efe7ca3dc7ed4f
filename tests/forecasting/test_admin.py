"""The read-only "Reorder suggestions" admin: items with something to order, CSV export, "Refresh now"."""

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from forecasting.models import DemandForecast
from forecasting.services import refresh_forecasts
from inventory.services import Movement, apply_movements, receive_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db

EXPORT_URL = reverse("admin:forecasting_demandforecast_export")
CHANGELIST_URL = reverse("admin:forecasting_demandforecast_changelist")


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def sell_daily(item, units: int, days: int = 30) -> None:
    """``units`` sold on each of the ``days`` complete days before today."""
    today = timezone.localdate()
    for offset in range(days, 0, -1):
        apply_movements(
            [
                Movement(
                    product_id=item.product_id,
                    warehouse_id=item.warehouse_id,
                    quantity_change=-units,
                    transaction_type="sale",
                )
            ],
            occurred_at=timezone.make_aware(datetime.combine(today - timedelta(days=offset), time(12))),
        )


def make_items() -> dict:
    """Five items in two warehouses: sold out, 2 days left, 10 days left, no demand, well stocked."""
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    items = {
        "calm": stocked_item(200, product=ProductFactory(sku="CALM"), warehouse=north),  # 50 left, 5/day
        "soon": stocked_item(160, product=ProductFactory(sku="SOON"), warehouse=south),  # 10 left, 5/day
        "out": stocked_item(150, product=ProductFactory(sku="OUT"), warehouse=north),  # 0 left, 5/day
        "idle": stocked_item(7, product=ProductFactory(sku="IDLE"), warehouse=south),  # nothing to order
        "full": stocked_item(1000, product=ProductFactory(sku="FULL"), warehouse=south),  # 850 left: nothing to order
    }
    for name in ("calm", "soon", "out", "full"):
        sell_daily(items[name], 5)
    return items


@pytest.fixture
def suggestions():
    items = make_items()
    refresh_forecasts()
    return items


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="reorder-suggestions-')
    body = b"".join(response.streaming_content).decode()  # streamed, as the ledger's export is
    return list(csv.DictReader(io.StringIO(body)))


def shown(response) -> list[str]:
    assert response.status_code == 200
    return [row.item.product.sku for row in response.context["cl"].result_list]


def test_the_changelist_lists_the_most_urgent_first_with_an_export_link(admin_client, suggestions):
    response = admin_client.get(CHANGELIST_URL)
    page = response.content.decode()
    assert "Reorder suggestions" in page and "Export CSV" in page and f'href="{EXPORT_URL}?"' in page
    assert "<h1>Items to reorder, most urgent first</h1>" in page and "Forecasts computed " in page
    assert shown(response) == ["OUT", "SOON", "CALM"]


def test_only_items_with_something_to_order_are_listed(admin_client, suggestions):
    assert DemandForecast.objects.get(item=suggestions["full"]).recommended_order_quantity == 0
    assert DemandForecast.objects.get(item=suggestions["idle"]).recommended_order_quantity == 0
    page = admin_client.get(CHANGELIST_URL).content.decode()
    assert "FULL" not in page and "IDLE" not in page
    assert "FULL" not in [r["sku"] for r in read_csv(admin_client.get(EXPORT_URL))]


def test_the_csv_export_puts_the_urgent_items_first(admin_client, suggestions):
    rows = read_csv(admin_client.get(EXPORT_URL))
    assert [(r["sku"], r["warehouse"], r["days_until_stockout"]) for r in rows] == [
        ("OUT", "NORTH", "0.0"),
        ("SOON", "SOUTH", "2.0"),
        ("CALM", "NORTH", "10.0"),
    ]
    out = rows[0]
    assert (out["available_quantity"], out["forecast_daily_demand"], out["recommended_order_quantity"]) == (
        "0",
        "5.0",
        "70",
    )
    assert (out["method"], out["confidence"]) == (
        "moving_average",
        str(DemandForecast.objects.get(item=suggestions["out"]).confidence),
    )


def test_the_csv_export_keeps_the_changelist_filters(admin_client, suggestions):
    north = suggestions["out"].warehouse_id
    rows = read_csv(admin_client.get(EXPORT_URL, {"item__warehouse__id__exact": north}))
    assert [r["sku"] for r in rows] == ["OUT", "CALM"]
    rows = read_csv(admin_client.get(EXPORT_URL, {"item__warehouse__id__exact": suggestions["idle"].warehouse_id}))
    assert [r["sku"] for r in rows] == ["SOON"]
    rows = read_csv(admin_client.get(EXPORT_URL, {"q": "SOON"}))
    assert [r["sku"] for r in rows] == ["SOON"]


def test_text_a_spreadsheet_would_run_is_neutralised(admin_client):
    sell_daily(stocked_item(40, product=ProductFactory(sku="=HYPERLINK(1)", name="@SUM(A1)")), 1)
    refresh_forecasts()
    (row,) = read_csv(admin_client.get(EXPORT_URL))
    assert (row["sku"], row["product"]) == ("'=HYPERLINK(1)", "'@SUM(A1)")


def test_suggestions_are_read_only(admin_client, suggestions):
    forecast = DemandForecast.objects.get(item=suggestions["out"])
    assert admin_client.get(reverse("admin:forecasting_demandforecast_add")).status_code == 403
    assert admin_client.get(reverse("admin:forecasting_demandforecast_delete", args=[forecast.pk])).status_code == 403
    assert (
        admin_client.post(reverse("admin:forecasting_demandforecast_change", args=[forecast.pk]), {}).status_code == 403
    )


def test_warehouse_staff_can_export_and_other_staff_cannot(client, warehouse_user, suggestions):
    client.force_login(warehouse_user)
    assert [r["sku"] for r in read_csv(client.get(EXPORT_URL))][:1] == ["OUT"]
    client.force_login(UserFactory(is_staff=True))
    assert client.get(EXPORT_URL).status_code == 403
    client.logout()
    assert client.get(EXPORT_URL).status_code == 302  # to the admin login


REFRESH_URL = reverse("admin:forecasting_demandforecast_refresh")


def test_a_fresh_install_can_compute_its_suggestions_now(client, warehouse_user):
    make_items()  # stock and sales, but the nightly forecast has not run yet
    client.force_login(warehouse_user)
    before = client.get(CHANGELIST_URL)
    assert shown(before) == []
    page = before.content.decode()
    assert "No forecasts computed yet" in page
    assert f'action="{REFRESH_URL}?"' in page and "Refresh now</button>" in page and "csrfmiddlewaretoken" in page

    response = client.post(REFRESH_URL, follow=True)
    assert response.redirect_chain == [(CHANGELIST_URL, 302)]
    assert [str(m) for m in response.context["messages"]] == [
        "Reorder suggestions refreshed for 5 item(s); 3 have something to order."
    ]
    assert shown(response) == ["OUT", "SOON", "CALM"]
    assert DemandForecast.objects.count() == 5
    assert "Forecasts computed " in response.content.decode()


def test_refresh_now_recomputes_from_the_current_stock_and_keeps_the_filters(admin_client, suggestions):
    soon = suggestions["soon"]
    receive_stock(product_id=soon.product_id, warehouse_id=soon.warehouse_id, quantity=500)
    assert "SOON" in shown(admin_client.get(CHANGELIST_URL))  # stored forecasts are from before the receipt
    query = {"item__warehouse__id__exact": soon.warehouse_id}
    response = admin_client.post(f"{REFRESH_URL}?item__warehouse__id__exact={soon.warehouse_id}")
    assert response.status_code == 302
    assert response["Location"] == f"{CHANGELIST_URL}?item__warehouse__id__exact={soon.warehouse_id}"
    assert shown(admin_client.get(CHANGELIST_URL, query)) == []
    assert shown(admin_client.get(CHANGELIST_URL)) == ["OUT", "CALM"]


def test_refresh_now_is_a_post_with_a_csrf_token(warehouse_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(warehouse_user)
    make_items()
    assert client.get(REFRESH_URL).status_code == 405
    assert client.post(REFRESH_URL).status_code == 403  # no CSRF token
    assert not DemandForecast.objects.exists()
    token = client.get(CHANGELIST_URL).context["csrf_token"]
    assert client.post(REFRESH_URL, {"csrfmiddlewaretoken": token}).status_code == 302
    assert DemandForecast.objects.count() == 5


def test_only_staff_allowed_to_change_forecasts_can_refresh(client):
    make_items()
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_demandforecast"))
    client.force_login(viewer)
    page = client.get(CHANGELIST_URL).content.decode()
    assert "Export CSV" in page and "Refresh now</button>" not in page
    assert client.post(REFRESH_URL).status_code == 403
    client.force_login(UserFactory(is_staff=True))
    assert client.post(REFRESH_URL).status_code == 403
    client.logout()
    assert client.post(REFRESH_URL).status_code == 302  # to the admin login
    assert not DemandForecast.objects.exists()
