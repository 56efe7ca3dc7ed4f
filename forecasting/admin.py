"""Reorder suggestions in the back office: read-only, most urgent first, exportable as CSV."""

from __future__ import annotations

import csv

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.utils import timezone

from forecasting.models import DemandForecast

CSV_COLUMNS = (
    "sku",
    "product",
    "warehouse",
    "available_quantity",
    "total_quantity",
    "max_stock_level",
    "average_daily_demand",
    "forecast_daily_demand",
    "demand_std",
    "days_until_stockout",
    "recommended_order_quantity",
    "safety_stock",
    "confidence",
    "method",
    "computed_at",
)
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Neutralise text a spreadsheet would run as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


@admin.register(DemandForecast)
class DemandForecastAdmin(admin.ModelAdmin):
    change_list_template = "admin/forecasting/demandforecast/change_list.html"
    list_display = (
        "sku",
        "warehouse",
        "available",
        "forecast_daily_demand",
        "days_until_stockout",
        "recommended_order_quantity",
        "confidence",
        "method",
    )
    list_filter = ("item__warehouse", "method")
    search_fields = ("item__product__sku", "item__product__name")
    list_select_related = ("item__product", "item__warehouse")
    ordering = (F("days_until_stockout").asc(nulls_last=True), "-forecast_daily_demand", "item_id")
    actions = None

    @admin.display(description="SKU", ordering="item__product__sku")
    def sku(self, obj: DemandForecast) -> str:
        return obj.item.product.sku

    @admin.display(description="Warehouse", ordering="item__warehouse__code")
    def warehouse(self, obj: DemandForecast) -> str:
        return obj.item.warehouse.code

    @admin.display(description="Available", ordering="item__available_quantity")
    def available(self, obj: DemandForecast) -> int:
        return obj.item.available_quantity

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: DemandForecast | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: DemandForecast | None = None) -> bool:
        return False

    def get_urls(self) -> list:
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_csv_view),
                name="forecasting_demandforecast_export",
            ),
            *super().get_urls(),
        ]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The changelist as CSV: same filters, search and ordering as the page it was linked from."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).get_queryset(request)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="reorder-suggestions-{stamp}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_COLUMNS)
        for row in queryset.iterator(chunk_size=2000):
            item = row.item
            writer.writerow(
                [
                    _cell(value)
                    for value in (
                        item.product.sku,
                        item.product.name,
                        item.warehouse.code,
                        item.available_quantity,
                        item.total_quantity,
                        item.max_stock_level,
                        row.average_daily_demand,
                        row.forecast_daily_demand,
                        row.demand_std,
                        "" if row.days_until_stockout is None else row.days_until_stockout,
                        row.recommended_order_quantity,
                        row.safety_stock,
                        row.confidence,
                        row.method,
                        row.computed_at.isoformat(),
                    )
                ]
            )
        return response
