"""The forecast refresh as one PostgreSQL statement: sales, forecast and upsert of every item.

``forecasting.demand`` is the reference: this statement computes the same fields from the same
window (``forecasting.selectors.forecast_window``), so the stored suggestions match the live
forecast of the API. Croston's recursion has a closed form: after ``k`` demands, the smoothed
size is ``(1-a)^(k-1)·d1 + Σ_{j≥2} a·(1-a)^(k-j)·dj`` (the same weights for the intervals), which
is one weighted sum per item, so no row of the ledger or of the items passes through Python.
Rounding uses float8 ``round`` (ties to even, as Python's ``round``); sums of units are exact
(numeric), so the standard deviation is not subject to cancellation.

On SQLite (the embedded default) ``forecasting.services`` keeps the Python path.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from forecasting.demand import CROSTON_ALPHA, INTERMITTENT_ZERO_SHARE, MOVING_AVERAGE_DAYS
from forecasting.models import DemandForecast
from inventory.models import InventoryItem, InventoryTransaction, TransactionType

_FORECASTS = DemandForecast._meta.db_table
_ITEMS = InventoryItem._meta.db_table
_LEDGER = InventoryTransaction._meta.db_table


def _rounded(expression: str, digits: int) -> str:
    # Python's round(x, n) on a float: to nearest, ties to even (float8 round() is rint()).
    return f"(round(({expression}) * 1e{digits}) / 1e{digits})"


# forecasting.demand.confidence_score: history / (1 + coefficient of variation), within [0, 1]
# (only for items with sales: greatest() and least() ignore NULLs).
_CONFIDENCE = "greatest(0, least(1, least(1, p.n::float8 / %(days)s) / (1 + p.std / (p.units::float8 / p.n))))"

_REFRESH = f"""
WITH daily AS (
    -- per product, warehouse and day first: a busy item has many sale rows a day
    SELECT t.product_id, t.warehouse_id, (t.created_at AT TIME ZONE %(tz)s)::date - %(start)s::date AS idx,
           sum(-t.quantity_change)::numeric AS units
    FROM {_LEDGER} t
    WHERE t.transaction_type = %(sale)s AND t.created_at >= %(since)s AND t.created_at < %(until)s
    GROUP BY 1, 2, 3
    HAVING sum(-t.quantity_change) > 0
),
sales AS (
    SELECT i.id AS item_id, d.idx, d.units
    FROM daily d JOIN {_ITEMS} i ON i.product_id = d.product_id AND i.warehouse_id = d.warehouse_id
),
numbered AS (
    SELECT item_id, idx, units,
           row_number() OVER by_day AS j,
           count(*) OVER (PARTITION BY item_id) AS k,
           -- Croston's interval: days since the previous demand (the first counts from the window start).
           idx - lag(idx, 1, -1) OVER by_day AS gap
    FROM sales
    WINDOW by_day AS (PARTITION BY item_id ORDER BY idx)
),
weighted AS (
    SELECT *, CASE WHEN j = 1 THEN power(1 - %(alpha)s::float8, k - 1)
                   ELSE %(alpha)s::float8 * power(1 - %(alpha)s::float8, k - j) END AS weight
    FROM numbered
),
per_item AS (
    SELECT item_id, min(idx) AS first_idx, max(k) AS k, sum(units) AS units, sum(units * units) AS squares,
           sum(units) FILTER (WHERE idx >= %(days)s - %(ma_days)s) AS recent,
           sum(units::float8 * weight) AS size, sum(gap * weight) AS gap
    FROM weighted GROUP BY item_id
),
active AS (
    SELECT p.*, %(days)s - p.first_idx AS n,
           ((%(days)s - p.first_idx - p.k)::float8 / (%(days)s - p.first_idx)) AS zero_share,
           sqrt(((%(days)s - p.first_idx) * p.squares - p.units * p.units)
                / ((%(days)s - p.first_idx) * (%(days)s - p.first_idx)))::float8 AS std
    FROM per_item p
),
estimated AS (
    SELECT a.*,
           CASE WHEN a.zero_share >= %(intermittent)s THEN 'croston_sba' ELSE 'moving_average' END AS method,
           CASE WHEN a.zero_share >= %(intermittent)s THEN (1 - %(alpha)s::float8 / 2) * a.size / a.gap
                ELSE coalesce(a.recent, 0)::float8 / least(%(ma_days)s, a.n) END AS estimate
    FROM active a
),
planned AS (
    SELECT i.id AS target_id, i.available_quantity AS available, i.total_quantity AS total,
           i.max_stock_level, e.*,
           greatest(0, %(z)s * e.std * sqrt(%(cover)s::float8)) AS safety
    FROM {_ITEMS} i LEFT JOIN estimated e ON e.item_id = i.id
)
INSERT INTO {_FORECASTS} (
    item_id, average_daily_demand, forecast_daily_demand, demand_std, method, days_until_stockout,
    recommended_order_quantity, safety_stock, confidence, lookback_days, zero_day_share, computed_at
)
SELECT p.target_id,
       coalesce({_rounded("p.units::float8 / %(days)s", 4)}, 0),
       coalesce({_rounded("p.estimate", 4)}, 0),
       coalesce({_rounded("p.std", 4)}, 0),
       coalesce(p.method, 'none'),
       CASE WHEN p.estimate > 0 THEN {_rounded("greatest(0, p.available) / p.estimate", 1)} END,
       coalesce(least(
           greatest(0, ceil({_rounded("p.estimate * %(cover)s + p.safety - p.total", 6)})),
           greatest(0, p.max_stock_level - p.total)
       ), 0),
       coalesce({_rounded("p.safety", 2)}, 0),
       CASE WHEN p.units > 0 THEN {_rounded(_CONFIDENCE, 4)} ELSE 0 END,
       %(days)s,
       coalesce({_rounded("p.zero_share", 4)}, 1),
       %(now)s
FROM planned p
ORDER BY p.target_id  -- rows in item order: two refreshes at once queue instead of deadlocking
ON CONFLICT (item_id) DO UPDATE SET
    average_daily_demand = EXCLUDED.average_daily_demand,
    forecast_daily_demand = EXCLUDED.forecast_daily_demand,
    demand_std = EXCLUDED.demand_std,
    method = EXCLUDED.method,
    days_until_stockout = EXCLUDED.days_until_stockout,
    recommended_order_quantity = EXCLUDED.recommended_order_quantity,
    safety_stock = EXCLUDED.safety_stock,
    confidence = EXCLUDED.confidence,
    lookback_days = EXCLUDED.lookback_days,
    zero_day_share = EXCLUDED.zero_day_share,
    computed_at = EXCLUDED.computed_at
"""


def refresh_all(*, start: date, days: int, since: datetime, until: datetime) -> int:
    """Recompute and upsert every item's forecast in one statement; returns the number of rows written."""
    params = {
        "tz": timezone.get_current_timezone_name(),
        "start": start,
        "days": days,
        "since": since,
        "until": until,
        "sale": TransactionType.SALE.value,
        "alpha": CROSTON_ALPHA,
        "ma_days": MOVING_AVERAGE_DAYS,
        "intermittent": INTERMITTENT_ZERO_SHARE,
        "z": statistics.NormalDist().inv_cdf(settings.REORDER_SERVICE_LEVEL),
        "cover": settings.REORDER_LEAD_TIME_DAYS + settings.REORDER_REVIEW_DAYS,
        "now": timezone.now(),
    }
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH, params)
        return cursor.rowcount
