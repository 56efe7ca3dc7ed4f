"""Input validation and output shape of the transfers API. Serializers validate; services decide."""

from __future__ import annotations

from rest_framework import serializers

from inventory.serializers import Quantity
from transfers.models import Transfer, TransferStatus

MAX_ID = 2**63 - 1


class TransferSerializer(serializers.ModelSerializer):
    product_id = serializers.IntegerField(read_only=True)
    from_warehouse_id = serializers.IntegerField(read_only=True)
    to_warehouse_id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=TransferStatus.choices, read_only=True)

    class Meta:
        model = Transfer
        fields = [
            "id",
            "product_id",
            "from_warehouse_id",
            "to_warehouse_id",
            "quantity",
            "status",
            "notes",
            "requested_by",
            "created_at",
            "started_at",
            "completed_at",
            "cancelled_at",
        ]
        read_only_fields = fields


class TransferInput(serializers.Serializer):
    """Body of ``POST /inventory/transfer``."""

    product_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    from_warehouse_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    to_warehouse_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    quantity = Quantity(min_value=1)
    requested_by = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    notes = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        if attrs["from_warehouse_id"] == attrs["to_warehouse_id"]:
            raise serializers.ValidationError({"to_warehouse_id": ["Must differ from from_warehouse_id."]})
        return attrs


class TransferQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=TransferStatus.choices, required=False)
    warehouse_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
