"""The ledger in the back office: read-only, append-only, one item's movements a click from the item, CSV export."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from inventory.admin_columns import LIST_CSS, ReadOnlyAdmin, abbreviated, change_cell, short_datetime
from inventory.csv_export import ChangelistCsvExport
from inventory.models import InventoryItem, InventoryTransaction

# Ids longer than this (transfer and reservation UUIDs) are shown cut, in full on hover.
SHORT_REFERENCE = 8


def item_named(value: str | None) -> InventoryItem | None:
    """The item an ``?item=`` value names, with its product and warehouse; None if there is none."""
    if not value or not value.isdigit():
        return None
    return InventoryItem.objects.select_related("product", "warehouse").filter(pk=value).first()


class ItemFilter(admin.SimpleListFilter):
    """``?item=<inventory item id>``: the movements of one product in one warehouse (linked from the item).

    Shown in the filter panel only while set, naming the item, with "All" to widen the list again.
    """

    title = "item"
    parameter_name = "item"

    def _item(self) -> InventoryItem | None:
        if not hasattr(self, "_chosen"):
            self._chosen = item_named(self.value())
        return self._chosen

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        # Without a choice the admin would neither show the filter nor apply it.
        value = self.value()
        if value is None:
            return []
        item = self._item()
        return [(value, f"{item.product.sku} in {item.warehouse.code}" if item else "unknown item")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        item = self._item()
        if item is None:
            return queryset.none()  # an unknown item has no movements
        return queryset.filter(product_id=item.product_id, warehouse_id=item.warehouse_id)


@admin.register(InventoryTransaction)
class InventoryTransactionAdmin(ReadOnlyAdmin, ChangelistCsvExport, admin.ModelAdmin):
    """The ledger: read-only, append-only."""

    change_list_template = "admin/change_list_export.html"
    list_display = ("sku", "warehouse_code", "change", "on_hand", "kind", "why", "reference", "who", "when")
    list_display_links = ("when",)
    list_filter = (ItemFilter, "transaction_type", "warehouse", "created_at")
    search_fields = ("transaction_number", "product__sku", "reference_id", "batch_number", "reason")
    search_help_text = "Search by SKU, transaction number, reference, batch or reason."
    date_hierarchy = "created_at"
    list_select_related = ("product", "warehouse", "created_by")
    # One count, not two, per page of a ledger that grows without end.
    show_full_result_count = False
    # The API's ledger fields (TransactionSerializer), plus the SKU, warehouse code and user name.
    csv_name = "ledger"
    csv_columns = (
        "transaction_number",
        "transaction_type",
        "product_id",
        "sku",
        "warehouse_id",
        "warehouse_code",
        "quantity_change",
        "previous_quantity",
        "new_quantity",
        "reference_type",
        "reference_id",
        "reason",
        "notes",
        "cost_per_unit",
        "total_cost",
        "batch_number",
        "supplier_id",
        "received_date",
        "expiry_date",
        "created_by",
        "created_by_username",
        "created_at",
    )

    class Media:
        css = {"all": (LIST_CSS,)}

    @admin.display(description="Product", ordering="product__sku")
    def sku(self, obj: InventoryTransaction) -> SafeString:
        return abbreviated(obj.product.sku, title=obj.product.name)

    @admin.display(description="WH", ordering="warehouse__code")
    def warehouse_code(self, obj: InventoryTransaction) -> SafeString:
        return abbreviated(obj.warehouse.code, title=obj.warehouse.name)

    @admin.display(description="Change", ordering="quantity_change")
    def change(self, obj: InventoryTransaction) -> SafeString:
        return change_cell(obj.quantity_change)

    @admin.display(description="On hand", ordering="new_quantity")
    def on_hand(self, obj: InventoryTransaction) -> int:
        return obj.new_quantity

    @admin.display(description="Type", ordering="transaction_type")
    def kind(self, obj: InventoryTransaction) -> str:
        return obj.get_transaction_type_display()

    @admin.display(description="Reason", ordering="reason", empty_value="")
    def why(self, obj: InventoryTransaction) -> SafeString | str:
        return abbreviated(obj.reason) if obj.reason else ""

    @admin.display(description="Reference", ordering="reference_id", empty_value="")
    def reference(self, obj: InventoryTransaction) -> SafeString | str:
        full = " ".join(part for part in (obj.reference_type, obj.reference_id) if part)
        if not full:
            return ""
        shown = obj.reference_id[:SHORT_REFERENCE] if len(obj.reference_id) > SHORT_REFERENCE + 4 else obj.reference_id
        return abbreviated(" ".join(part for part in (obj.reference_type, shown) if part), title=full)

    @admin.display(description="Who", ordering="created_by__username")
    def who(self, obj: InventoryTransaction) -> SafeString:
        if obj.created_by is None:
            return format_html('<span class="muted" title="{}">system</span>', "Made by the service (no staff user)")
        return abbreviated(obj.created_by.get_username())

    @admin.display(description="When", ordering="created_at")
    def when(self, obj: InventoryTransaction) -> SafeString | str:
        return short_datetime(obj.created_at)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # The page says whose ledger it is when opened from an item ("Ledger" link).
        item = item_named(request.GET.get("item"))
        title = f"Ledger of {item.product.sku} in {item.warehouse.code}" if item else "Ledger: every stock movement"
        return super().changelist_view(request, extra_context={"title": title, **(extra_context or {})})

    def csv_row(self, obj: InventoryTransaction) -> list[object]:
        values = {
            "sku": obj.product.sku,
            "warehouse_code": obj.warehouse.code,
            "created_by": obj.created_by_id,
            "created_by_username": obj.created_by.get_username() if obj.created_by else "",
        }
        return [values[c] if c in values else getattr(obj, c) for c in self.csv_columns]
