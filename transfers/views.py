"""The transfers API (thin: validate input, call a service or selector, render). Warehouse staff only."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.idempotency import idempotent
from inventory.views import IDEMPOTENCY_PARAM, validated_query
from inventory_site.openapi import error_responses
from inventory_site.permissions import IsWarehouseStaff
from transfers import selectors, services
from transfers.models import Transfer, TransferStatus
from transfers.serializers import TransferInput, TransferQuery, TransferSerializer

TRANSFER_ID_PARAM = OpenApiParameter(
    "transfer_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The transfer's id."
)


def _render(transfer: Transfer, code: int = status.HTTP_200_OK) -> Response:
    return Response(TransferSerializer(transfer).data, status=code)


class TransferCollectionView(GenericAPIView):
    """List transfers (newest first) or create one, which holds its units at the source."""

    permission_classes = [IsWarehouseStaff]
    serializer_class = TransferSerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            OpenApiParameter("status", OpenApiTypes.STR, enum=TransferStatus.values),
            OpenApiParameter("warehouse_id", OpenApiTypes.INT, description="Transfers from or to this warehouse."),
        ],
        responses={200: TransferSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        query = validated_query(TransferQuery, request)
        transfers = selectors.transfer_list(status=query.get("status"), warehouse_id=query.get("warehouse_id"))
        page = self.paginate_queryset(transfers)
        return self.get_paginated_response(TransferSerializer(page, many=True).data)

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAM],
        request=TransferInput,
        responses={201: TransferSerializer, **error_responses(400, 404, 409)},
    )
    @idempotent
    def post(self, request: Request) -> Response:
        body = TransferInput(data=request.data)
        body.is_valid(raise_exception=True)
        transfer = services.create_transfer(**body.validated_data, user=request.user)
        return _render(transfer, status.HTTP_201_CREATED)


class TransferDetailView(APIView):
    permission_classes = [IsWarehouseStaff]

    @extend_schema(parameters=[TRANSFER_ID_PARAM], responses={200: TransferSerializer, **error_responses(404)})
    def get(self, request: Request, transfer_id: str) -> Response:
        return _render(selectors.get_transfer(transfer_id))


class TransferTransitionView(APIView):
    """Base for the three state changes; ``service`` is the transfers service to call."""

    permission_classes = [IsWarehouseStaff]
    service = staticmethod(services.start_transfer)

    @extend_schema(
        parameters=[TRANSFER_ID_PARAM, IDEMPOTENCY_PARAM],
        request=None,
        responses={200: TransferSerializer, **error_responses(400, 404, 409)},
    )
    @idempotent
    def post(self, request: Request, transfer_id: str) -> Response:
        return _render(self.service(transfer_id=transfer_id, user=request.user))


class StartTransferView(TransferTransitionView):
    """Ship a pending transfer: its held units leave the source warehouse (a `transfer` ledger row)."""

    service = staticmethod(services.start_transfer)


class CompleteTransferView(TransferTransitionView):
    """Receive an in-transit transfer at the destination, creating its stock row if needed."""

    service = staticmethod(services.complete_transfer)


class CancelTransferView(TransferTransitionView):
    """Cancel a pending transfer (releases the hold) or an in-transit one (units return to the source)."""

    service = staticmethod(services.cancel_transfer)
