"""Back office for transfers: list, a "New transfer" form, Start / Complete / Cancel buttons and actions.

Every change goes through ``transfers.services``: the add form creates the transfer with
``create_transfer`` (so the units are held at the source), the detail page's buttons and the list's
actions call the transition services, and status, quantities and timestamps are read-only. Nothing
is ever deleted. The add form takes its initial values from the query string (``?product=&
from_warehouse=&to_warehouse=&quantity=``): reorder suggestions link it prefilled.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from inventory.admin_buttons import StateButton, StateButtonsMixin
from inventory.admin_columns import LIST_CSS, abbreviated, badge, short_datetime
from inventory.exceptions import DomainError
from inventory.forms import WholeNumberField
from inventory.services import MAX_QUANTITY
from transfers import services
from transfers.models import Transfer, TransferStatus

STATE_FIELDS = (
    "id",
    "status",
    "product",
    "from_warehouse",
    "to_warehouse",
    "quantity",
    "created_at",
    "created_by",
    "started_at",
    "started_by",
    "completed_at",
    "completed_by",
    "cancelled_at",
    "cancelled_by",
)
ADD_FIELDS = ("product", "from_warehouse", "to_warehouse", "quantity", "requested_by", "notes")
# Set on the request when create_transfer refused the add form, so the re-rendered form shows why.
_REFUSAL_ATTR = "_transfer_create_refusal"
STATUS_TONES = {
    TransferStatus.PENDING: "warn",
    TransferStatus.IN_TRANSIT: "info",
    TransferStatus.COMPLETED: "ok",
    TransferStatus.CANCELLED: "muted",
}


def _may_become(status: str) -> Callable[[Transfer], bool]:
    return lambda transfer: status in services.ALLOWED[transfer.status]


def _step(service: Callable[..., Transfer], verb: str) -> Callable[[HttpRequest, Transfer], str]:
    def run(request: HttpRequest, transfer: Transfer) -> str:
        done = service(transfer_id=transfer.pk, user=request.user)
        return f"{done}: {verb} ({done.quantity} units of {transfer.product.sku})."

    return run


# The detail page's buttons, offered while the transfer may take that step (services.ALLOWED).
TRANSFER_BUTTONS = (
    StateButton(
        name="start",
        label="Start",
        title="Ship it: the held units leave the source warehouse",
        applies=_may_become(TransferStatus.IN_TRANSIT),
        run=_step(services.start_transfer, "started"),
    ),
    StateButton(
        name="complete",
        label="Complete",
        title="Receive it: the units go on the destination's shelf",
        applies=_may_become(TransferStatus.COMPLETED),
        run=_step(services.complete_transfer, "completed"),
    ),
    StateButton(
        name="cancel",
        label="Cancel transfer",
        title="Pending: release the hold. In transit: put the units back at the source",
        applies=_may_become(TransferStatus.CANCELLED),
        run=_step(services.cancel_transfer, "cancelled"),
        danger=True,
    ),
)


class CreateRefused(Exception):
    """``create_transfer`` raised a domain error for the add form; carries its message."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class NewTransferForm(forms.ModelForm):
    """Validates the input only (writes nothing); ``TransferAdmin.save_model`` creates through the service."""

    # Typed by a person: "1.000" is refused instead of being read as 1 (see inventory.forms).
    quantity = WholeNumberField(min_value=1, max_value=MAX_QUANTITY)
    refusal: str | None = None

    class Meta:
        model = Transfer
        fields = ADD_FIELDS

    def clean(self) -> dict:
        data = super().clean()
        source, destination = data.get("from_warehouse"), data.get("to_warehouse")
        if source is not None and source == destination:
            self.add_error("to_warehouse", "Choose a warehouse other than the source.")
        if self.refusal:
            raise forms.ValidationError(self.refusal, code="refused")
        return data


@admin.register(Transfer)
class TransferAdmin(StateButtonsMixin, admin.ModelAdmin):
    add_form = NewTransferForm
    state_buttons = TRANSFER_BUTTONS
    # Status second: it is what the list is read for, and must never be the column cut off.
    list_display = ("short_id", "status_badge", "sku", "source", "destination", "quantity", "created", "created_by")
    list_filter = ("status", "from_warehouse", "to_warehouse")
    search_fields = ("product__sku",)
    search_help_text = "Search by product SKU."
    list_select_related = ("product", "from_warehouse", "to_warehouse", "created_by")
    date_hierarchy = "created_at"
    autocomplete_fields = ("product", "from_warehouse", "to_warehouse")
    actions = ["start_selected", "complete_selected", "cancel_selected"]
    fieldsets = (
        # Compact, so the request and its history show without scrolling.
        (None, {"fields": (("product", "quantity"), ("from_warehouse", "to_warehouse"), ("status", "id"))}),
        ("Request", {"fields": ("requested_by", "notes")}),
        (
            "History",
            {
                "fields": (
                    ("created_at", "created_by"),
                    ("started_at", "started_by"),
                    ("completed_at", "completed_by"),
                    ("cancelled_at", "cancelled_by"),
                )
            },
        ),
    )
    add_fieldsets = ((None, {"fields": ADD_FIELDS}),)
    # Notes are a line or two: a short box keeps the history on the first screen.
    formfield_overrides = {models.TextField: {"widget": forms.Textarea(attrs={"rows": 3, "cols": 80})}}

    class Media:
        css = {"all": (LIST_CSS,)}

    def state_summary(self, obj: Transfer) -> str:
        units = f"{obj.quantity} × {obj.product.sku}"
        source, destination = obj.from_warehouse.code, obj.to_warehouse.code
        where = {
            TransferStatus.PENDING: f"{units} held at {source}, waiting to be shipped to {destination}.",
            TransferStatus.IN_TRANSIT: f"{units} left {source}, on the way to {destination}.",
            TransferStatus.COMPLETED: f"{units} arrived at {destination}.",
            TransferStatus.CANCELLED: f"{units} stayed at {source}.",
        }
        return format_html("{} {}", self.status_badge(obj), where.get(obj.status, ""))

    @admin.display(description="Transfer", ordering="id")
    def short_id(self, obj: Transfer) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Transfer) -> str:
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "muted"))

    @admin.display(description="Product", ordering="product__sku")
    def sku(self, obj: Transfer) -> str:
        return abbreviated(obj.product.sku, title=obj.product.name)

    @admin.display(description="From", ordering="from_warehouse__code")
    def source(self, obj: Transfer) -> str:
        return abbreviated(obj.from_warehouse.code, title=obj.from_warehouse.name)

    @admin.display(description="To", ordering="to_warehouse__code")
    def destination(self, obj: Transfer) -> str:
        return abbreviated(obj.to_warehouse.code, title=obj.to_warehouse.name)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: Transfer) -> str:
        return short_datetime(obj.created_at)

    # --- add and change ---------------------------------------------------------------------

    def get_fieldsets(self, request: HttpRequest, obj: Transfer | None = None):
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Transfer | None = None) -> tuple[str, ...]:
        return () if obj is None else STATE_FIELDS

    def get_form(self, request: HttpRequest, obj: Transfer | None = None, change: bool = False, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        form = super().get_form(request, obj, change=change, **kwargs)
        refusal = getattr(request, _REFUSAL_ATTR, None)
        if obj is None and refusal:
            form = type(form.__name__, (form,), {"refusal": refusal})
        return form

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: dict | None = None) -> HttpResponse:
        try:
            return super().add_view(request, form_url, extra_context)
        except CreateRefused as refused:
            # The admin's transaction rolled back; render the same POST again with the service's reason.
            setattr(request, _REFUSAL_ATTR, refused.detail)
            return super().add_view(request, form_url, extra_context)

    def save_model(self, request: HttpRequest, obj: Transfer, form: forms.ModelForm, change: bool) -> None:
        if change:
            # Only the free-text fields are editable; never write status from a possibly stale form.
            obj.save(update_fields=["requested_by", "notes"])
            return
        try:
            created = services.create_transfer(
                product_id=obj.product_id,
                from_warehouse_id=obj.from_warehouse_id,
                to_warehouse_id=obj.to_warehouse_id,
                quantity=obj.quantity,
                requested_by=obj.requested_by,
                notes=obj.notes,
                user=request.user,
            )
        except DomainError as exc:
            raise CreateRefused(exc.detail) from exc
        # The admin goes on with ``obj`` (log entry, redirect): make it the created row.
        for field in Transfer._meta.concrete_fields:
            setattr(obj, field.attname, getattr(created, field.attname))
        obj._state.adding = False

    def has_delete_permission(self, request: HttpRequest, obj: Transfer | None = None) -> bool:
        return False  # a transfer is history; cancel it instead

    # --- actions ----------------------------------------------------------------------------

    def _transition(self, request: HttpRequest, queryset: QuerySet, service: Callable[..., Transfer], verb: str):
        # One transaction per transfer: a refusal for one does not undo or stop the others.
        for transfer in queryset.select_related("product").order_by("created_at", "id"):
            label = f"{transfer} ({transfer.quantity} units of {transfer.product.sku})"
            try:
                service(transfer_id=transfer.pk, user=request.user)
            except DomainError as exc:
                self.message_user(request, f"{label}: not {verb}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{label}: {verb}.", messages.SUCCESS)

    @admin.action(description="Start (ship) selected transfers", permissions=["change"])
    def start_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition(request, queryset, services.start_transfer, "started")

    @admin.action(description="Complete (receive) selected transfers", permissions=["change"])
    def complete_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition(request, queryset, services.complete_transfer, "completed")

    @admin.action(description="Cancel selected transfers", permissions=["change"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._transition(request, queryset, services.cancel_transfer, "cancelled")
