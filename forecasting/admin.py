"""Reorder suggestions in the back office: read-only, most urgent first, exportable as CSV, refreshable now.

Each suggestion offers a transfer from the warehouse with the most of that product to spare
(``transfers.selectors.surpluses``): a link to the New transfer form, prefilled.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied
from django.db.models import F, Max, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import date as format_date
from django.urls import path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from forecasting.models import DemandForecast
from forecasting.services import refresh_forecasts
from inventory.admin_columns import LIST_CSS, abbreviated
from inventory.csv_export import ChangelistCsvExport
from transfers.models import Transfer
from transfers.selectors import Surplus, surpluses, transfer_source

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


def new_transfer_url(suggestion: DemandForecast, source: Surplus) -> str:
    """The New transfer form, prefilled to refill the suggestion's item from ``source`` (what it can spare)."""
    item = suggestion.item
    quantity = min(suggestion.recommended_order_quantity, source.units)
    days = suggestion.days_until_stockout
    when = (
        "is out of stock"
        if not item.available_quantity
        else f"runs out in {days:.1f} days"
        if days is not None
        else "is low"
    )
    notes = (
        f"Reorder suggestion: {item.product.sku} {when} in {item.warehouse.code}; "
        f"suggested {suggestion.recommended_order_quantity}, {source.warehouse_code} can spare {source.units}."
    )
    query = {
        "product": item.product_id,
        "from_warehouse": source.warehouse_id,
        "to_warehouse": item.warehouse_id,
        "quantity": quantity,
        "notes": notes,
    }
    return f"{reverse('admin:transfers_transfer_add')}?{urlencode(query)}"


class SuggestionChangeList(ChangeList):
    """The list's page of suggestions, each given its transfer source (one query for the page)."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        self.result_list = list(self.result_list)
        may_transfer = request.user.has_perm(f"{Transfer._meta.app_label}.add_{Transfer._meta.model_name}")
        found = surpluses({row.item.product_id for row in self.result_list}) if may_transfer else {}
        for row in self.result_list:
            row.may_transfer = may_transfer
            row.transfer_source = transfer_source(
                found, product_id=row.item.product_id, to_warehouse_id=row.item.warehouse_id
            )


@admin.register(DemandForecast)
class DemandForecastAdmin(ChangelistCsvExport, admin.ModelAdmin):
    change_list_template = "admin/forecasting/demandforecast/change_list.html"
    list_display = (
        "sku",
        "warehouse",
        "available",
        "demand_per_day",
        "days_left",
        "order_quantity",
        "confidence_percent",
        "method",
        "transfer",
    )
    list_filter = ("item__warehouse", "method")
    search_fields = ("item__product__sku", "item__product__name")
    list_select_related = ("item__product", "item__warehouse")
    ordering = (F("days_until_stockout").asc(nulls_last=True), "-forecast_daily_demand", "item_id")
    actions = None
    csv_name = "reorder-suggestions"
    csv_columns = CSV_COLUMNS

    class Media:
        css = {"all": (LIST_CSS,)}

    @admin.display(description="SKU", ordering="item__product__sku")
    def sku(self, obj: DemandForecast) -> SafeString:
        return abbreviated(obj.item.product.sku, title=obj.item.product.name)

    @admin.display(description="WH", ordering="item__warehouse__code")
    def warehouse(self, obj: DemandForecast) -> str:
        return obj.item.warehouse.code

    @admin.display(description="Avail", ordering="item__available_quantity")
    def available(self, obj: DemandForecast) -> int:
        return obj.item.available_quantity

    @admin.display(description="Demand/day", ordering="forecast_daily_demand")
    def demand_per_day(self, obj: DemandForecast) -> str:
        return f"{obj.forecast_daily_demand:.1f}"

    @admin.display(description="Days left", ordering=F("days_until_stockout").asc(nulls_last=True))
    def days_left(self, obj: DemandForecast) -> str:
        return "–" if obj.days_until_stockout is None else f"{obj.days_until_stockout:.1f}"

    @admin.display(description="Order qty", ordering="recommended_order_quantity")
    def order_quantity(self, obj: DemandForecast) -> int:
        return obj.recommended_order_quantity

    @admin.display(description="Conf.", ordering="confidence")
    def confidence_percent(self, obj: DemandForecast) -> str:
        return f"{obj.confidence:.0%}"

    @admin.display(description="Transfer", empty_value="")
    def transfer(self, obj: DemandForecast) -> SafeString | str:
        """A prefilled New transfer form from the warehouse with the most to spare, or why there is none."""
        if not getattr(obj, "may_transfer", False):
            return ""
        source: Surplus | None = obj.transfer_source
        if source is None:
            return format_html('<span class="muted no-surplus">{}</span>', "No surplus elsewhere")
        quantity = min(obj.recommended_order_quantity, source.units)
        return format_html(
            '<a class="transfer-link" href="{}" title="{} has {} above its reorder point">{} from {}</a>',
            new_transfer_url(obj, source),
            source.warehouse_code,
            source.units,
            quantity,
            source.warehouse_code,
        )

    def get_changelist(self, request: HttpRequest, **kwargs) -> type[ChangeList]:
        return SuggestionChangeList

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
        # (ChangelistCsvExport adds "export/".)
        return [
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

    def csv_row(self, obj: DemandForecast) -> list[object]:
        item = obj.item
        return [
            item.product.sku,
            item.product.name,
            item.warehouse.code,
            item.available_quantity,
            item.total_quantity,
            item.max_stock_level,
            obj.average_daily_demand,
            obj.forecast_daily_demand,
            obj.demand_std,
            obj.days_until_stockout,
            obj.recommended_order_quantity,
            obj.safety_stock,
            obj.confidence,
            obj.method,
            obj.computed_at,
        ]
