"""Writes of the forecasting app: the bulk refresh of stored forecasts."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

from django.db import connection, transaction
from django.utils import timezone

from forecasting import statements
from forecasting.demand import Forecast
from forecasting.models import DemandForecast
from forecasting.selectors import forecast_window, forecasts_for, sales_by_day, start_of_day
from inventory.models import InventoryItem

FORECAST_FIELDS = [f.name for f in fields(Forecast)]
BATCH_SIZE = 1000


def refresh_forecasts(*, as_of: date | None = None) -> int:
    """Recompute and store the forecast of every item; returns the number of rows written.

    On PostgreSQL one statement does it all (``forecasting.statements``). Elsewhere: one ledger
    query for all items, then one upsert (``INSERT … ON CONFLICT (item_id) DO UPDATE``) per batch.
    Rows are written in item order, so two refreshes running at once queue on the same rows
    instead of deadlocking, and each item keeps exactly one row.
    """
    start, days = forecast_window(as_of)
    if connection.vendor == "postgresql":
        until = start + timedelta(days=days)
        return statements.refresh_all(start=start, days=days, since=start_of_day(start), until=start_of_day(until))
    return refresh_in_python(start=start, days=days)


def refresh_in_python(*, start: date, days: int) -> int:
    """The refresh item by item in Python (SQLite, and the reference the statement is tested against)."""
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
