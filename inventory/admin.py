"""The back office for warehouse staff.

Quantities are read-only here: staff change stock with the "Adjust stock" and "Record count"
forms, which call the services, so every change lands in the ledger under their name.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils.html import format_html, format_html_join

from inventory import catalog, services
from inventory.admin_columns import LIST_CSS, abbreviated, badge, short_datetime, signed
from inventory.csv_export import ChangelistCsvExport
from inventory.exceptions import DomainError, QuantityMismatch
from inventory.forms import AdjustStockForm, RecordCountForm
from inventory.models import Category, InventoryItem, InventoryTransaction, Product, Warehouse

# Site-wide admin settings. "View site": the service has no public site; its front page is the ops
# live page. The index adds links to it and to the API docs (inventory/templates/admin/site_index.html;
# named apart because django.contrib.admin's own admin/index.html is found first).
admin.site.site_url = reverse_lazy("ops")
admin.site.index_template = "admin/site_index.html"
# No model list down the left of every page: on a 1366-px laptop it took 300 px from the lists (the
# item list and the ledger were cut off on the right). Breadcrumbs and the index lead everywhere.
admin.site.enable_nav_sidebar = False

QUANTITY_FIELDS = ("available_quantity", "reserved_quantity", "total_quantity")
RECENT_LEDGER_ROWS = 15


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "priority", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    ordering = ("priority", "code")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ("name",)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "barcode", "category", "is_active")
    list_filter = ("is_active", "category")
    search_fields = ("sku", "name", "barcode")
    list_select_related = ("category",)

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        if change:
            catalog.update_product(product_id=obj.pk, changes={f: form.cleaned_data[f] for f in form.changed_data})
        else:
            obj.pk = catalog.create_product(fields={f: form.cleaned_data[f] for f in form.fields}).pk


class LowStockFilter(admin.SimpleListFilter):
    title = "stock level"
    parameter_name = "stock"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("low", "At or below reorder point"), ("ok", "Above reorder point"), ("out", "Out of stock")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "low":
            return queryset.filter(available_quantity__lte=F("reorder_point"))
        if self.value() == "ok":
            return queryset.filter(available_quantity__gt=F("reorder_point"))
        if self.value() == "out":
            return queryset.filter(available_quantity=0)
        return queryset


def ledger_url(item_id: int | str) -> str:
    """The ledger list narrowed to one item (every movement of its product in its warehouse)."""
    return f"{reverse('admin:inventory_inventorytransaction_changelist')}?item={item_id}"


@admin.register(InventoryItem)
class InventoryItemAdmin(ChangelistCsvExport, admin.ModelAdmin):
    change_form_template = "admin/inventory/inventoryitem/change_form.html"
    change_list_template = "admin/change_list_export.html"
    # Key columns first, short headers: the list fits 1366 px without scrolling sideways.
    list_display = (
        "sku",
        "product_name",
        "warehouse_code",
        "avail",
        "resv",
        "on_hand",
        "in_transit_out",
        "reorder_pt",
        "low_stock",
        "last_move",
        "ledger",
    )
    list_filter = (LowStockFilter, "warehouse")
    search_fields = ("product__sku", "product__name", "product__barcode", "barcode")
    search_help_text = "Search by SKU, product name, GTIN or item barcode."
    list_select_related = ("product", "warehouse")
    autocomplete_fields = ("product", "warehouse")
    readonly_fields = (*QUANTITY_FIELDS, "last_count_date", "last_movement_at", "recent_ledger")
    fieldsets = (
        (None, {"fields": ("product", "warehouse", *QUANTITY_FIELDS)}),
        ("Reorder settings", {"fields": ("reorder_point", "reorder_quantity", "max_stock_level")}),
        ("Location", {"fields": ("location_zone", "location_aisle", "location_shelf", "barcode")}),
        ("History", {"fields": ("last_count_date", "last_movement_at", "recent_ledger")}),
    )
    # The API's item fields (ItemSerializer; location flattened), plus names a person reads.
    csv_name = "inventory-items"
    csv_columns = (
        "id",
        "product_id",
        "sku",
        "product_name",
        "warehouse_id",
        "warehouse_code",
        "available_quantity",
        "reserved_quantity",
        "total_quantity",
        "in_transit_out",
        "reorder_point",
        "reorder_quantity",
        "max_stock_level",
        "low_stock",
        "barcode",
        "location_zone",
        "location_aisle",
        "location_shelf",
        "last_count_date",
        "last_movement_at",
        "updated_at",
        "version",
    )

    class Media:
        css = {"all": (LIST_CSS,)}

    @admin.display(description="SKU", ordering="product__sku")
    def sku(self, obj: InventoryItem) -> str:
        return obj.product.sku

    @admin.display(description="Product", ordering="product__name")
    def product_name(self, obj: InventoryItem) -> str:
        return abbreviated(obj.product.name)

    @admin.display(description="WH", ordering="warehouse__code")
    def warehouse_code(self, obj: InventoryItem) -> str:
        return abbreviated(obj.warehouse.code, title=obj.warehouse.name)

    @admin.display(description="Avail", ordering="available_quantity")
    def avail(self, obj: InventoryItem) -> int:
        return obj.available_quantity

    @admin.display(description="Resv", ordering="reserved_quantity")
    def resv(self, obj: InventoryItem) -> int:
        return obj.reserved_quantity

    @admin.display(description="On hand", ordering="total_quantity")
    def on_hand(self, obj: InventoryItem) -> int:
        return obj.total_quantity

    @admin.display(description="Reorder pt", ordering="reorder_point")
    def reorder_pt(self, obj: InventoryItem) -> int:
        return obj.reorder_point

    @admin.display(description="Low", empty_value="")
    def low_stock(self, obj: InventoryItem) -> str:
        # A red flag where action is needed, nothing elsewhere: a column of green ticks hides the few that matter.
        if obj.available_quantity == 0:
            return badge("Out", "danger")
        return badge("Low", "danger") if obj.is_low_stock else ""

    @admin.display(description="Last movement", ordering="last_movement_at")
    def last_move(self, obj: InventoryItem) -> str:
        return short_datetime(obj.last_movement_at)

    @admin.display(description="Ledger")
    def ledger(self, obj: InventoryItem) -> str:
        return format_html('<a href="{}" title="Every movement of this item">Ledger</a>', ledger_url(obj.pk))

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        from transfers.selectors import in_transit_from_item

        # One subquery in the list's own query, not one query per row.
        return super().get_queryset(request).annotate(in_transit_out=in_transit_from_item())

    @admin.display(description="In transit", ordering="in_transit_out")
    def in_transit_out(self, obj: InventoryItem) -> int:
        """Units of this product shipped from this warehouse by transfers not yet received."""
        return obj.in_transit_out

    def csv_row(self, obj: InventoryItem) -> list[object]:
        values = {
            "sku": obj.product.sku,
            "product_name": obj.product.name,
            "warehouse_code": obj.warehouse.code,
            "low_stock": obj.is_low_stock,
        }
        return [values[c] if c in values else getattr(obj, c) for c in self.csv_columns]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {"ledger_url": ledger_url(object_id), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    @admin.display(description="Latest ledger rows")
    def recent_ledger(self, obj: InventoryItem) -> str:
        if obj.pk is None:
            return "–"
        rows = (
            InventoryTransaction.objects.filter(product_id=obj.product_id, warehouse_id=obj.warehouse_id)
            .select_related("created_by")
            .order_by("-id")[:RECENT_LEDGER_ROWS]
        )
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.created_at.strftime("%Y-%m-%d %H:%M"),
                    r.transaction_number,
                    r.get_transaction_type_display(),
                    signed(r.quantity_change),
                    r.previous_quantity,
                    r.new_quantity,
                    r.reason,
                    r.created_by or "",
                )
                for r in rows
            ),
        )
        if not body:
            return "No movements yet."
        return format_html(
            "<table><thead><tr><th>When</th><th>Number</th><th>Type</th><th>Change</th><th>On hand</th>"
            "<th>Reason</th><th>By</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">Full ledger of this item</a> (filter, search, export CSV)</p>',
            body,
            ledger_url(obj.pk),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: InventoryItem | None = None) -> tuple[str, ...]:
        # Product and warehouse identify the row; they are fixed once it exists.
        if obj is not None:
            return ("product", "warehouse", *self.readonly_fields)
        return self.readonly_fields

    def has_delete_permission(self, request: HttpRequest, obj: InventoryItem | None = None) -> bool:
        return False  # stock rows carry history; zero them with a count instead

    def save_model(self, request: HttpRequest, obj: InventoryItem, form, change: bool) -> None:
        # Settings only: quantities are read-only here and change through the stock forms.
        if change:
            services.update_item_settings(item_id=obj.pk, changes={f: form.cleaned_data[f] for f in form.changed_data})
        else:
            services.create_item(item=obj)

    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:item_id>/adjust/", view(self.adjust_view), name="inventory_inventoryitem_adjust"),
            path("<int:item_id>/count/", view(self.count_view), name="inventory_inventoryitem_count"),
            *super().get_urls(),
        ]

    def _stock_form_view(self, request: HttpRequest, item_id: int, form_class: type, title: str, apply) -> HttpResponse:
        item = get_object_or_404(InventoryItem.objects.select_related("product", "warehouse"), pk=item_id)
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        change_url = reverse("admin:inventory_inventoryitem_change", args=[item.pk])
        if request.method == "POST":
            form = form_class(request.POST)
            if form.is_valid():
                try:
                    message = apply(item, form.cleaned_data, request.user)
                except QuantityMismatch as exc:
                    form = self._against_current_on_hand(form_class, request, exc.data["actual_quantity"])
                    item.refresh_from_db(fields=QUANTITY_FIELDS)
                except DomainError as exc:
                    form.add_error(None, exc.detail)
                    item.refresh_from_db(fields=QUANTITY_FIELDS)  # show the figures the refusal is about
                else:
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
        else:
            form = form_class(initial={"expected_quantity": item.total_quantity})
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: {item.product.sku} in {item.warehouse.code}",
            "item": item,
            "form": form,
            "opts": self.opts,
            "change_url": change_url,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/inventory/inventoryitem/stock_form.html", context)

    @staticmethod
    def _against_current_on_hand(form_class: type, request: HttpRequest, on_hand: int) -> forms.Form:
        """The posted form again, now expecting ``on_hand``: saving it again records the count against it.

        Stock moved while the person counted. Keeping the stale expected quantity would refuse every
        later save (a dead end); expecting the current on-hand lets them check and confirm, and the
        service still refuses if stock moves yet again.
        """
        data = request.POST.copy()
        data["expected_quantity"] = str(on_hand)
        form = form_class(data)
        form.is_valid()  # cleaned again so the typed values and field errors show as before
        form.add_error(
            None,
            f"Stock moved since you opened this form: now {on_hand} on hand. "
            f"Check your count and save again to record it against {on_hand}.",
        )
        return form

    def adjust_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        def apply(item: InventoryItem, data: dict, user) -> str:
            updated = services.adjust_stock(
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                quantity_change=data["quantity_change"],
                transaction_type=data["transaction_type"],
                details=services.LedgerDetails(
                    reason=data["reason"],
                    notes=data["notes"],
                    reference_type=data["reference_type"],
                    reference_id=data["reference_id"],
                    cost_per_unit=data["cost_per_unit"],
                ),
                user=user,
            )
            return f"Stock adjusted by {data['quantity_change']:+d}; {updated.total_quantity} on hand."

        return self._stock_form_view(request, item_id, AdjustStockForm, "Adjust stock", apply)

    def count_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        def apply(item: InventoryItem, data: dict, user) -> str:
            updated, _ = services.set_stock_count(
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                counted_quantity=data["counted_quantity"],
                expected_quantity=data.get("expected_quantity"),
                details=services.LedgerDetails(reason=data["reason"], notes=data["notes"]),
                user=user,
            )
            return f"Count recorded: {updated.total_quantity} on hand."

        return self._stock_form_view(request, item_id, RecordCountForm, "Record count", apply)


# The ledger (inventory.ledger_admin), low-stock alerts (inventory.alert_admin), and webhook endpoints and
# deliveries (their admin lives with the rest of inventory.webhooks).
from inventory import alert_admin as _alert_admin  # noqa: E402, F401
from inventory import ledger_admin as _ledger_admin  # noqa: E402, F401
from inventory.webhooks import admin as _webhook_admin  # noqa: E402, F401
