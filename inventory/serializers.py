"""Input validation and output shapes of the stock API. Serializers validate; services decide."""

from __future__ import annotations

from rest_framework import serializers

from inventory.models import InventoryTransaction, Product, StockState, TransactionType, Warehouse
from inventory.services import ADJUSTABLE_TYPES, INBOUND_ONLY, MAX_QUANTITY, OUTBOUND_ONLY


def gtin_is_valid(code: str) -> bool:
    """GTIN-8/12/13/14 with a correct check digit."""
    if not code.isdigit() or len(code) not in (8, 12, 13, 14):
        return False
    digits = [int(d) for d in code]
    total = sum(d * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


class Quantity(serializers.IntegerField):
    """An int32-safe quantity (the database column is a 32-bit integer)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_QUANTITY)
        super().__init__(**kwargs)


# --- output ------------------------------------------------------------------------------------


class LocationSerializer(serializers.Serializer):
    zone = serializers.CharField(max_length=10, allow_blank=True, required=False)
    aisle = serializers.CharField(max_length=10, allow_blank=True, required=False)
    shelf = serializers.CharField(max_length=10, allow_blank=True, required=False)


class ItemSerializer(serializers.Serializer):
    """Documents ``stock_cache.item_payload``, which builds the actual JSON."""

    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField()
    sku = serializers.CharField()
    available_quantity = serializers.IntegerField(help_text="Free to reserve or sell.")
    reserved_quantity = serializers.IntegerField(help_text="Held by reservations and pending transfers.")
    damaged_quantity = serializers.IntegerField(help_text="On hand, not for sale: damaged.")
    quality_control_quantity = serializers.IntegerField(help_text="On hand, not for sale: in quality control.")
    safety_stock_quantity = serializers.IntegerField(help_text="On hand, kept back as safety stock.")
    total_quantity = serializers.IntegerField(help_text="On hand: the sum of the five quantities above.")
    next_expiry_date = serializers.DateField(
        allow_null=True, help_text="Earliest expiry among the item's lots with units (null unless lot-tracked)."
    )
    reorder_point = serializers.IntegerField()
    reorder_quantity = serializers.IntegerField()
    max_stock_level = serializers.IntegerField()
    barcode = serializers.CharField(allow_null=True)
    location = LocationSerializer()
    last_count_date = serializers.DateField(allow_null=True)
    last_movement_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    version = serializers.IntegerField(help_text="Grows with every change of the item: the higher version is newer.")


class AvailabilityEntrySerializer(serializers.Serializer):
    """A product's quantities summed over its items (``stock_cache.SUMMED_FIELDS``)."""

    available_quantity = serializers.IntegerField()
    reserved_quantity = serializers.IntegerField()
    damaged_quantity = serializers.IntegerField()
    quality_control_quantity = serializers.IntegerField()
    safety_stock_quantity = serializers.IntegerField()
    total_quantity = serializers.IntegerField()


class ProductStockSerializer(AvailabilityEntrySerializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    items = ItemSerializer(many=True)


class AvailabilitySerializer(serializers.Serializer):
    results = serializers.DictField(child=AvailabilityEntrySerializer())
    unknown_product_ids = serializers.ListField(child=serializers.IntegerField())


class LotSerializer(serializers.Serializer):
    """One lot (batch) of a lot-tracked product in one warehouse (``selectors.lots_of``)."""

    id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField()
    batch_number = serializers.CharField()
    expiry_date = serializers.DateField(allow_null=True)
    received_date = serializers.DateField()
    supplier_id = serializers.IntegerField(allow_null=True)
    quantity = serializers.IntegerField()
    expired = serializers.BooleanField(help_text="Past its expiry date: not for sale (sellable on the day itself).")


class ProductLotsSerializer(serializers.Serializer):
    product_id = serializers.IntegerField()
    sku = serializers.CharField()
    track_lots = serializers.BooleanField()
    requires_expiry = serializers.BooleanField()
    lots = LotSerializer(many=True, help_text="Lots with units, first-expired-first-out (undated last).")


class StockStateMoveSerializer(serializers.Serializer):
    """Documents ``StockStateMove`` as the move-state endpoint answers it."""

    id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    from_ = serializers.ChoiceField(choices=StockState.choices, help_text="The state the units left.")
    to = serializers.ChoiceField(choices=StockState.choices)
    reason = serializers.CharField()
    created_by = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()

    def get_fields(self):
        return _from_keyword(super().get_fields())


def _from_keyword(fields: dict) -> dict:
    """Rename ``from_`` to ``from``: a Python keyword cannot be declared as a class attribute."""
    return {("from" if name == "from_" else name): field for name, field in fields.items()}


class StateMoveResultSerializer(ItemSerializer):
    move = StockStateMoveSerializer()


class TransactionSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField()
    created_by = serializers.IntegerField(source="created_by_id", allow_null=True)

    class Meta:
        model = InventoryTransaction
        fields = [
            "transaction_number",
            "transaction_type",
            "product_id",
            "warehouse_id",
            "quantity_change",
            "previous_quantity",
            "new_quantity",
            "reference_type",
            "reference_id",
            "reason",
            "notes",
            "cost_per_unit",
            "total_cost",
            "batch_number",
            "supplier_id",
            "received_date",
            "expiry_date",
            "stock_state",
            "created_by",
            "created_at",
        ]


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    detail = serializers.CharField()
    errors = serializers.DictField(required=False)


# --- input -------------------------------------------------------------------------------------


class StockCountInput(serializers.Serializer):
    """Body of ``PUT /inventory/{product_id}``: the counted on-hand quantity plus optional settings."""

    quantity = Quantity()
    barcode = serializers.CharField(max_length=64, allow_null=True, required=False)
    location = LocationSerializer(required=False)
    reorder_point = Quantity(required=False)
    reorder_quantity = Quantity(required=False)
    max_stock = Quantity(required=False)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True)
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    expected_quantity = Quantity(required=False)
    # A lot-tracked product is counted lot by lot: the batch counted (created when new, with its expiry).
    batch_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)

    def item_settings(self) -> dict:
        data = self.validated_data
        settings: dict = {}
        if "barcode" in data:
            settings["barcode"] = data["barcode"] or None  # blank clears it
        for name in ("reorder_point", "reorder_quantity"):
            if name in data:
                settings[name] = data[name]
        if "max_stock" in data:
            settings["max_stock_level"] = data["max_stock"]
        for part, value in (data.get("location") or {}).items():
            settings[f"location_{part}"] = value
        return settings


class LedgerDetailsInput(serializers.Serializer):
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    reference_type = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    reference_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    cost_per_unit = serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, required=False, allow_null=True, default=None
    )
    batch_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    supplier_id = serializers.IntegerField(
        min_value=1, max_value=MAX_QUANTITY, required=False, allow_null=True, default=None
    )
    received_date = serializers.DateField(required=False, allow_null=True, default=None)
    expiry_date = serializers.DateField(required=False, allow_null=True, default=None)


class AdjustInput(LedgerDetailsInput):
    warehouse_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity_change = serializers.IntegerField(min_value=-MAX_QUANTITY, max_value=MAX_QUANTITY)
    transaction_type = serializers.ChoiceField(choices=ADJUSTABLE_TYPES)
    expected_quantity = Quantity(required=False, allow_null=True, default=None)
    state = serializers.ChoiceField(
        choices=StockState.choices,
        default=StockState.AVAILABLE,
        help_text="Which units change: available by default; dispose of damaged stock with damage + damaged.",
    )

    def validate_quantity_change(self, value: int) -> int:
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")
        return value

    def validate(self, attrs: dict) -> dict:
        kind, change = attrs["transaction_type"], attrs["quantity_change"]
        if kind in INBOUND_ONLY and change < 0:
            raise serializers.ValidationError({"quantity_change": [f"A {kind} adds stock: use a positive change."]})
        if kind in OUTBOUND_ONLY and change > 0:
            raise serializers.ValidationError({"quantity_change": [f"A {kind} removes stock: use a negative change."]})
        return attrs


class MoveStateInput(serializers.Serializer):
    """Body of ``POST /inventory/{product_id}/move-state``: ``from`` and ``to`` are stock states."""

    warehouse_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = Quantity(min_value=1)
    from_ = serializers.ChoiceField(choices=StockState.choices)
    to = serializers.ChoiceField(choices=StockState.choices)
    reason = serializers.CharField(max_length=255)

    def get_fields(self):
        return _from_keyword(super().get_fields())

    def validate(self, attrs: dict) -> dict:
        if attrs["from"] == attrs["to"]:
            raise serializers.ValidationError({"to": ['Must be another state than "from".']})
        return attrs


class WarehouseQuery(serializers.Serializer):
    warehouse_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


class RequiredWarehouseQuery(serializers.Serializer):
    warehouse_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)


class TransactionQuery(WarehouseQuery):
    type = serializers.ChoiceField(choices=TransactionType.choices, required=False)
    since = serializers.DateTimeField(required=False)


class LowStockQuery(WarehouseQuery):
    threshold = Quantity(required=False)


class AvailabilityQuery(WarehouseQuery):
    MAX_PRODUCTS = 500
    product_ids = serializers.CharField(max_length=20000)

    def validate_product_ids(self, value: str) -> list[int]:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise serializers.ValidationError("Give at least one product id.")
        if len(parts) > self.MAX_PRODUCTS:
            raise serializers.ValidationError(f"At most {self.MAX_PRODUCTS} product ids per request.")
        try:
            ids = [int(p) for p in parts]
        except ValueError:
            raise serializers.ValidationError("Product ids must be integers separated by commas.") from None
        if any(not 1 <= i < 2**63 for i in ids):
            raise serializers.ValidationError("Product ids must be positive integers.")
        return list(dict.fromkeys(ids))


# --- warehouses and products --------------------------------------------------------------------

TRACKING_FIELDS = ("track_lots", "requires_expiry")


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "address", "is_active", "priority", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class ProductSerializer(serializers.ModelSerializer):
    category = serializers.CharField(
        source="category.name", max_length=100, allow_null=True, allow_blank=True, required=False, default=None
    )
    barcode = serializers.CharField(max_length=14, allow_null=True, allow_blank=True, required=False, default=None)

    class Meta:
        model = Product
        fields = [
            "id",
            "sku",
            "name",
            "barcode",
            "category",
            "is_active",
            "track_lots",
            "requires_expiry",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {
            "track_lots": {"help_text": "Every unit on hand is in a lot. Changes only while no units are on hand."},
            "requires_expiry": {"help_text": "Lots need an expiry date (lot-tracked products only)."},
        }

    def validate_barcode(self, value: str | None) -> str | None:
        if not value:
            return None
        if not gtin_is_valid(value):
            raise serializers.ValidationError("Not a valid GTIN (8, 12, 13 or 14 digits with a check digit).")
        clash = Product.objects.filter(barcode=value)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError("Another product has this barcode.")
        return value

    def product_fields(self) -> dict:
        """The validated fields for ``inventory.catalog``; ``category`` is given by name (blank: none)."""
        fields = {k: v for k, v in self.validated_data.items() if k not in TRACKING_FIELDS}
        if "category" in fields:
            fields["category"] = ((fields.pop("category") or {}).get("name") or "").strip() or None
        return fields

    def tracking_fields(self) -> dict:
        """The validated lot-tracking settings, for ``services.set_lot_tracking``."""
        return {k: v for k, v in self.validated_data.items() if k in TRACKING_FIELDS}
