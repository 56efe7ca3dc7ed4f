"""The forecast endpoint: stored nightly results where they exist, live otherwise."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from forecasting.services import refresh_forecasts
from inventory.services import Movement, apply_movements
from tests.factories import ProductFactory, stocked_item

pytestmark = pytest.mark.django_db


def _sell_daily(item, units: int, days: int = 90) -> None:
    today = timezone.localdate()
    for offset in range(days, 0, -1):
        when = timezone.make_aware(datetime.combine(today - timedelta(days=offset), time(12)))
        apply_movements(
            [
                Movement(
                    product_id=item.product_id,
                    warehouse_id=item.warehouse_id,
                    quantity_change=-units,
                    transaction_type="sale",
                )
            ],
            occurred_at=when,
        )


def test_forecast_for_one_warehouse_reads_the_stored_result(warehouse_api):
    item = stocked_item(1000)
    _sell_daily(item, 5)
    live = warehouse_api.get(f"/api/v1/inventory/{item.product_id}/forecast?warehouse_id={item.warehouse_id}").json()
    assert live["source"] == "live" and live["computed_at"] is None
    assert live["average_daily_demand"] == pytest.approx(5)
    assert live["days_until_stockout"] == pytest.approx(550 / 5, abs=0.1)
    refresh_forecasts()
    stored = warehouse_api.get(f"/api/v1/inventory/{item.product_id}/forecast?warehouse_id={item.warehouse_id}").json()
    assert stored["source"] == "stored" and stored["computed_at"]
    assert stored["method"] == "moving_average" and stored["forecast_daily_demand"] == pytest.approx(5)
    assert stored["recommended_order_quantity"] >= 0


def test_product_forecast_sums_warehouses(warehouse_api):
    product = ProductFactory()
    a = stocked_item(500, product=product)
    b = stocked_item(500, product=product)
    _sell_daily(a, 2, days=30)
    _sell_daily(b, 3, days=30)
    refresh_forecasts()
    body = warehouse_api.get(f"/api/v1/inventory/{product.pk}/forecast").json()
    assert body["warehouse_id"] is None and body["sku"] == product.sku
    assert body["forecast_daily_demand"] == pytest.approx(5)
    assert {i["warehouse_id"] for i in body["items"]} == {a.warehouse_id, b.warehouse_id}
    assert all(i["source"] == "stored" for i in body["items"])


def test_forecast_errors(warehouse_api, storefront_api):
    assert warehouse_api.get("/api/v1/inventory/999999/forecast").status_code == 404
    product = ProductFactory()
    response = warehouse_api.get(f"/api/v1/inventory/{product.pk}/forecast")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert warehouse_api.get(f"/api/v1/inventory/{product.pk}/forecast?warehouse_id=x").status_code == 400
    assert storefront_api.get(f"/api/v1/inventory/{product.pk}/forecast").status_code == 403
