"""The webhook API (warehouse staff only): endpoints, their deliveries, and retrying one."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.exceptions import NotFound
from inventory.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from inventory.views import validated_query
from inventory.webhooks import services
from inventory.webhooks.serializers import (
    CreatedWebhookEndpointSerializer,
    DeliveryQuery,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
)
from inventory_site.openapi import error_responses
from inventory_site.permissions import IsWarehouseStaff


@extend_schema_view(
    list=extend_schema(responses={200: WebhookEndpointSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(responses={200: WebhookEndpointSerializer, **error_responses(404)}),
    create=extend_schema(responses={201: CreatedWebhookEndpointSerializer, **error_responses(400)}),
    partial_update=extend_schema(responses={200: WebhookEndpointSerializer, **error_responses(400, 404)}),
    destroy=extend_schema(responses={204: None, **error_responses(404)}),
)
class WebhookEndpointViewSet(viewsets.ModelViewSet):
    queryset = WebhookEndpoint.objects.order_by("id")
    serializer_class = WebhookEndpointSerializer
    permission_classes = [IsWarehouseStaff]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends: list = []
    lookup_value_regex = r"[0-9]+"

    def create(self, request: Request, *args, **kwargs) -> Response:
        body = WebhookEndpointSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        endpoint = services.create_endpoint(**body.validated_data, user=request.user)
        return Response(CreatedWebhookEndpointSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        endpoint = self.get_object()
        body = WebhookEndpointSerializer(endpoint, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        endpoint = services.update_endpoint(endpoint_id=endpoint.pk, changes=body.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    def perform_destroy(self, instance: WebhookEndpoint) -> None:
        services.delete_endpoint(endpoint_id=instance.pk)


class WebhookDeliveryListView(ListAPIView):
    """Deliveries of one endpoint, newest first."""

    permission_classes = [IsWarehouseStaff]
    serializer_class = WebhookDeliverySerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=DeliveryStatus.values, description="Only this status.")
        ],
        responses={200: WebhookDeliverySerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, endpoint_id: int) -> Response:
        return super().get(request, endpoint_id)

    def get_queryset(self):
        endpoint_id = self.kwargs["endpoint_id"]
        if not WebhookEndpoint.objects.filter(pk=endpoint_id).exists():
            raise NotFound(f"Unknown webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)
        query = validated_query(DeliveryQuery, self.request)
        rows = WebhookDelivery.objects.filter(endpoint_id=endpoint_id).order_by("-id")
        if "status" in query:
            rows = rows.filter(status=query["status"])
        return rows


class RetryWebhookDeliveryView(APIView):
    permission_classes = [IsWarehouseStaff]

    @extend_schema(request=None, responses={200: WebhookDeliverySerializer, **error_responses(404, 409)})
    def post(self, request: Request, endpoint_id: int, delivery_id: int) -> Response:
        """Send a delivery again (pending, due now, attempts from zero); 409 `invalid_state` if its endpoint is off."""
        delivery = services.retry_delivery(endpoint_id=endpoint_id, delivery_id=delivery_id)
        return Response(WebhookDeliverySerializer(delivery).data)
