"""Forecasts from the real ledger: daily sales, the bulk refresh, product totals, reorder suggestions."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forecasting.models import DemandForecast
from forecasting.selectors import (
    forecast_window,
    item_forecast,
    product_forecast,
    reorder_suggestions,
    sales_by_day,
)
from forecasting.services import refresh_forecasts, refresh_in_python
from forecasting.tasks import refresh_forecasts_task
from inventory.exceptions import NotFound
from inventory.models import InventoryItem
from inventory.selectors import ledger_drift
from inventory.services import Movement, apply_movements, receive_stock
from tests.factories import ProductFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db


def at_noon(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(12)))


def build_history(*plans, days: int = 90) -> None:
    """Receive stock before the window, then book ``daily(day_index)`` units sold on each day.

    Each plan is (item, units received, daily) and the days are the ``days`` complete days before
    today, oldest first; each day is one ``apply_movements`` call for every item.
    """
    today = timezone.localdate()
    first = today - timedelta(days=days)
    for item, received, _ in plans:
        if received:
            receive_stock(
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                quantity=received,
                occurred_at=at_noon(first - timedelta(days=1)),
            )
    for index in range(days):
        movements = [
            Movement(
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                transaction_type="sale",
                quantity_change=-daily(index),
            )
            for item, _, daily in plans
            if daily(index)
        ]
        apply_movements(movements, occurred_at=at_noon(first + timedelta(days=index)))
    for item, _, _ in plans:
        item.refresh_from_db()


def constant(units):
    return lambda _: units


def test_sales_by_day_sums_sale_rows_per_item_and_day_in_one_query():
    item, other = stocked_item(), stocked_item()
    today = timezone.localdate()
    receive_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=100)
    receive_stock(product_id=other.product_id, warehouse_id=other.warehouse_id, quantity=100)
    yesterday = today - timedelta(days=1)
    for change, kind, day in [
        (-3, "sale", yesterday),
        (-4, "sale", yesterday),
        (-2, "sale", today - timedelta(days=3)),
        (-5, "damage", yesterday),  # not a sale
        (-1, "sale", today - timedelta(days=30)),  # before the window asked for
    ]:
        apply_movements(
            [
                Movement(
                    product_id=item.product_id,
                    warehouse_id=item.warehouse_id,
                    quantity_change=change,
                    transaction_type=kind,
                )
            ],
            occurred_at=at_noon(day),
        )
    apply_movements(
        [
            Movement(
                product_id=other.product_id,
                warehouse_id=other.warehouse_id,
                quantity_change=-6,
                transaction_type="sale",
            )
        ],
        occurred_at=at_noon(yesterday),
    )
    since = today - timedelta(days=7)
    with CaptureQueriesContext(connection) as queries:
        sales = sales_by_day(since=since, until=today)
    assert len(queries) == 2  # the item ids, then one aggregate over the ledger
    assert sales == {item.pk: {yesterday: 7, today - timedelta(days=3): 2}, other.pk: {yesterday: 6}}
    assert sales_by_day(since=since, item_ids=[other.pk]) == {other.pk: {yesterday: 6}}
    assert sales_by_day(since=since, warehouse_id=item.warehouse_id) == {
        item.pk: {yesterday: 7, today - timedelta(days=3): 2}
    }
    assert sales_by_day(since=today) == {}


def test_refresh_stores_one_forecast_per_item_and_twice_keeps_one():
    steady = stocked_item(max_stock_level=1000)
    idle = stocked_item(40)
    build_history((steady, 1000, constant(5)))
    assert steady.available_quantity == 550

    assert refresh_forecasts() == 2
    stored = {f.item_id: f for f in DemandForecast.objects.all()}
    assert set(stored) == {steady.pk, idle.pk}
    row = stored[steady.pk]
    assert (row.method, row.average_daily_demand, row.forecast_daily_demand) == ("moving_average", 5, 5)
    assert (row.days_until_stockout, row.recommended_order_quantity, row.confidence) == (110.0, 0, 1.0)
    assert (row.lookback_days, row.zero_day_share, row.demand_std, row.safety_stock) == (90, 0, 0, 0)
    assert (stored[idle.pk].method, stored[idle.pk].days_until_stockout, stored[idle.pk].confidence) == (
        "none",
        None,
        0,
    )
    first_run = row.computed_at

    assert refresh_forecasts() == 2
    assert DemandForecast.objects.count() == 2
    again = DemandForecast.objects.get(item=steady)
    assert again.pk == row.pk and again.computed_at > first_run
    assert again.forecast_daily_demand == 5
    assert ledger_drift() == []


def test_refresh_runs_a_fixed_number_of_queries_whatever_the_number_of_items():
    for _ in range(2):
        stocked_item(10)
    with CaptureQueriesContext(connection) as few:
        refresh_forecasts()
    for _ in range(6):
        stocked_item(10)
    with CaptureQueriesContext(connection) as many:
        assert refresh_forecasts() == 8
    assert len(many) == len(few)


def test_refresh_follows_stock_changes():
    item = stocked_item()
    build_history((item, 100, constant(2)), days=30)
    refresh_forecasts()
    assert DemandForecast.objects.get(item=item).days_until_stockout == 20.0
    receive_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=60)
    refresh_forecasts()
    assert DemandForecast.objects.get(item=item).days_until_stockout == 50.0


def test_deleting_an_item_deletes_its_forecast():
    item = stocked_item()
    refresh_forecasts()
    InventoryItem.objects.filter(pk=item.pk).delete()
    assert not DemandForecast.objects.exists()


def test_the_celery_task_refreshes_every_item():
    stocked_item(5), stocked_item(5)
    assert refresh_forecasts_task.apply().get() == 2
    assert DemandForecast.objects.count() == 2


def test_product_forecast_sums_across_warehouses():
    product = ProductFactory()
    north = stocked_item(product=product, warehouse=WarehouseFactory(), max_stock_level=300)
    south = stocked_item(product=product, warehouse=WarehouseFactory(), max_stock_level=200)
    elsewhere = stocked_item(max_stock_level=100)
    build_history((north, 500, constant(3)), (south, 400, constant(2)), (elsewhere, 900, constant(9)))
    assert (north.available_quantity, south.available_quantity) == (230, 220)

    whole = product_forecast(product.pk)
    assert (whole.method, whole.average_daily_demand, whole.forecast_daily_demand) == ("moving_average", 5, 5)
    assert whole.days_until_stockout == 450 / 5
    # Order up to 5/day * 14 days = 70; 450 on hand against a summed maximum of 500.
    assert whole.recommended_order_quantity == 0

    assert product_forecast(product.pk, south.warehouse_id).forecast_daily_demand == 2
    assert product_forecast(product.pk, south.warehouse_id).days_until_stockout == 110.0
    assert item_forecast(north).forecast_daily_demand == 3
    assert item_forecast(north).days_until_stockout == round(230 / 3, 1)

    with pytest.raises(NotFound):
        product_forecast(ProductFactory().pk)
    with pytest.raises(NotFound):
        product_forecast(product.pk, elsewhere.warehouse_id)


def test_reorder_suggestions_are_the_items_running_out_within_the_lead_time_most_urgent_first():
    warehouse = WarehouseFactory()
    soon = stocked_item(warehouse=warehouse)  # 460 - 450 sold = 10 left at 5/day: 2 days
    later = stocked_item(warehouse=warehouse)  # 30 left at 5/day: 6 days
    out = stocked_item(warehouse=warehouse)  # sold out: 0 days
    calm = stocked_item(warehouse=warehouse)  # 500 left: 100 days
    idle = stocked_item(20, warehouse=warehouse)  # no demand
    build_history(
        (soon, 460, constant(5)), (later, 480, constant(5)), (out, 450, constant(5)), (calm, 950, constant(5))
    )
    refresh_forecasts()
    suggestions = list(reorder_suggestions())
    assert [s.item_id for s in suggestions] == [out.pk, soon.pk, later.pk]
    assert [s.days_until_stockout for s in suggestions] == [0.0, 2.0, 6.0]
    assert suggestions[0].recommended_order_quantity == 70
    assert list(reorder_suggestions(warehouse_id=WarehouseFactory().pk)) == []
    assert idle.pk not in {s.item_id for s in suggestions} and calm.pk not in {s.item_id for s in suggestions}


@pytest.mark.django_db(transaction=True)
def test_two_refreshes_at_once_leave_one_row_per_item():
    items = [stocked_item(10) for _ in range(30)]
    barrier = threading.Barrier(2)

    def refresh(_):
        try:
            barrier.wait()
            return refresh_forecasts()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(refresh, range(2))) == [30, 30]
    assert DemandForecast.objects.count() == 30
    assert set(DemandForecast.objects.values_list("item_id", flat=True)) == {i.pk for i in items}


def test_the_one_statement_refresh_stores_what_the_python_forecast_computes():
    """PostgreSQL's one-statement refresh against ``forecasting.demand`` (the reference) on varied demand."""
    rng = random.Random(13)
    patterns = [
        constant(4),  # steady: moving average
        lambda day: 3 if day % 4 == 0 else 0,  # intermittent: Croston
        lambda day: 6 if day >= 70 else 0,  # demand starting late: short active history
        lambda day: 9 if day < 20 else 0,  # demand that stopped: no sale in the last 28 days
        lambda day: rng.choice([0, 0, 1, 2, 7]),  # erratic
        lambda day: 1 if day in (0, 89) else 0,  # two sales, far apart
        lambda day: 0,  # no demand
    ]
    plans = []
    for index, daily in enumerate(patterns * 3):
        sold = [daily(day) for day in range(90)]
        item = stocked_item(max_stock_level=[1000, 40, 5][index // len(patterns)])
        # Some items sell out exactly (available 0), some keep a little, some a lot.
        plans.append((item, sum(sold) + [0, 3, 400][index % 3], lambda day, sold=sold: sold[day]))
    build_history(*plans)
    start, days = forecast_window()

    with CaptureQueriesContext(connection) as queries:
        assert refresh_forecasts() == len(plans)
    assert len(queries) == 1
    from_sql = {row["item_id"]: row for row in DemandForecast.objects.values()}
    assert refresh_in_python(start=start, days=days) == len(plans)
    from_python = {row["item_id"]: row for row in DemandForecast.objects.values()}

    assert {row["method"] for row in from_python.values()} == {"none", "moving_average", "croston_sba"}
    for item_id, expected in from_python.items():
        got = from_sql[item_id]
        for field in ("id", "computed_at"):
            got.pop(field), expected.pop(field)
        assert got == pytest.approx(expected, abs=1e-9), item_id
