"""Warehouses, products, stock per (product, warehouse) and the ledger of every on-hand change.

Quantities are only ever written by ``inventory.services``; the constraints here are the last
line of defence if anything else tries.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class TimeStamped(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Warehouse(TimeStamped):
    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=200)
    address = models.TextField(blank=True, default="")
    is_active = models.BooleanField(default=True)
    # Lower numbers are allocated from first when a reservation does not name a warehouse.
    priority = models.PositiveSmallIntegerField(default=100)

    class Meta:
        ordering = ["priority", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(priority__gte=0), name="warehouse_priority_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class Category(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(TimeStamped):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    barcode = models.CharField(
        max_length=14, unique=True, null=True, blank=True, help_text="GTIN (EAN-8/UPC-A/EAN-13/GTIN-14)."
    )
    category = models.ForeignKey(Category, on_delete=models.PROTECT, null=True, blank=True, related_name="products")
    is_active = models.BooleanField(default=True)
    # Lot-tracked: every unit on hand belongs to a lot (batch) of its item (``inventory.lot_models``).
    track_lots = models.BooleanField(
        "track lots",
        default=False,
        db_default=False,
        help_text="Every unit on hand belongs to a batch; sales pick earliest expiry first.",
    )
    requires_expiry = models.BooleanField(
        default=False, db_default=False, help_text="Lots of this product must carry an expiry date."
    )

    class Meta:
        ordering = ["sku"]

    def __str__(self) -> str:
        return f"{self.sku} – {self.name}"


def default_reorder_point() -> int:
    """A new item's reorder point: ``LOW_STOCK_THRESHOLD`` (read when the item is created)."""
    return settings.LOW_STOCK_THRESHOLD


class StockState(models.TextChoices):
    """Where on-hand units are: only ``available`` units can be reserved or sold."""

    AVAILABLE = "available", "Available"
    DAMAGED = "damaged", "Damaged"
    QUALITY_CONTROL = "quality_control", "Quality control"
    SAFETY_STOCK = "safety_stock", "Safety stock"


# On hand but not for sale: neither available nor held.
NOT_FOR_SALE = (StockState.DAMAGED, StockState.QUALITY_CONTROL, StockState.SAFETY_STOCK)


def state_field(state: str) -> str:
    """The item column holding the units in ``state``."""
    return f"{state}_quantity"


class InventoryItem(models.Model):
    """Stock of one product in one warehouse.

    On hand = available (sellable) + reserved (held for reservations and transfers) + damaged +
    quality control + safety stock; only ``available`` can be reserved or sold.
    """

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="inventory_items")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="inventory_items")

    available_quantity = models.IntegerField(default=0)
    reserved_quantity = models.IntegerField(default=0)
    damaged_quantity = models.IntegerField(default=0, db_default=0)
    quality_control_quantity = models.IntegerField(default=0, db_default=0)
    safety_stock_quantity = models.IntegerField(default=0, db_default=0)
    total_quantity = models.GeneratedField(
        expression=F("available_quantity")
        + F("reserved_quantity")
        + F("damaged_quantity")
        + F("quality_control_quantity")
        + F("safety_stock_quantity"),
        output_field=models.IntegerField(),
        db_persist=True,
    )
    # Earliest expiry among the item's lots with units (lot-tracked products; kept by the lot services).
    next_expiry_date = models.DateField(null=True, blank=True, editable=False)

    reorder_point = models.IntegerField(default=default_reorder_point)
    reorder_quantity = models.IntegerField(default=100)
    max_stock_level = models.IntegerField(default=1000)

    location_zone = models.CharField(max_length=10, blank=True, default="")
    location_aisle = models.CharField(max_length=10, blank=True, default="")
    location_shelf = models.CharField(max_length=10, blank=True, default="")
    barcode = models.CharField(max_length=64, unique=True, null=True, blank=True)

    last_count_date = models.DateField(null=True, blank=True)
    last_movement_at = models.DateTimeField(default=timezone.now)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped under the row lock by every change; orders cache writes (stock_cache) so a slow
    # writer or reader can never put an older state back into the cache.
    version = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["product_id", "warehouse_id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "warehouse"], name="inventory_items_product_warehouse_unique"),
            models.CheckConstraint(
                condition=Q(available_quantity__gte=0) & Q(reserved_quantity__gte=0),
                name="inventory_items_quantities_positive",
            ),
            models.CheckConstraint(
                condition=Q(reorder_point__gte=0) & Q(reorder_quantity__gte=0) & Q(max_stock_level__gte=0),
                name="inventory_items_reorder_settings_positive",
            ),
            models.CheckConstraint(
                condition=Q(damaged_quantity__gte=0)
                & Q(quality_control_quantity__gte=0)
                & Q(safety_stock_quantity__gte=0),
                name="inventory_items_states_non_negative",
            ),
        ]
        indexes = [
            models.Index(
                fields=["warehouse", "available_quantity"],
                condition=Q(available_quantity__lte=F("reorder_point")),
                name="idx_inventory_low_stock",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product.sku} @ {self.warehouse.code}"

    @property
    def is_low_stock(self) -> bool:
        return self.available_quantity <= self.reorder_point

    def units_not_for_sale(self) -> list[tuple[str, int]]:
        """(state label, units) of the not-for-sale states that hold units, as pages name them."""
        return [(state.label.lower(), units) for state in NOT_FOR_SALE if (units := getattr(self, state_field(state)))]

    @property
    def on_hand(self) -> int:
        """Every unit in the warehouse, whatever its state (``total_quantity`` as the database computes it)."""
        return (
            self.available_quantity
            + self.reserved_quantity
            + self.damaged_quantity
            + self.quality_control_quantity
            + self.safety_stock_quantity
        )


class TransactionType(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    SALE = "sale", "Sale"
    RETURN = "return", "Return"
    ADJUSTMENT = "adjustment", "Adjustment"
    TRANSFER = "transfer", "Transfer"
    DAMAGE = "damage", "Damage"
    THEFT = "theft", "Theft"
    EXPIRED = "expired", "Expired"
    COUNT = "count", "Cycle count"


class LedgerQuerySet(models.QuerySet):
    """The ledger is append-only: bulk updates and deletes are refused."""

    def update(self, **kwargs):  # type: ignore[override]
        raise TypeError("ledger rows are never updated")

    def delete(self):  # type: ignore[override]
        raise TypeError("ledger rows are never deleted")


class InventoryTransaction(models.Model):
    """One on-hand change of one item. The sum of an item's rows equals its ``total_quantity``."""

    transaction_number = models.CharField(max_length=50, unique=True, editable=False)
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="transactions")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="transactions")

    transaction_type = models.CharField(max_length=20, choices=TransactionType.choices)
    quantity_change = models.IntegerField()
    previous_quantity = models.IntegerField()
    new_quantity = models.IntegerField()

    reference_type = models.CharField(max_length=50, blank=True, default="")
    reference_id = models.CharField(max_length=100, blank=True, default="")

    reason = models.CharField(max_length=255, blank=True, default="")
    notes = models.TextField(blank=True, default="")
    cost_per_unit = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    total_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)

    # PROTECT: the audit trail must keep saying who did it; deactivate users instead.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    batch_number = models.CharField(max_length=100, blank=True, default="")
    supplier_id = models.IntegerField(null=True, blank=True)
    received_date = models.DateField(null=True, blank=True)
    expiry_date = models.DateField(null=True, blank=True)
    # The state whose units changed: ``available`` (which includes units held by reservations and
    # transfers) or one of the not-for-sale states (disposing of damaged stock, receiving into QC).
    # db_default too: the set-based statements (reservations.statements) insert rows in SQL.
    stock_state = models.CharField(
        max_length=20, choices=StockState.choices, default=StockState.AVAILABLE, db_default=StockState.AVAILABLE
    )

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(quantity_change=0), name="ledger_quantity_change_non_zero"),
            models.CheckConstraint(
                condition=Q(new_quantity=F("previous_quantity") + F("quantity_change")),
                name="ledger_new_is_previous_plus_change",
            ),
            models.CheckConstraint(
                condition=Q(previous_quantity__gte=0) & Q(new_quantity__gte=0),
                name="ledger_quantities_non_negative",
            ),
        ]
        indexes = [
            models.Index(F("product"), F("created_at").desc(), name="idx_tx_product_date"),
            models.Index(F("warehouse"), F("created_at").desc(), name="idx_tx_warehouse_date"),
            models.Index(fields=["reference_type", "reference_id"], name="idx_tx_reference"),
            models.Index(fields=["product", "warehouse", "id"], name="idx_tx_item_chain"),
        ]

    def __str__(self) -> str:
        return self.transaction_number

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise TypeError("ledger rows are never updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger rows are never deleted")


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key`` header, replayed for 24 h."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    status_code = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return self.key


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


ACTIVE_ALERT_STATUSES = (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED)


class LowStockAlert(models.Model):
    """An item at or below its reorder point (``inventory.alerts`` raises and resolves them).

    An item has at most one active (open or acknowledged) alert; resolved ones are the history.
    """

    item = models.ForeignKey(InventoryItem, on_delete=models.PROTECT, related_name="low_stock_alerts")
    # The seed's column names; both hold the values at raise time (lists show the item's live ones).
    current_quantity = models.IntegerField(
        "quantity when raised", help_text="Available quantity when the alert was raised."
    )
    reorder_point = models.IntegerField(
        "reorder point when raised", help_text="The item's reorder point when the alert was raised."
    )
    status = models.CharField(max_length=20, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["item"],
                condition=Q(status__in=["open", "acknowledged"]),
                name="low_stock_alert_one_active_per_item",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["open", "acknowledged", "resolved"]), name="low_stock_alert_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="resolved") | Q(resolved_at__isnull=False),
                name="low_stock_alert_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["status", "-created_at"], name="idx_low_stock_alert_status")]

    def __str__(self) -> str:
        return f"Low stock alert {self.pk} ({self.status})"


# The event log and webhooks, and lots and state moves, live in their own modules; importing them here
# registers them with the app.
from inventory.event_models import (  # noqa: E402
    DeliveryStatus,
    Event,
    EventType,
    RelayCursor,
    WebhookDelivery,
    WebhookEndpoint,
)
from inventory.lot_models import StockLot, StockStateMove  # noqa: E402

__all__ = [
    "ACTIVE_ALERT_STATUSES",
    "NOT_FOR_SALE",
    "AlertStatus",
    "Category",
    "DeliveryStatus",
    "Event",
    "EventType",
    "IdempotencyKey",
    "InventoryItem",
    "InventoryTransaction",
    "LowStockAlert",
    "Product",
    "RelayCursor",
    "StockLot",
    "StockState",
    "StockStateMove",
    "TransactionType",
    "Warehouse",
    "WebhookDelivery",
    "WebhookEndpoint",
    "state_field",
]
