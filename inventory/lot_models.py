"""Lots (batches) of lot-tracked products, and the audit of moves between stock states."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class StockLot(models.Model):
    """The units of one batch of an item. A tracked item's lots add up to its ``total_quantity``
    (``check_ledger`` proves it); they change only under the item's row lock (``inventory.services.lots``)."""

    item = models.ForeignKey("inventory.InventoryItem", on_delete=models.PROTECT, related_name="lots")
    batch_number = models.CharField(max_length=100)
    expiry_date = models.DateField(null=True, blank=True)
    received_date = models.DateField(default=timezone.localdate)
    supplier_id = models.IntegerField(null=True, blank=True)
    quantity = models.IntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # When ``lot.expiring`` was sent (once per lot), and how many expired units were last reported as
    # held by reservations (``lot.expired`` is sent again only when that shortfall changes).
    expiring_notified_at = models.DateTimeField(null=True, blank=True, editable=False)
    expired_shortfall_reported = models.IntegerField(default=0, editable=False)

    class Meta:
        ordering = [F("expiry_date").asc(nulls_last=True), "received_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["item", "batch_number"], name="stock_lot_batch_unique_per_item"),
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stock_lot_quantity_non_negative"),
            models.CheckConstraint(condition=~Q(batch_number=""), name="stock_lot_batch_number_not_empty"),
            models.CheckConstraint(
                condition=Q(expired_shortfall_reported__gte=0), name="stock_lot_shortfall_non_negative"
            ),
        ]
        indexes = [
            models.Index(
                fields=["expiry_date"], condition=Q(quantity__gt=0, expiry_date__isnull=False), name="idx_lot_expiry"
            ),
        ]

    def __str__(self) -> str:
        return self.batch_number

    def is_expired(self, today) -> bool:
        """Past its expiry date (a lot is still sellable on the day it expires)."""
        return self.expiry_date is not None and self.expiry_date < today


class StockStateMove(models.Model):
    """Units of an item moved between states (available, damaged, quality control, safety stock).

    On hand does not change, so there is no ledger row; this is the audit: who, when, how many, from,
    to, why. ``check_ledger`` proves each state's quantity from these rows and the ledger.
    """

    item = models.ForeignKey("inventory.InventoryItem", on_delete=models.PROTECT, related_name="state_moves")
    quantity = models.IntegerField()
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    reason = models.CharField(max_length=255)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="state_move_quantity_positive"),
            models.CheckConstraint(condition=~Q(from_state=F("to_state")), name="state_move_states_differ"),
            models.CheckConstraint(
                condition=Q(from_state__in=["available", "damaged", "quality_control", "safety_stock"])
                & Q(to_state__in=["available", "damaged", "quality_control", "safety_stock"]),
                name="state_move_states_valid",
            ),
        ]
        indexes = [models.Index(fields=["item", "created_at"], name="idx_state_move_item")]

    def __str__(self) -> str:
        return f"{self.quantity} {self.from_state} → {self.to_state}"


class LotExpiryStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class LotExpiryAlert(models.Model):
    """Expired units of a lot that the expiry sweep could not write off because reservations hold them.

    Raised and kept up to date by ``inventory.services.expiry`` under the item's row lock (at most one
    open alert per lot); resolved once the lot's expired units are all gone.
    """

    item = models.ForeignKey("inventory.InventoryItem", on_delete=models.PROTECT, related_name="lot_expiry_alerts")
    lot = models.ForeignKey(StockLot, on_delete=models.PROTECT, related_name="expiry_alerts")
    # Expired units still held now (0 once resolved), and how many were held when the alert was raised.
    shortfall = models.IntegerField()
    shortfall_when_raised = models.IntegerField()
    status = models.CharField(max_length=20, choices=LotExpiryStatus.choices, default=LotExpiryStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    resolved_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lot"], condition=Q(status="open"), name="lot_expiry_alert_one_open_per_lot"
            ),
            models.CheckConstraint(condition=Q(shortfall__gte=0), name="lot_expiry_alert_shortfall_non_negative"),
            models.CheckConstraint(
                condition=Q(shortfall_when_raised__gt=0), name="lot_expiry_alert_raised_shortfall_positive"
            ),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="idx_lot_expiry_alert_status")]

    def __str__(self) -> str:
        return f"{self.lot.batch_number}: {self.shortfall} expired unit(s) held"
