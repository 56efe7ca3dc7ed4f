"""Stock reservations (seed ``stock_reservations``): a hold on units at checkout, with one or more lines."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import InventoryItem, Product, Warehouse


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    RELEASED = "released", "Released"
    FULFILLED = "fulfilled", "Fulfilled"


class ReservationType(models.TextChoices):
    ORDER = "order", "Order"
    CART = "cart", "Cart"
    MANUAL = "manual", "Manual"


class StockReservation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order_id = models.CharField(max_length=100, null=True, blank=True)
    session_id = models.CharField(max_length=100, null=True, blank=True)
    reservation_type = models.CharField(max_length=20, choices=ReservationType.choices, default=ReservationType.ORDER)
    status = models.CharField(max_length=20, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE)

    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    released_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="stock_reservations_future_expiry"
            ),
            models.UniqueConstraint(
                fields=["order_id"],
                condition=Q(status="active") & Q(order_id__isnull=False),
                name="one_active_reservation_per_order",
            ),
        ]
        indexes = [
            models.Index(fields=["expires_at"], condition=Q(status="active"), name="idx_reservations_expires_at"),
            models.Index(fields=["order_id"], name="idx_reservations_order"),
            models.Index(fields=["status", "created_at"], name="idx_reservations_status_date"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id or self.session_id or self.id} ({self.status})"

    @property
    def is_overdue(self) -> bool:
        return self.status == ReservationStatus.ACTIVE and self.expires_at <= timezone.now()


class ReservationLine(models.Model):
    """Units of one product held in one warehouse for a reservation."""

    reservation = models.ForeignKey(StockReservation, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="reservation_lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    quantity = models.IntegerField()
    product_attributes = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="stock_reservations_quantity_positive"),
        ]
        indexes = [models.Index(fields=["product", "warehouse"], name="idx_resline_product_warehouse")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}@{self.warehouse_id}"


class PurgedReservationTally(models.Model):
    """What ``purge_finished_reservations`` deleted, per warehouse and type (counted as in ``/metrics``).

    The reservation counters of ``/metrics`` are "reservations still in the table + this tally",
    so deleting old reservations never makes a counter go down.
    """

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    reservation_type = models.CharField(max_length=20, choices=ReservationType.choices)
    reservations = models.PositiveBigIntegerField(default=0)
    expiries = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["warehouse", "reservation_type"], name="purged_tally_unique"),
            models.CheckConstraint(condition=Q(expiries__lte=F("reservations")), name="purged_tally_expiries_le_all"),
        ]

    def __str__(self) -> str:
        return f"{self.reservation_type}@{self.warehouse_id}: {self.reservations} purged"
