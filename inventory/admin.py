"""The back office for warehouse staff.

Quantities are read-only here: staff change stock with the "Adjust stock" and "Record count"
forms, which call the services, so every change lands in the ledger under their name. An item's
page also moves units between stock states ("Move stock state", audited as ``StockStateMove``
rows) and lists a lot-tracked item's lots.
"""

from __future__ import annotations

import json
from functools import partial

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from inventory import catalog, scan, services
from inventory.admin_columns import LIST_CSS, ItemColumns, ReadOnlyAdmin, abbreviated, badge, short_datetime, signed
from inventory.csv_export import ChangelistCsvExport
from inventory.exceptions import DomainError, QuantityMismatch
from inventory.forms import AdjustStockForm, MoveStockStateForm, RecordCountForm, RecordLotCountForm
from inventory.ledger_admin import ItemFilter, item_named
from inventory.models import (
    Category,
    InventoryItem,
    InventoryTransaction,
    Product,
    StockLot,
    StockState,
    StockStateMove,
    Warehouse,
    state_field,
)

# Site-wide admin settings. "View site": the service has no public site; its front page is the ops
# live page. The index adds links to it and to the API docs (inventory/templates/admin/site_index.html;
# named apart because django.contrib.admin's own admin/index.html is found first).
admin.site.site_url = reverse_lazy("ops")
admin.site.index_template = "admin/site_index.html"
# No model list down the left of every page: on a 1366-px laptop it took 300 px from the lists (the
# item list and the ledger were cut off on the right). Breadcrumbs and the index lead everywhere.
admin.site.enable_nav_sidebar = False

QUANTITY_FIELDS = (
    "available_quantity",
    "reserved_quantity",
    "damaged_quantity",
    "quality_control_quantity",
    "safety_stock_quantity",
    "total_quantity",
)
# The item page's stock, two rows: what can be sold or is promised, and what is kept back from sale.
STOCK_ROWS = (
    ("available_quantity", "reserved_quantity", "total_quantity"),
    ("damaged_quantity", "quality_control_quantity", "safety_stock_quantity"),
)
RECENT_LEDGER_ROWS = 15
RECENT_STATE_MOVES = 10
MOVE_PREFIX = "move"  # the move-state form's field prefix: its fields never clash with the item form's


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "priority", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("code", "name")
    ordering = ("priority", "code")


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    search_fields = ("name",)


TRACKING_FIELDS = ("track_lots", "requires_expiry")


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ("sku", "name", "barcode", "category", "track_lots", "is_active")
    list_filter = ("is_active", "track_lots", "category")
    search_fields = ("sku", "name", "barcode")
    list_select_related = ("category",)

    def changeform_view(
        self, request: HttpRequest, object_id: str | None = None, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except DomainError as exc:
            # Refused by the service (lot tracking switched while units are on hand): the admin's transaction
            # rolled back, so nothing was saved; the page comes back as stored, with the reason.
            self.message_user(request, f"Nothing was saved: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        tracking = {f: form.cleaned_data[f] for f in TRACKING_FIELDS if f in form.changed_data}
        if change:
            # Tracking first: it locks the product row, which movements in flight hold FOR SHARE until they commit.
            if tracking:
                services.set_lot_tracking(product_id=obj.pk, **tracking)
            changes = {f: form.cleaned_data[f] for f in form.changed_data if f not in TRACKING_FIELDS}
            catalog.update_product(product_id=obj.pk, changes=changes)
        else:
            fields = {f: form.cleaned_data[f] for f in form.fields if f not in TRACKING_FIELDS}
            obj.pk = catalog.create_product(fields=fields).pk
            if tracking:
                services.set_lot_tracking(product_id=obj.pk, **tracking)


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
    readonly_fields = (
        *QUANTITY_FIELDS,
        "next_expiry_date",
        "last_count_date",
        "last_movement_at",
        "recent_ledger",
        "recent_state_moves",
    )
    fieldsets = (
        (None, {"fields": ("product", "warehouse", *STOCK_ROWS)}),
        ("Reorder settings", {"fields": ("reorder_point", "reorder_quantity", "max_stock_level")}),
        ("Location", {"fields": ("location_zone", "location_aisle", "location_shelf", "barcode")}),
        ("History", {"fields": ("last_count_date", "last_movement_at", "recent_ledger", "recent_state_moves")}),
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

    def get_fieldsets(self, request: HttpRequest, obj: InventoryItem | None = None) -> list:
        fieldsets = [(name, dict(options)) for name, options in super().get_fieldsets(request, obj)]
        if obj is not None and obj.product.track_lots:
            # The earliest expiry among its lots, under the stock it belongs to.
            fieldsets[0][1]["fields"] = (*fieldsets[0][1]["fields"], "next_expiry_date")
        return fieldsets

    def get_inlines(self, request: HttpRequest, obj: InventoryItem | None) -> list:
        return [StockLotInline] if obj is not None and obj.product.track_lots else []

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {"ledger_url": ledger_url(object_id), **(extra_context or {})}
        if object_id.isdigit() and self.has_change_permission(request):
            context["move_state_form"] = MoveStockStateForm(prefix=MOVE_PREFIX)
            context["move_state_url"] = reverse("admin:inventory_inventoryitem_move_state", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context=context)

    @admin.display(description="Latest state moves")
    def recent_state_moves(self, obj: InventoryItem) -> str:
        if obj.pk is None:
            return "–"
        moves = StockStateMove.objects.filter(item=obj).select_related("created_by")[:RECENT_STATE_MOVES]
        body = format_html_join(
            "",
            '<tr><td>{}</td><td class="qty">{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    timezone.localtime(m.created_at).strftime("%Y-%m-%d %H:%M"),
                    m.quantity,
                    StockState(m.from_state).label,
                    StockState(m.to_state).label,
                    m.reason,
                    m.created_by or "",
                )
                for m in moves
            ),
        )
        if not body:
            return "No units moved between states yet."
        return format_html(
            '<table id="state-move-audit"><thead><tr><th>When</th><th>Units</th><th>From → to</th><th>Reason</th>'
            "<th>By</th></tr></thead><tbody>{}</tbody></table>"
            '<p><a href="{}">All state moves of this item</a></p>',
            body,
            state_moves_url(obj.pk),
        )

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
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    r.created_at.strftime("%Y-%m-%d %H:%M"),
                    r.transaction_number,
                    r.get_transaction_type_display(),
                    signed(r.quantity_change),
                    r.previous_quantity,
                    r.new_quantity,
                    _lot_and_state(r),
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
            "<th>Batch / state</th><th>Reason</th><th>By</th></tr></thead><tbody>{}</tbody></table>"
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
            path(
                "<int:item_id>/move-state/",
                view(require_POST(self.move_state_view)),
                name="inventory_inventoryitem_move_state",
            ),
            *super().get_urls(),
        ]

    def _stock_form_view(
        self,
        request: HttpRequest,
        item_id: int,
        form_class: type,
        title: str,
        apply,
        *,
        initial: dict | None = None,
        moved=None,
    ) -> HttpResponse:
        """A stock form's page. ``apply(item, cleaned_data, user)`` books it and returns the success message;
        ``moved(request, exc)`` is the form again after a ``QuantityMismatch`` (stock moved while it was open)."""
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
                    form = (moved or self._against_current_on_hand)(request, exc)
                    item.refresh_from_db(fields=QUANTITY_FIELDS)
                except DomainError as exc:
                    form.add_error(None, exc.detail)
                    item.refresh_from_db(fields=QUANTITY_FIELDS)  # show the figures the refusal is about
                else:
                    self.message_user(request, message, messages.SUCCESS)
                    return HttpResponseRedirect(change_url)
        else:
            form = form_class(initial=initial if initial is not None else {"expected_quantity": item.total_quantity})
        context = {
            **self.admin_site.each_context(request),
            "title": f"{title}: {item.product.sku} in {item.warehouse.code}",
            "item": item,
            "not_for_sale": item.units_not_for_sale(),
            "lots": scan.lots_with_units(item) if item.product.track_lots else None,
            "today": timezone.localdate(),
            "form": form,
            "opts": self.opts,
            "change_url": change_url,
            "has_view_permission": True,
        }
        return TemplateResponse(request, "admin/inventory/inventoryitem/stock_form.html", context)

    @staticmethod
    def _against_current_on_hand(request: HttpRequest, exc: QuantityMismatch) -> forms.Form:
        """The posted form again, now expecting the current on-hand: saving it again records the count against it.

        Stock moved while the person counted. Keeping the stale expected quantity would refuse every
        later save (a dead end); expecting the current on-hand lets them check and confirm, and the
        service still refuses if stock moves yet again.
        """
        on_hand = exc.data["actual_quantity"]
        data = request.POST.copy()
        data["expected_quantity"] = str(on_hand)
        form = RecordCountForm(data)
        form.is_valid()  # cleaned again so the typed values and field errors show as before
        form.add_error(
            None,
            f"Stock moved since you opened this form: now {on_hand} on hand. "
            f"Check your count and save again to record it against {on_hand}.",
        )
        return form

    @staticmethod
    def _against_current_lot(request: HttpRequest, exc: QuantityMismatch) -> forms.Form:
        """The posted lot count again, now expecting the batch's current units (as ``_against_current_on_hand``)."""
        now = exc.data["actual_quantity"]
        data = request.POST.copy()
        form = RecordLotCountForm(data)
        form.is_valid()
        batch = form.cleaned_data.get("batch_number", "")
        data["expected_lots"] = json.dumps({**(form.cleaned_data.get("expected_lots") or {}), batch: now})
        form = RecordLotCountForm(data)
        form.is_valid()
        form.add_error(
            None,
            f"Batch {batch} changed since you opened this form: now {now} in it. "
            f"Check your count and save again to record it against {now}.",
        )
        return form

    def adjust_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        item = get_object_or_404(InventoryItem.objects.select_related("product"), pk=item_id)
        form_class = partial(AdjustStockForm, tracked=item.product.track_lots)

        def apply(item: InventoryItem, data: dict, user) -> str:
            # A blank expiry on a batch the item already has keeps the batch's date (services.lots).
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
                    batch_number=data.get("batch_number", "").strip(),
                    expiry_date=data.get("expiry_date"),
                ),
                state=data["state"],
                user=user,
            )
            state = StockState(data["state"])
            of_state = "" if state == StockState.AVAILABLE else f" {state.label.lower()} units"
            left = (
                ""
                if state == StockState.AVAILABLE
                else f", {getattr(updated, state_field(state))} {state.label.lower()}"
            )
            return f"Stock adjusted by {data['quantity_change']:+d}{of_state}; {updated.total_quantity} on hand{left}."

        return self._stock_form_view(request, item_id, form_class, "Adjust stock", apply, initial={})

    def count_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        item = get_object_or_404(InventoryItem.objects.select_related("product"), pk=item_id)
        if item.product.track_lots:
            return self._lot_count_view(request, item)

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

    def _lot_count_view(self, request: HttpRequest, item: InventoryItem) -> HttpResponse:
        """A lot-tracked item is counted batch by batch: the form counts one lot."""

        def apply(item: InventoryItem, data: dict, user) -> str:
            batch = data["batch_number"]
            shown = data.get("expected_lots")
            updated, _ = services.set_stock_count(
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                counted_quantity=data["counted_quantity"],
                # A batch the form did not list was empty then.
                expected_quantity=None if shown is None else shown.get(batch, 0),
                details=services.LedgerDetails(
                    reason=data["reason"],
                    notes=data["notes"],
                    batch_number=batch,
                    expiry_date=data["expiry_date"],
                ),
                user=user,
            )
            counted = data["counted_quantity"]
            return f"Count of batch {batch} recorded: {counted} in the batch, {updated.total_quantity} on hand."

        initial = {"expected_lots": scan.lot_quantities(item)}
        return self._stock_form_view(
            request,
            item.pk,
            RecordLotCountForm,
            "Record count of a batch",
            apply,
            initial=initial,
            moved=self._against_current_lot,
        )

    def move_state_view(self, request: HttpRequest, item_id: int) -> HttpResponse:
        """The item page's "Move stock state" form: units from one state to another, through the service."""
        item = get_object_or_404(InventoryItem.objects.select_related("product", "warehouse"), pk=item_id)
        if not self.has_change_permission(request, item):
            raise PermissionDenied
        change_url = reverse("admin:inventory_inventoryitem_change", args=[item.pk])
        form = MoveStockStateForm(request.POST, prefix=MOVE_PREFIX)
        if not form.is_valid():
            problems = " ".join(
                f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {' '.join(errors)}"
                if name != NON_FIELD_ERRORS
                else " ".join(errors)
                for name, errors in form.errors.items()
            )
            self.message_user(request, f"Nothing moved. {problems}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        data = form.cleaned_data
        try:
            updated, _ = services.move_stock_state(
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                quantity=data["quantity"],
                from_state=data["from_state"],
                to_state=data["to_state"],
                reason=data["reason"],
                user=request.user,
            )
        except DomainError as exc:
            self.message_user(request, f"Nothing moved: {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(change_url)
        source, goal = StockState(data["from_state"]), StockState(data["to_state"])
        done = (
            f"Moved {data['quantity']} from {source.label.lower()} to {goal.label.lower()}: "
            f"{getattr(updated, state_field(source))} {source.label.lower()}, "
            f"{getattr(updated, state_field(goal))} {goal.label.lower()}, {updated.total_quantity} on hand."
        )
        self.log_change(request, item, done)  # the item's History page lists it
        self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(change_url)


def _lot_and_state(row: InventoryTransaction) -> str:
    """The batch a ledger row touched and, when not available, the state whose units changed."""
    parts = [row.batch_number] if row.batch_number else []
    if row.stock_state != StockState.AVAILABLE:
        parts.append(StockState(row.stock_state).label.lower())
    return ", ".join(parts)


def state_moves_url(item_id: int | str) -> str:
    """The state-move audit narrowed to one item."""
    return f"{reverse('admin:inventory_stockstatemove_changelist')}?item={item_id}"


class StockLotInline(ReadOnlyAdmin, admin.TabularInline):
    """A lot-tracked item's lots with units, earliest expiry first (the order sales take them in); read-only:
    lots change only through stock movements."""

    model = StockLot
    verbose_name = "lot"
    verbose_name_plural = "Lots on hand (earliest expiry first)"
    fields = ("batch_number", "expiry_date", "expiry_status", "received_date", "supplier_id", "quantity")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).filter(quantity__gt=0)  # Meta.ordering is FEFO

    @admin.display(description="Status")
    def expiry_status(self, lot: StockLot) -> str:
        today = timezone.localdate()
        if lot.is_expired(today):
            return badge("Expired", "danger")
        warning_days = settings.LOT_EXPIRY_WARNING_DAYS
        if lot.expiry_date is not None and (lot.expiry_date - today).days <= warning_days:
            days = (lot.expiry_date - today).days
            return badge("Expires today" if days == 0 else f"Expires in {days} d", "warn")
        return ""


class StateMoveItemFilter(ItemFilter):
    """``?item=<inventory item id>``: the state moves of one item (linked from the item page)."""

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() is None:
            return queryset
        item = self._item()
        return queryset.filter(item=item) if item is not None else queryset.none()


@admin.register(StockStateMove)
class StockStateMoveAdmin(ReadOnlyAdmin, ItemColumns, admin.ModelAdmin):
    """The audit of moves between stock states: read-only (moves are made on the item page, the scan
    station or the API, through ``services.move_stock_state``)."""

    list_display = ("when", "sku", "warehouse_code", "quantity", "from_label", "to_label", "why", "who")
    list_filter = (StateMoveItemFilter, "from_state", "to_state", "item__warehouse")
    search_fields = ("item__product__sku", "item__product__name", "reason")
    search_help_text = "Search by SKU, product name or reason."
    list_select_related = ("item__product", "item__warehouse", "created_by")
    date_hierarchy = "created_at"

    class Media:
        css = {"all": (LIST_CSS,)}

    @admin.display(description="When", ordering="created_at")
    def when(self, obj: StockStateMove) -> str:
        return short_datetime(obj.created_at)

    @admin.display(description="WH", ordering="item__warehouse__code")
    def warehouse_code(self, obj: StockStateMove) -> str:
        return abbreviated(obj.item.warehouse.code, title=obj.item.warehouse.name)

    @admin.display(description="From", ordering="from_state")
    def from_label(self, obj: StockStateMove) -> str:
        return StockState(obj.from_state).label

    @admin.display(description="To", ordering="to_state")
    def to_label(self, obj: StockStateMove) -> str:
        return StockState(obj.to_state).label

    @admin.display(description="Reason", ordering="reason")
    def why(self, obj: StockStateMove) -> str:
        return abbreviated(obj.reason)

    @admin.display(description="Who", ordering="created_by__username")
    def who(self, obj: StockStateMove) -> str:
        return str(obj.created_by) if obj.created_by else "system"

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        # Opened from an item page: say whose moves these are.
        item = item_named(request.GET.get(StateMoveItemFilter.parameter_name))
        title = f"State moves of {item.product.sku} in {item.warehouse.code}" if item else "Stock state moves"
        return super().changelist_view(request, extra_context={"title": title, **(extra_context or {})})


# The ledger (inventory.ledger_admin), low-stock and lot expiry alerts (inventory.alert_admin, lot_expiry_admin),
# and webhook endpoints and deliveries (their admin lives with the rest of inventory.webhooks).
from inventory import alert_admin as _alert_admin  # noqa: E402, F401
from inventory import ledger_admin as _ledger_admin  # noqa: E402, F401
from inventory import lot_expiry_admin as _lot_expiry_admin  # noqa: E402, F401
from inventory.webhooks import admin as _webhook_admin  # noqa: E402, F401
