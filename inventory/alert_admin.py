"""Low-stock alerts in the back office: raised and resolved by the system, acknowledged by staff."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from inventory import alerts
from inventory.admin_columns import LIST_CSS, ItemColumns, badge, short_datetime
from inventory.models import AlertStatus, LowStockAlert

STATUS_TONES = {AlertStatus.OPEN: "danger", AlertStatus.ACKNOWLEDGED: "warn", AlertStatus.RESOLVED: "muted"}


@admin.register(LowStockAlert)
class LowStockAlertAdmin(ItemColumns, admin.ModelAdmin):
    """Alerts are raised and resolved by the system; staff only acknowledge them."""

    # Short headers and dates so the list fits a 1366-px screen (as the item list and the ledger do).
    list_display = (
        "id",
        "sku",
        "warehouse",
        "available_now",
        "reorder_point_now",
        "current_quantity",
        "status_badge",
        "raised",
        "acknowledged",
        "resolved",
    )
    list_filter = ("status", ("item__warehouse", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("item__product", "item__warehouse", "acknowledged_by")
    search_fields = ("item__product__sku", "item__product__name")
    date_hierarchy = "created_at"
    actions = ["acknowledge"]

    class Media:
        css = {"all": (LIST_CSS,)}

    @admin.display(description="Available now", ordering="item__available_quantity")
    def available_now(self, obj: LowStockAlert) -> int:
        return obj.item.available_quantity

    @admin.display(description="Reorder pt", ordering="item__reorder_point")
    def reorder_point_now(self, obj: LowStockAlert) -> int:
        return obj.item.reorder_point

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: LowStockAlert) -> str:
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "muted"))

    @admin.display(description="Raised", ordering="created_at")
    def raised(self, obj: LowStockAlert) -> str:
        return short_datetime(obj.created_at)

    @admin.display(description="Acknowledged", ordering="acknowledged_at", empty_value="")
    def acknowledged(self, obj: LowStockAlert) -> str:
        if obj.acknowledged_at is None:
            return ""
        who = obj.acknowledged_by.get_username() if obj.acknowledged_by else ""
        return format_html("{} {}", who, short_datetime(obj.acknowledged_at))

    @admin.display(description="Resolved", ordering="resolved_at", empty_value="")
    def resolved(self, obj: LowStockAlert) -> str:
        return short_datetime(obj.resolved_at) if obj.resolved_at else ""

    @admin.action(description="Acknowledge selected low-stock alerts", permissions=["change"])
    def acknowledge(self, request: HttpRequest, queryset: QuerySet) -> None:
        selected = list(queryset.values_list("pk", flat=True))
        done = alerts.acknowledge_alerts(selected, user=request.user)
        message = f"{done} alert(s) acknowledged."
        if done < len(selected):
            message += f" {len(selected) - done} skipped (already acknowledged or resolved)."
        self.message_user(request, message, messages.SUCCESS if done else messages.WARNING)

    def get_readonly_fields(self, request: HttpRequest, obj: LowStockAlert | None = None) -> list[str]:
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LowStockAlert | None = None) -> bool:
        return False
