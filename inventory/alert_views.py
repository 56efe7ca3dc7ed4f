"""The low-stock alert API: list alerts (any role), acknowledge one (warehouse staff)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import alerts
from inventory.models import ACTIVE_ALERT_STATUSES, AlertStatus, LowStockAlert
from inventory.views import validated_query
from inventory_site.openapi import error_responses
from inventory_site.permissions import HasStockRole, IsWarehouseStaff

ACTIVE = "active"  # status filter: open or acknowledged


class LowStockAlertSerializer(serializers.ModelSerializer):
    item_id = serializers.IntegerField()
    product_id = serializers.IntegerField(source="item.product_id")
    sku = serializers.CharField(source="item.product.sku")
    warehouse_id = serializers.IntegerField(source="item.warehouse_id")
    acknowledged_by = serializers.IntegerField(source="acknowledged_by_id", allow_null=True)
    # Live values from the item (an alert raised at 6 that now has 8 says 8); the raise-time ones follow.
    current_quantity = serializers.IntegerField(source="item.available_quantity")
    reorder_point = serializers.IntegerField(source="item.reorder_point")
    quantity_when_raised = serializers.IntegerField(source="current_quantity")
    reorder_point_when_raised = serializers.IntegerField(source="reorder_point")

    class Meta:
        model = LowStockAlert
        fields = [
            "id",
            "status",
            "item_id",
            "product_id",
            "sku",
            "warehouse_id",
            "current_quantity",
            "reorder_point",
            "quantity_when_raised",
            "reorder_point_when_raised",
            "created_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_at",
        ]
        read_only_fields = fields


class AlertQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=[*AlertStatus.values, ACTIVE], required=False)
    warehouse_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False)


class LowStockAlertListView(ListAPIView):
    """Low-stock alerts, newest first."""

    permission_classes = [HasStockRole]
    serializer_class = LowStockAlertSerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "status",
                OpenApiTypes.STR,
                enum=[*AlertStatus.values, ACTIVE],
                description="Only alerts in this status; `active` is open or acknowledged.",
            ),
            OpenApiParameter("warehouse_id", OpenApiTypes.INT, description="Only this warehouse."),
        ],
        responses={200: LowStockAlertSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        return super().get(request)

    def get_queryset(self):
        query = validated_query(AlertQuery, self.request)
        rows = LowStockAlert.objects.select_related("item__product").order_by("-created_at", "-id")
        if (status := query.get("status")) == ACTIVE:
            rows = rows.filter(status__in=ACTIVE_ALERT_STATUSES)
        elif status:
            rows = rows.filter(status=status)
        if "warehouse_id" in query:
            rows = rows.filter(item__warehouse_id=query["warehouse_id"])
        return rows


class AcknowledgeLowStockAlertView(APIView):
    permission_classes = [IsWarehouseStaff]

    @extend_schema(request=None, responses={200: LowStockAlertSerializer, **error_responses(404, 409)})
    def post(self, request: Request, alert_id: int) -> Response:
        """Mark an open alert as seen (idempotent); a resolved alert is a 409 `invalid_state`."""
        alert = alerts.acknowledge_alert(alert_id=alert_id, user=request.user)
        return Response(LowStockAlertSerializer(alert).data)
