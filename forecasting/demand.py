"""Demand forecasting and reorder quantities: pure functions over a daily sales series (no ORM).

A series holds units sold per day, oldest first, one entry per day of the lookback window.
Days before the first sale in the window count as "no history", not as zero demand: the method
choice, the moving average, the standard deviation and the variability all look only at the
active history (first sale to the end of the window). ``average_daily_demand`` is the plain
mean over the whole window.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Literal

Method = Literal["none", "moving_average", "croston_sba"]

INTERMITTENT_ZERO_SHARE = 0.3  # at or above this share of zero-demand days, demand is intermittent
MOVING_AVERAGE_DAYS = 28
CROSTON_ALPHA = 0.1


@dataclass(frozen=True)
class Forecast:
    """The demand estimate of one item (or product) and what to order to cover it."""

    average_daily_demand: float
    forecast_daily_demand: float
    demand_std: float
    method: Method
    days_until_stockout: float | None
    recommended_order_quantity: int
    safety_stock: float
    confidence: float
    lookback_days: int
    zero_day_share: float

    def as_dict(self) -> dict[str, Any]:
        """The fields as a JSON-able dict."""
        return asdict(self)


def daily_series(sales: dict[date, int], start: date, days: int) -> list[int]:
    """Units sold on each of ``days`` days from ``start`` (inclusive); days with no sales are zero."""
    return [sales.get(start + timedelta(days=offset), 0) for offset in range(days)]


def croston_sba(series: list[int], alpha: float = CROSTON_ALPHA) -> float:
    """Croston's estimate of daily demand with the Syntetos–Boylan bias correction; 0 without demand."""
    size: float | None = None
    interval = 0.0
    periods = 0
    for demand in series:
        periods += 1
        if demand > 0:
            if size is None:  # initialise with the first demand and the first interval
                size, interval = float(demand), float(periods)
            else:
                size += alpha * (demand - size)
                interval += alpha * (periods - interval)
            periods = 0
    if size is None:
        return 0.0
    return (1 - alpha / 2) * size / interval


def moving_average(series: list[int], days: int = MOVING_AVERAGE_DAYS) -> float:
    """Mean of the last ``days`` entries (all of them when the series is shorter); 0 when empty."""
    window = series[-days:]
    return sum(window) / len(window) if window else 0.0


def confidence_score(active: list[int], lookback_days: int) -> float:
    """How far to trust a forecast, in [0, 1]: ``history * variability``.

    ``history = min(1, days since the first sale / lookback_days)`` rewards a full window of data;
    ``variability = 1 / (1 + cv)`` with ``cv = pstdev / mean`` of the active history rewards steady
    demand (1 for a constant series, towards 0 for erratic or sparse demand). 0 without any sale.
    """
    if not active or lookback_days <= 0:
        return 0.0
    mean = statistics.fmean(active)
    if mean <= 0:
        return 0.0
    history = min(1.0, len(active) / lookback_days)
    cv = statistics.pstdev(active) / mean
    return round(max(0.0, min(1.0, history / (1 + cv))), 4)


def order_quantity(
    *, daily_demand: float, demand_std: float, total: int, max_stock_level: int, cover_days: int, z: float
) -> tuple[int, float]:
    """(units to order, safety stock) to reach the order-up-to level, capped at ``max_stock_level``."""
    safety_stock = max(0.0, z * demand_std * math.sqrt(cover_days))
    order_up_to = daily_demand * cover_days + safety_stock
    # Rounded before ceil so float noise (70.0000000001) does not order a phantom unit.
    wanted = max(0, math.ceil(round(order_up_to - total, 6)))
    room = max(0, max_stock_level - total)
    return min(wanted, room), safety_stock


def forecast(
    series: list[int],
    *,
    available: int,
    total: int,
    max_stock_level: int,
    lead_time_days: int,
    review_days: int,
    service_level: float,
) -> Forecast:
    """Forecast daily demand from ``series`` and the quantity to order now (periodic review, order-up-to)."""
    if any(units < 0 for units in series):
        raise ValueError("sales series must not contain negative values")
    if lead_time_days < 0 or review_days < 0:
        raise ValueError("lead_time_days and review_days must not be negative")
    if not 0 < service_level < 1:
        raise ValueError("service_level must be strictly between 0 and 1")

    lookback = len(series)
    first_sale = next((index for index, units in enumerate(series) if units > 0), None)
    if first_sale is None:
        return Forecast(
            average_daily_demand=0.0,
            forecast_daily_demand=0.0,
            demand_std=0.0,
            method="none",
            days_until_stockout=None,
            recommended_order_quantity=0,
            safety_stock=0.0,
            confidence=0.0,
            lookback_days=lookback,
            zero_day_share=1.0,
        )

    active = series[first_sale:]
    zero_share = sum(1 for units in active if units == 0) / len(active)
    method: Method
    if zero_share >= INTERMITTENT_ZERO_SHARE:
        method = "croston_sba"
        # The whole window, so the first interval counts the days before the first demand.
        estimate = croston_sba(series)
    else:
        method = "moving_average"
        estimate = moving_average(active)
    demand_std = statistics.pstdev(active)

    z = statistics.NormalDist().inv_cdf(service_level)
    quantity, safety_stock = order_quantity(
        daily_demand=estimate,
        demand_std=demand_std,
        total=total,
        max_stock_level=max_stock_level,
        cover_days=lead_time_days + review_days,
        z=z,
    )
    return Forecast(
        average_daily_demand=round(sum(series) / lookback, 4),
        forecast_daily_demand=round(estimate, 4),
        demand_std=round(demand_std, 4),
        method=method,
        days_until_stockout=round(max(0, available) / estimate, 1) if estimate > 0 else None,
        recommended_order_quantity=quantity,
        safety_stock=round(safety_stock, 2),
        confidence=confidence_score(active, lookback),
        lookback_days=lookback,
        zero_day_share=round(zero_share, 4),
    )
