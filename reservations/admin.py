"""Back office for reservations: list, lines inline (read-only), Release / Confirm actions via the services.

Warehouse staff only: the storefront group holds view/change permissions on reservations for the API,
and a storefront account that is also ``is_staff`` must not see every storefront's reservations here.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from inventory.exceptions import DomainError
from inventory_site.permissions import is_warehouse_staff
from reservations import services
from reservations.models import ReservationLine, StockReservation


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
class StockReservationAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "order_id", "session_id", "reservation_type", "expires_at", "created_at")
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
