"""A movement of stock from one warehouse to another: pending -> in_transit -> completed, or cancelled.

Status and quantities only change through ``transfers.services``; the constraints here are the
last line of defence if anything else tries.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from inventory.models import Product, Warehouse


class TransferStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_TRANSIT = "in_transit", "In transit"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


def _actor_field() -> models.ForeignKey:
    # PROTECT: the history must keep saying who did each step; deactivate users instead.
    return models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+", editable=False
    )


class Transfer(models.Model):
    """``quantity`` units of one product moving from ``from_warehouse`` to ``to_warehouse``.

    While pending the units are held (reserved) at the source; in transit they are on no shelf;
    completed puts them on the destination's shelf.
    """

    # A UUID so ids cannot be guessed or enumerated through the API.
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="transfers")
    from_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_out")
    to_warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transfers_in")
    quantity = models.IntegerField()
    status = models.CharField(
        max_length=20, choices=TransferStatus.choices, default=TransferStatus.PENDING, editable=False
    )
    requested_by = models.CharField(max_length=255, blank=True, default="", help_text="Who asked for it (free text).")
    notes = models.TextField(blank=True, default="")

    created_at = models.DateTimeField(default=timezone.now, editable=False)
    started_at = models.DateTimeField(null=True, blank=True, editable=False)
    completed_at = models.DateTimeField(null=True, blank=True, editable=False)
    cancelled_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = _actor_field()
    started_by = _actor_field()
    completed_by = _actor_field()
    cancelled_by = _actor_field()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(from_warehouse=F("to_warehouse")), name="transfer_warehouses_differ"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="transfer_quantity_positive"),
            models.CheckConstraint(condition=Q(status__in=TransferStatus.values), name="transfer_status_valid"),
        ]
        indexes = [
            models.Index(fields=["status"], name="idx_transfer_status"),
            models.Index(F("created_at").desc(), name="idx_transfer_created"),
        ]

    def __str__(self) -> str:
        return f"Transfer {str(self.pk)[:8]}"
