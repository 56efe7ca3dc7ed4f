"""Back office for reservations: list with lines and time left, lines inline (read-only), Confirm / Release
buttons on the detail page and as list actions, all through the services.

Warehouse staff only: the storefront group holds view/change permissions on reservations for the API,
and a storefront account that is also ``is_staff`` must not see every storefront's reservations here.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import admin, messages
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from inventory.admin_buttons import StateButton, StateButtonsMixin
from inventory.admin_columns import LIST_CSS, abbreviated, badge, short_datetime, time_left
from inventory.exceptions import DomainError
from inventory_site.permissions import is_warehouse_staff
from reservations import services
from reservations.models import ReservationLine, ReservationStatus, StockReservation

# Lines shown in the list before "+N more" (a cart can have dozens).
LIST_LINES = 3
STATUS_TONES = {
    ReservationStatus.ACTIVE: "info",
    ReservationStatus.FULFILLED: "ok",
    ReservationStatus.RELEASED: "muted",
    ReservationStatus.EXPIRED: "muted",
}


def _is_active(reservation: StockReservation) -> bool:
    return reservation.status == ReservationStatus.ACTIVE


def _end(service: Callable[..., StockReservation], verb: str) -> Callable[[HttpRequest, StockReservation], str]:
    def run(request: HttpRequest, reservation: StockReservation) -> str:
        service(reservation_id=reservation.pk, user=request.user)
        return f"Reservation {_label(reservation)} {verb}."

    return run


def _label(reservation: StockReservation) -> str:
    return reservation.order_id or reservation.session_id or str(reservation.pk)[:8]


# The detail page's buttons while the reservation is active; an overdue one is refused (and expired) by
# the service, which says so.
RESERVATION_BUTTONS = (
    StateButton(
        name="confirm",
        label="Confirm",
        title="Payment received: sell the held units (they leave the shelf)",
        applies=_is_active,
        run=_end(services.confirm_reservation, "confirmed: the units are sold"),
    ),
    StateButton(
        name="release",
        label="Release",
        title="Cancel the hold: the units become available again",
        applies=_is_active,
        run=_end(services.release_reservation, "released: the units are available again"),
        danger=True,
    ),
)


class ReservationLineInline(admin.TabularInline):
    model = ReservationLine
    fields = ("product", "warehouse", "quantity", "product_attributes")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class WarehouseFilter(admin.SimpleListFilter):
    title = "warehouse"
    parameter_name = "warehouse"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        from inventory.models import Warehouse

        return [(str(w.pk), w.code) for w in Warehouse.objects.order_by("code")]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(lines__warehouse_id=self.value()).distinct()
        return queryset


@admin.register(StockReservation)
class StockReservationAdmin(StateButtonsMixin, admin.ModelAdmin):
    state_buttons = RESERVATION_BUTTONS
    list_display = (
        "short_id",
        "status_badge",
        "order_or_cart",
        "lines_summary",
        "time_left",
        "kind",
        "created",
    )
    list_filter = ("status", "reservation_type", WarehouseFilter)
    search_fields = ("order_id", "session_id", "id")
    date_hierarchy = "created_at"
    inlines = [ReservationLineInline]
    actions = ["release_selected", "confirm_selected"]
    readonly_fields = (
        "id",
        "order_id",
        "session_id",
        "reservation_type",
        "status",
        "expires_at",
        "created_at",
        "released_at",
        "fulfilled_at",
        "created_by",
        "released_by",
    )
    # Compact, so the lines (inline, below) show without scrolling.
    fieldsets = (
        (None, {"fields": (("order_id", "session_id", "reservation_type"), ("status", "expires_at"), "id")}),
        (
            "History",
            {"fields": (("created_at", "created_by"), ("released_at", "released_by"), "fulfilled_at")},
        ),
    )

    class Media:
        css = {"all": (LIST_CSS,)}

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        # The list shows every reservation's lines: one query for all of them, with their SKUs.
        lines = ReservationLine.objects.select_related("product", "warehouse").order_by("id")
        return super().get_queryset(request).prefetch_related(Prefetch("lines", queryset=lines))

    def state_summary(self, obj: StockReservation) -> str:
        lines = list(obj.lines.select_related("product", "warehouse"))
        held = ", ".join(f"{line.product.sku} × {line.quantity} in {line.warehouse.code}" for line in lines)
        if obj.status == ReservationStatus.ACTIVE:
            left = time_left(obj.expires_at)
            text = (
                f"Holding {held}; {left}."
                if left != "expired"
                else f"Holding {held}, but past its expiry: it is expired at the next sweep or action."
            )
        elif obj.status == ReservationStatus.FULFILLED:
            text = f"Sold: {held}."
        else:
            text = f"Nothing held any more ({held} went back on sale)."
        return format_html("{} {}", self.status_badge(obj), text)

    @admin.display(description="Type", ordering="reservation_type")
    def kind(self, obj: StockReservation) -> str:
        return obj.get_reservation_type_display()

    @admin.display(description="Reservation", ordering="id")
    def short_id(self, obj: StockReservation) -> str:
        return str(obj.pk)[:8]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: StockReservation) -> str:
        return badge(obj.get_status_display(), STATUS_TONES.get(obj.status, "muted"))

    @admin.display(description="Order / cart", ordering="order_id")
    def order_or_cart(self, obj: StockReservation) -> str:
        if obj.order_id:
            return abbreviated(obj.order_id)
        return abbreviated(obj.session_id, title=f"Cart (session) {obj.session_id}") if obj.session_id else "–"

    @admin.display(description="Lines")
    def lines_summary(self, obj: StockReservation) -> str:
        """``SKU-1 × 2, SKU-2 × 1 +3 more``; the warehouse of each line on hover."""
        lines = list(obj.lines.all())
        shown = ", ".join(f"{line.product.sku} × {line.quantity}" for line in lines[:LIST_LINES])
        if len(lines) > LIST_LINES:
            shown += f" +{len(lines) - LIST_LINES} more"
        every = "; ".join(f"{line.product.sku} × {line.quantity} in {line.warehouse.code}" for line in lines)
        return format_html('<span class="nowrap" title="{}">{}</span>', every, shown)

    @admin.display(description="Time left", ordering="expires_at")
    def time_left(self, obj: StockReservation) -> str:
        """Minutes until the hold lapses while active; what became of it once closed."""
        if obj.status != ReservationStatus.ACTIVE:
            return obj.get_status_display()
        return time_left(obj.expires_at, timezone.now())

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: StockReservation) -> str:
        return short_datetime(obj.created_at)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # reservations come from checkout (the API), not from the back office

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_warehouse_staff(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_warehouse_staff(request.user) and super().has_view_permission(request, obj)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return is_warehouse_staff(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _apply(self, request: HttpRequest, queryset: QuerySet, action, verb: str) -> None:
        done, failed = 0, []
        for reservation_id in queryset.values_list("pk", flat=True):
            try:
                action(reservation_id=reservation_id, user=request.user)
                done += 1
            except DomainError as exc:
                failed.append(f"{reservation_id}: {exc.detail}")
        if done:
            self.message_user(request, f"{verb} {done} reservation(s).", messages.SUCCESS)
        for failure in failed:
            self.message_user(request, failure, messages.ERROR)

    @admin.action(description="Release selected reservations", permissions=["change"])
    def release_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, services.release_reservation, "Released")

    @admin.action(description="Confirm selected reservations (sell the units)", permissions=["change"])
    def confirm_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._apply(request, queryset, services.confirm_reservation, "Confirmed")
