"""The read-only "Reorder suggestions" admin and its CSV export."""

import csv
import io
from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from forecasting.models import DemandForecast
from forecasting.services import refresh_forecasts
from inventory.services import Movement, apply_movements
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


@pytest.fixture
def suggestions():
    """Four items in two warehouses: sold out, 2 days left, 10 days left, no demand."""
    north, south = WarehouseFactory(code="NORTH"), WarehouseFactory(code="SOUTH")
    items = {
        "calm": stocked_item(200, product=ProductFactory(sku="CALM"), warehouse=north),  # 50 left, 5/day
        "soon": stocked_item(160, product=ProductFactory(sku="SOON"), warehouse=south),  # 10 left, 5/day
        "out": stocked_item(150, product=ProductFactory(sku="OUT"), warehouse=north),  # 0 left, 5/day
        "idle": stocked_item(7, product=ProductFactory(sku="IDLE"), warehouse=south),
    }
    for name in ("calm", "soon", "out"):
        sell_daily(items[name], 5)
    refresh_forecasts()
    return items


def read_csv(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="reorder-suggestions-')
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_the_changelist_lists_the_most_urgent_first_with_an_export_link(admin_client, suggestions):
    response = admin_client.get(CHANGELIST_URL)
    assert response.status_code == 200
    page = response.content.decode()
    assert "Reorder suggestions" in page and "Export CSV" in page and f'href="{EXPORT_URL}?"' in page
    shown = [row.item.product.sku for row in response.context["cl"].result_list]
    assert shown == ["OUT", "SOON", "CALM", "IDLE"]


def test_the_csv_export_puts_the_urgent_items_first(admin_client, suggestions):
    rows = read_csv(admin_client.get(EXPORT_URL))
    assert [(r["sku"], r["warehouse"], r["days_until_stockout"]) for r in rows] == [
        ("OUT", "NORTH", "0.0"),
        ("SOON", "SOUTH", "2.0"),
        ("CALM", "NORTH", "10.0"),
        ("IDLE", "SOUTH", ""),
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
    rows = read_csv(admin_client.get(EXPORT_URL, {"method__exact": "none"}))
    assert [r["sku"] for r in rows] == ["IDLE"]
    rows = read_csv(admin_client.get(EXPORT_URL, {"q": "SOON"}))
    assert [r["sku"] for r in rows] == ["SOON"]


def test_text_a_spreadsheet_would_run_is_neutralised(admin_client):
    stocked_item(5, product=ProductFactory(sku="=HYPERLINK(1)", name="@SUM(A1)"))
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
