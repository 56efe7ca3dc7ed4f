"""Reads for forecasting: daily sales from the ledger, live forecasts, stored reorder suggestions.

The forecast window is the ``FORECASTING_LOOKBACK_DAYS`` complete days before ``as_of`` (today by
default, in the current time zone): today's partial sales are left out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import F, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from forecasting.demand import Forecast, daily_series, forecast
from forecasting.models import DemandForecast
from inventory.exceptions import NotFound
from inventory.models import InventoryItem, InventoryTransaction, TransactionType

ItemSales = dict[int, dict[date, int]]  # item id -> day -> units sold


def forecast_window(as_of: date | None = None) -> tuple[date, int]:
    """(first day, number of days) of the lookback window ending the day before ``as_of``."""
    as_of = as_of or timezone.localdate()
    days = settings.FORECASTING_LOOKBACK_DAYS
    return as_of - timedelta(days=days), days


def start_of_day(day: date) -> datetime:
    """Midnight at the start of ``day`` in the current time zone."""
    return timezone.make_aware(datetime.combine(day, time.min))


def sales_by_day(
    *,
    since: date,
    until: date | None = None,
    item_ids: Iterable[int] | None = None,
    product_id: int | None = None,
    warehouse_id: int | None = None,
) -> ItemSales:
    """Units sold per item per day in ``[since, until)``, from the ledger's ``sale`` rows.

    One aggregate query over the ledger (plus one for the item ids); items without sales are absent.
    With no filter, every item is included.
    """
    items = InventoryItem.objects.all()
    ledger = InventoryTransaction.objects.filter(
        transaction_type=TransactionType.SALE, created_at__gte=start_of_day(since)
    )
    if until is not None:
        ledger = ledger.filter(created_at__lt=start_of_day(until))
    if item_ids is not None:
        items = items.filter(pk__in=list(item_ids))
    if product_id is not None:
        items = items.filter(product_id=product_id)
        ledger = ledger.filter(product_id=product_id)
    if warehouse_id is not None:
        items = items.filter(warehouse_id=warehouse_id)
        ledger = ledger.filter(warehouse_id=warehouse_id)
    keys = {(p, w): pk for pk, p, w in items.values_list("pk", "product_id", "warehouse_id")}
    if not keys:
        return {}
    if item_ids is not None:
        # A superset of the wanted pairs; rows of other items are dropped below.
        ledger = ledger.filter(product_id__in={p for p, _ in keys}, warehouse_id__in={w for _, w in keys})
    rows = (
        ledger.annotate(day=TruncDate("created_at"))
        .order_by()
        .values("product_id", "warehouse_id", "day")
        .annotate(units=Sum(-F("quantity_change")))
        .values_list("product_id", "warehouse_id", "day", "units")
    )
    sales: ItemSales = defaultdict(dict)
    for product, warehouse, day, units in rows:
        item_id = keys.get((product, warehouse))
        if item_id is not None and units > 0:
            sales[item_id][day] = units
    return dict(sales)


def _forecast(series: list[int], *, available: int, total: int, max_stock_level: int) -> Forecast:
    return forecast(
        series,
        available=available,
        total=total,
        max_stock_level=max_stock_level,
        lead_time_days=settings.REORDER_LEAD_TIME_DAYS,
        review_days=settings.REORDER_REVIEW_DAYS,
        service_level=settings.REORDER_SERVICE_LEVEL,
    )


def forecasts_for(items: Iterable[InventoryItem], sales: ItemSales, start: date, days: int) -> dict[int, Forecast]:
    """The forecast of every item (by id) from already-fetched sales."""
    return {
        item.pk: _forecast(
            daily_series(sales.get(item.pk, {}), start, days),
            available=item.available_quantity,
            total=item.total_quantity,
            max_stock_level=item.max_stock_level,
        )
        for item in items
    }


def item_forecast(item: InventoryItem, *, as_of: date | None = None) -> Forecast:
    """The live forecast of one item, from its ledger."""
    start, days = forecast_window(as_of)
    sales = sales_by_day(since=start, until=start + timedelta(days=days), item_ids=[item.pk])
    return forecasts_for([item], sales, start, days)[item.pk]


def product_forecast(product_id: int, warehouse_id: int | None = None, *, as_of: date | None = None) -> Forecast:
    """The live forecast of a product across its warehouses (or in one): series and stock are summed.

    Raises ``NotFound`` when the product has no stock record (in that warehouse).
    """
    items = InventoryItem.objects.filter(product_id=product_id)
    if warehouse_id is not None:
        items = items.filter(warehouse_id=warehouse_id)
    stock = list(items.values_list("available_quantity", "total_quantity", "max_stock_level"))
    if not stock:
        raise NotFound(
            f"Product {product_id} has no stock record"
            + (f" in warehouse {warehouse_id}." if warehouse_id is not None else "."),
            product_id=product_id,
            warehouse_id=warehouse_id,
        )
    start, days = forecast_window(as_of)
    sales = sales_by_day(
        since=start, until=start + timedelta(days=days), product_id=product_id, warehouse_id=warehouse_id
    )
    combined: dict[date, int] = defaultdict(int)
    for by_day in sales.values():
        for day, units in by_day.items():
            combined[day] += units
    return _forecast(
        daily_series(combined, start, days),
        available=sum(s[0] for s in stock),
        total=sum(s[1] for s in stock),
        max_stock_level=sum(s[2] for s in stock),
    )


def reorder_suggestions(*, warehouse_id: int | None = None) -> QuerySet[DemandForecast]:
    """Stored forecasts of items that run out within the lead time (or are out with demand), most urgent first."""
    urgent = Q(days_until_stockout__isnull=False, days_until_stockout__lt=settings.REORDER_LEAD_TIME_DAYS) | Q(
        item__available_quantity=0, forecast_daily_demand__gt=0
    )
    suggestions = DemandForecast.objects.filter(urgent).select_related("item__product", "item__warehouse")
    if warehouse_id is not None:
        suggestions = suggestions.filter(item__warehouse_id=warehouse_id)
    return suggestions.order_by("days_until_stockout", "-forecast_daily_demand", "item_id")
