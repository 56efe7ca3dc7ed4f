"""The event log (outbox) and what follows it: relay cursors, webhook endpoints and their deliveries.

Imported by ``inventory.models`` so Django registers them with the app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class EventType(models.TextChoices):
    INVENTORY_UPDATED = "inventory.updated"
    LOW_STOCK_RAISED = "low_stock.raised"
    LOW_STOCK_RESOLVED = "low_stock.resolved"
    RESERVATION_CREATED = "reservation.created"
    RESERVATION_CONFIRMED = "reservation.confirmed"
    RESERVATION_RELEASED = "reservation.released"
    RESERVATION_EXPIRED = "reservation.expired"
    TRANSFER_CREATED = "transfer.created"
    TRANSFER_STARTED = "transfer.started"
    TRANSFER_COMPLETED = "transfer.completed"
    TRANSFER_CANCELLED = "transfer.cancelled"
    LOT_EXPIRING = "lot.expiring"
    LOT_EXPIRED = "lot.expired"


class Event(models.Model):
    """One committed change, written in the same transaction as the change (``inventory.events``).

    ``id`` is the feed's cursor. On PostgreSQL it is the writing transaction's id (``xid8``) times
    2**20 plus the event's place in that transaction, so ids follow transaction ids: a reader that
    only takes events of transactions older than its snapshot's ``xmin`` never skips one that
    commits later (``inventory.feed``). On SQLite, whose writers are serialised, it is a counter.
    """

    id = models.BigIntegerField(primary_key=True)
    # The writing transaction (PostgreSQL's xid; a per-transaction token on SQLite): several changes
    # to one item in one transaction fold into one inventory.updated (the unique constraint below).
    txid = models.BigIntegerField()
    type = models.CharField(max_length=40, choices=EventType.choices)
    created_at = models.DateTimeField(default=timezone.now)
    product_id = models.BigIntegerField(null=True, blank=True)
    warehouse_id = models.BigIntegerField(null=True, blank=True)
    item_id = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["txid", "item_id"],
                condition=Q(type="inventory.updated"),
                name="event_one_item_update_per_transaction",
            )
        ]
        indexes = [
            models.Index(fields=["product_id", "id"], name="idx_event_product"),
            models.Index(fields=["warehouse_id", "id"], name="idx_event_warehouse"),
            models.Index(fields=["created_at"], name="idx_event_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.type}"

    def as_json(self) -> dict:
        """The event as the feed, the live feed and webhooks carry it."""
        return {
            "id": self.id,
            "type": self.type,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "product_id": self.product_id,
            "warehouse_id": self.warehouse_id,
            "data": self.data,
        }


class RelayCursor(models.Model):
    """How far a relay sink (``redis``: cache, live feed and pub/sub; ``webhooks``) has read the event log.

    A relay locks its sink's row while it handles a batch, so two relays never handle the same events.
    """

    name = models.CharField(max_length=40, primary_key=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.name} at {self.position}"


class WebhookEndpoint(models.Model):
    """A URL that receives the events it subscribes to, signed with its secret."""

    # Not a URLField: its validator refuses host names without a dot (``http://erp:8080/``), which are
    # fine with WEBHOOK_ALLOW_PRIVATE_URLS; inventory.webhooks.addresses checks the URL instead.
    url = models.CharField(max_length=2000)
    events = models.JSONField(
        default=list, help_text='Event types or patterns: "inventory.updated", "reservation.*", "*".'
    )
    secret = models.CharField(max_length=128)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True, default="")
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=255, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one endpoint: attempted until it succeeds or runs out of attempts.

    It keeps its own copy of the event's JSON, so a delivery outlives the event's retention.
    """

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.BigIntegerField()
    event_type = models.CharField(max_length=40)
    # Deliveries about one item (or, without an item, one product) go out in event order per endpoint.
    ordering_key = models.CharField(max_length=60, blank=True, default="")
    body = models.TextField(help_text="The event JSON, exactly as sent.")
    status = models.CharField(max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="idx_delivery_due"),
            models.Index(fields=["endpoint", "ordering_key", "event_id"], name="idx_delivery_order"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of event {self.event_id} to {self.endpoint_id}"
