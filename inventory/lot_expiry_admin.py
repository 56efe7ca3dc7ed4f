"""Lot expiry alerts in the back office: expired units reservations still hold (raised and resolved by
the expiry sweep, ``inventory.services.expiry``); read-only."""

from __future__ import annotations

from django.contrib import admin

from inventory.admin_columns import LIST_CSS, ItemColumns, ReadOnlyAdmin, badge, short_datetime
from inventory.lot_models import LotExpiryAlert, LotExpiryStatus

STATUS_TONES = {LotExpiryStatus.OPEN: "danger", LotExpiryStatus.RESOLVED: "muted"}


@admin.register(LotExpiryAlert)
class LotExpiryAlertAdmin(ReadOnlyAdmin, ItemColumns, admin.ModelAdmin):
    """What staff need to act on a held expired lot: which product, where, which batch, since when, how many."""

    list_display = (
        "id",
        "sku",
        "warehouse",
        "batch",
        "expiry",
        "shortfall",
        "shortfall_when_raised",
        "status_badge",
        "raised",
        "resolved",
    )
    list_filter = ("status", ("item__warehouse", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("item__product", "item__warehouse", "lot")
    search_fields = ("item__product__sku", "item__product__name", "lot__batch_number")
    date_hierarchy = "created_at"

    class Media:
        css = {"all": (LIST_CSS,)}

    @admin.display(description="Batch", ordering="lot__batch_number")
    def batch(self, obj: LotExpiryAlert) -> str:
        return obj.lot.batch_number

    @admin.display(description="Expired", ordering="lot__expiry_date")
    def expiry(self, obj: LotExpiryAlert) -> str:
        return obj.lot.expiry_date.isoformat() if obj.lot.expiry_date else "–"

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: LotExpiryAlert) -> str:
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "muted"))

    @admin.display(description="Raised", ordering="created_at")
    def raised(self, obj: LotExpiryAlert) -> str:
        return short_datetime(obj.created_at)

    @admin.display(description="Resolved", ordering="resolved_at", empty_value="")
    def resolved(self, obj: LotExpiryAlert) -> str:
        return short_datetime(obj.resolved_at) if obj.resolved_at else ""
