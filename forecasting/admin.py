"""Reorder suggestions in the back office: read-only, most urgent first, exportable as CSV, refreshable now."""

from __future__ import annotations

import csv

from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import F, Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import date as format_date
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_POST

from forecasting.models import DemandForecast
from forecasting.services import refresh_forecasts

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

    def has_refresh_permission(self, request: HttpRequest) -> bool:
        """Recomputing the forecasts: the model's "change" permission (the warehouse role has it).

        ``has_change_permission`` is always False because the rows are never edited by hand.
        """
        return request.user.has_perm(f"{self.opts.app_label}.{get_permission_codename('change', self.opts)}")

    def get_queryset(self, request: HttpRequest) -> QuerySet[DemandForecast]:
        # A suggestion is something to order: items with enough stock would only bury the urgent ones.
        return super().get_queryset(request).filter(recommended_order_quantity__gt=0)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        can_refresh = self.has_refresh_permission(request)
        computed_at = DemandForecast.objects.aggregate(latest=Max("computed_at"))["latest"]
        if computed_at is None:
            subtitle = "No forecasts computed yet (they run nightly)."
            if can_refresh:
                subtitle += " Refresh now computes them."
        else:
            when = format_date(timezone.localtime(computed_at), "Y-m-d H:i T")
            subtitle = f"Forecasts computed {when}."
        context = {
            "title": "Items to reorder, most urgent first",
            "subtitle": subtitle,
            "can_refresh": can_refresh,
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=context)

    def get_urls(self) -> list:
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_csv_view),
                name="forecasting_demandforecast_export",
            ),
            path(
                "refresh/",
                self.admin_site.admin_view(self.refresh_view),
                name="forecasting_demandforecast_refresh",
            ),
            *super().get_urls(),
        ]

    @method_decorator(require_POST)
    def refresh_view(self, request: HttpRequest) -> HttpResponse:
        """Recompute every item's forecast now, as the nightly task does, then back to the list."""
        if not self.has_refresh_permission(request):
            raise PermissionDenied
        refreshed = refresh_forecasts()
        to_order = self.get_queryset(request).count()
        self.message_user(
            request,
            f"Reorder suggestions refreshed for {refreshed} item(s); {to_order} have something to order.",
            messages.SUCCESS,
        )
        # Back to the list as it was filtered: the form posts the list's query string along.
        query = request.GET.urlencode()
        changelist = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return HttpResponseRedirect(f"{changelist}?{query}" if query else changelist)

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
