"""Writes of the forecasting app: the bulk refresh of stored forecasts."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone

from forecasting.demand import Forecast
from forecasting.models import DemandForecast
from forecasting.selectors import forecast_window, forecasts_for, sales_by_day
from inventory.models import InventoryItem

FORECAST_FIELDS = [f.name for f in fields(Forecast)]
BATCH_SIZE = 1000


def refresh_forecasts(*, as_of: date | None = None) -> int:
    """Recompute and store the forecast of every item; returns the number of rows written.

    One ledger query for all items, then one upsert (``INSERT … ON CONFLICT (item_id) DO UPDATE``)
    per batch. Rows are written in item order, so two refreshes running at once queue on the
    same rows instead of deadlocking, and each item keeps exactly one row.
    """
    start, days = forecast_window(as_of)
    items = list(
        InventoryItem.objects.order_by("pk").only("pk", "available_quantity", "total_quantity", "max_stock_level")
    )
    if not items:
        return 0
    sales = sales_by_day(since=start, until=start + timedelta(days=days))
    computed = forecasts_for(items, sales, start, days)
    now = timezone.now()
    rows = [DemandForecast(item_id=item.pk, computed_at=now, **computed[item.pk].as_dict()) for item in items]
    with transaction.atomic():
        DemandForecast.objects.bulk_create(
            rows,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=["item"],
            update_fields=[*FORECAST_FIELDS, "computed_at"],
        )
    return len(rows)
