"""The latest demand forecast of every stock item, refreshed in bulk by ``forecasting.services``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory.models import InventoryItem


class ForecastMethod(models.TextChoices):
    NONE = "none", "No demand"
    MOVING_AVERAGE = "moving_average", "Moving average"
    CROSTON_SBA = "croston_sba", "Croston (SBA)"


class DemandForecast(models.Model):
    """One row per item: the fields of ``forecasting.demand.Forecast`` as of ``computed_at``.

    Shown in the admin as "reorder suggestions": every row carries the quantity to order now.
    """

    item = models.OneToOneField(InventoryItem, on_delete=models.CASCADE, related_name="demand_forecast")
    average_daily_demand = models.FloatField(default=0)
    forecast_daily_demand = models.FloatField(default=0)
    demand_std = models.FloatField(default=0)
    method = models.CharField(max_length=20, choices=ForecastMethod.choices, default=ForecastMethod.NONE)
    days_until_stockout = models.FloatField(null=True, blank=True)
    recommended_order_quantity = models.IntegerField(default=0)
    safety_stock = models.FloatField(default=0)
    confidence = models.FloatField(default=0)
    lookback_days = models.IntegerField(default=0)
    zero_day_share = models.FloatField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "reorder suggestion"
        verbose_name_plural = "reorder suggestions"
        constraints = [
            models.CheckConstraint(
                condition=Q(confidence__gte=0) & Q(confidence__lte=1), name="demand_forecast_confidence_0_1"
            ),
            models.CheckConstraint(
                condition=Q(recommended_order_quantity__gte=0), name="demand_forecast_quantity_non_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["days_until_stockout"],
                condition=Q(days_until_stockout__isnull=False),
                name="idx_forecast_stockout",
            ),
        ]

    def __str__(self) -> str:
        return f"Forecast for item {self.item_id}"
