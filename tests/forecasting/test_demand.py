"""The forecasting maths on plain lists: methods, stock-out days, order quantities, confidence."""

import math
import random
import statistics
from datetime import date

import pytest

from forecasting.demand import croston_sba, daily_series, forecast

POLICY = {"lead_time_days": 7, "review_days": 7, "service_level": 0.95}


def _forecast(series, *, available=100, total=100, max_stock_level=1000, **policy):
    return forecast(series, available=available, total=total, max_stock_level=max_stock_level, **{**POLICY, **policy})


def poisson(rng: random.Random, lam: float) -> int:
    """Knuth's sampler: count uniforms until their product drops below e^-lam."""
    limit, k, product = math.exp(-lam), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def test_daily_series_fills_days_without_sales_with_zero():
    sales = {date(2026, 3, 1): 4, date(2026, 3, 3): 2, date(2026, 2, 28): 9, date(2026, 3, 5): 1}
    assert daily_series(sales, date(2026, 3, 1), 4) == [4, 0, 2, 0]
    assert daily_series({}, date(2026, 3, 1), 3) == [0, 0, 0]
    assert daily_series(sales, date(2026, 3, 1), 0) == []


def test_constant_demand_uses_the_moving_average():
    result = _forecast([5] * 90, available=120, total=130)
    assert result.average_daily_demand == 5
    assert result.forecast_daily_demand == 5
    assert result.method == "moving_average"
    assert result.days_until_stockout == 120 / 5
    assert result.demand_std == 0
    assert result.safety_stock == 0
    assert result.zero_day_share == 0
    assert result.lookback_days == 90
    assert result.confidence == 1
    # Order up to 5/day * (7 + 7) days = 70 units; 130 on hand already cover it.
    assert result.recommended_order_quantity == 0
    assert _forecast([5] * 90, available=20, total=30).recommended_order_quantity == 40


def test_moving_average_looks_at_the_last_28_days():
    result = _forecast([1] * 62 + [8] * 28)
    assert result.method == "moving_average"
    assert result.forecast_daily_demand == 8
    assert result.average_daily_demand == round((62 + 8 * 28) / 90, 4)


def test_poisson_demand_is_estimated_within_ten_percent():
    rng = random.Random(7)
    series = [poisson(rng, 3.0) for _ in range(90)]
    result = _forecast(series)
    assert result.method == "moving_average"
    assert abs(result.forecast_daily_demand - 3.0) <= 0.1 * 3.0
    assert result.demand_std > 0 and result.safety_stock > 0


def test_intermittent_demand_uses_croston_sba():
    series = [10 if day % 5 == 4 else 0 for day in range(90)]  # 10 units every 5th day
    result = _forecast(series, available=19)
    assert result.method == "croston_sba"
    assert abs(result.forecast_daily_demand - 2.0) <= 0.1 * 2.0
    # Croston: size 10 every 5 days; the SBA correction takes alpha/2 = 5 % off.
    assert result.forecast_daily_demand == 1.9
    assert result.days_until_stockout == 10.0
    assert result.average_daily_demand == 2
    assert result.zero_day_share == round(68 / 86, 4)  # counted from the first sale on


def test_croston_sba_smooths_size_and_interval():
    assert croston_sba([0, 0, 0]) == 0
    assert croston_sba([0, 4]) == pytest.approx(0.95 * 4 / 2)
    # Second demand of 14 after 3 days: size 4 + 0.1 * 10 = 5, interval 2 + 0.1 * 1 = 2.1.
    assert croston_sba([0, 4, 0, 0, 14]) == pytest.approx(0.95 * 5 / 2.1)


def test_the_threshold_between_smooth_and_intermittent_is_thirty_percent_zero_days():
    smooth = [3] * 8 + [0] * 2 + [3] * 8 + [0] * 2  # 4 zero days of 20 = 20 %
    assert _forecast(smooth).method == "moving_average"
    intermittent = [3, 3, 3, 3, 3, 3, 3, 0, 0, 0]  # 3 of 10 = 30 %
    assert _forecast(intermittent).method == "croston_sba"


@pytest.mark.parametrize("series", [[0] * 90, []])
def test_no_history_means_no_forecast_and_no_order(series):
    result = _forecast(series, available=0, total=0)
    assert result.method == "none"
    assert result.confidence == 0
    assert result.days_until_stockout is None
    assert result.recommended_order_quantity == 0
    assert result.forecast_daily_demand == 0
    assert result.average_daily_demand == 0
    assert result.lookback_days == len(series)


def test_out_of_stock_with_demand_runs_out_today():
    result = _forecast([4] * 30, available=0, total=0)
    assert result.days_until_stockout == 0
    assert result.recommended_order_quantity == 56


@pytest.mark.parametrize(
    ("total", "max_stock_level", "expected"),
    [
        (0, 1000, 140),  # the full order-up-to level of 10/day * 14 days
        (0, 100, 100),  # capped at the maximum stock level
        (60, 100, 40),  # capped at the room that is left
        (100, 100, 0),  # full
        (150, 100, 0),  # above the maximum: never negative
        (200, 1000, 0),  # covered
    ],
)
def test_recommended_quantity_never_exceeds_the_room_below_max_stock(total, max_stock_level, expected):
    result = _forecast([10] * 60, available=total, total=total, max_stock_level=max_stock_level)
    assert result.recommended_order_quantity == expected


def test_recommended_quantity_stays_within_bounds_for_many_cases():
    rng = random.Random(11)
    for _ in range(300):
        series = [poisson(rng, rng.choice([0.2, 1.0, 5.0, 40.0])) for _ in range(rng.randint(1, 120))]
        total = rng.randint(0, 400)
        max_stock_level = rng.randint(0, 400)
        result = _forecast(
            series,
            available=rng.randint(0, total),
            total=total,
            max_stock_level=max_stock_level,
            service_level=rng.choice([0.5, 0.9, 0.99]),
        )
        assert 0 <= result.recommended_order_quantity <= max(0, max_stock_level - total)
        assert 0 <= result.confidence <= 1


def test_safety_stock_follows_the_service_level():
    series = [2, 8] * 30  # std 3
    low, high = _forecast(series, total=0, service_level=0.5), _forecast(series, total=0, service_level=0.99)
    z = statistics.NormalDist().inv_cdf(0.99)
    assert low.safety_stock == 0
    assert high.safety_stock == round(z * 3 * math.sqrt(14), 2)
    assert low.recommended_order_quantity == 70  # 5/day * 14 days
    assert high.recommended_order_quantity == math.ceil(70 + z * 3 * math.sqrt(14))


def test_confidence_is_higher_for_a_long_steady_history_than_a_short_erratic_one():
    steady = _forecast([6, 5, 6, 5, 6] * 18)
    erratic = _forecast([0] * 80 + [0, 9, 0, 0, 12, 1, 0, 0, 7, 0])
    assert 0 <= erratic.confidence < steady.confidence <= 1
    # history * 1 / (1 + cv): a full window of 5.6 +- 0.49 units ...
    assert steady.confidence == round(1 / (1 + math.sqrt(0.24) / 5.6), 4)
    # ... against 9 days since the first sale (of 90) of 29 units with a cv above 1.
    active = [9, 0, 0, 12, 1, 0, 0, 7, 0]
    cv = statistics.pstdev(active) / statistics.fmean(active)
    assert erratic.confidence == round(9 / 90 / (1 + cv), 4)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError):
        _forecast([1, -1])
    with pytest.raises(ValueError):
        _forecast([1], service_level=1.0)
    with pytest.raises(ValueError):
        _forecast([1], lead_time_days=-1)
