"""Checkout API: reserve, read, confirm, release, extend (paths from seed 002)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.idempotency import idempotent
from inventory.metrics import RESERVATION_LATENCY
from inventory.views import IDEMPOTENCY_PARAM
from inventory_site.openapi import error_responses
from inventory_site.permissions import HasStockRole
from reservations import services
from reservations.models import StockReservation
from reservations.serializers import ExtendInput, ReservationOutput, ReserveInput, reservation_body


def _render(reservation: StockReservation, status_code: int = status.HTTP_200_OK) -> Response:
    return Response(reservation_body(reservation), status=status_code)


class ReserveView(APIView):
    permission_classes = [HasStockRole]

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAM],
        request=ReserveInput,
        responses={201: ReservationOutput, **error_responses(400, 404, 409)},
        description="Hold stock for all lines or none. Omit warehouse_id to allocate by warehouse priority.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        body = ReserveInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with RESERVATION_LATENCY.time():
            reservation = services.reserve_stock(
                lines=body.lines(),
                order_id=data.get("order_id"),
                session_id=data.get("session_id"),
                reservation_type=data["reservation_type"],
                expires_in=data.get("expires_in"),
                user=request.user,
            )
        return _render(reservation, status.HTTP_201_CREATED)


class ReservationDetailView(APIView):
    permission_classes = [HasStockRole]

    @extend_schema(responses={200: ReservationOutput, **error_responses(404)})
    def get(self, request: Request, reservation_id) -> Response:
        return _render(services.get_reservation(reservation_id=reservation_id, user=request.user))


class _StatusChangeView(APIView):
    """POST without a body that moves a reservation on: ``service`` is confirm or release."""

    permission_classes = [HasStockRole]
    service = staticmethod(services.confirm_reservation)

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_PARAM],
        responses={200: ReservationOutput, **error_responses(400, 404, 409)},
    )
    @idempotent
    def post(self, request: Request, reservation_id) -> Response:
        return _render(self.service(reservation_id=reservation_id, user=request.user))


class ConfirmView(_StatusChangeView):
    """Payment went through: status ``fulfilled``, one ``sale`` ledger row per line."""

    service = staticmethod(services.confirm_reservation)


class ReleaseView(_StatusChangeView):
    """The order was cancelled: status ``released``, the units are available again."""

    service = staticmethod(services.release_reservation)


class ExtendView(APIView):
    permission_classes = [HasStockRole]

    @extend_schema(
        request=ExtendInput,
        parameters=[IDEMPOTENCY_PARAM],
        responses={200: ReservationOutput, **error_responses(400, 404, 409)},
    )
    @idempotent
    def post(self, request: Request, reservation_id) -> Response:
        body = ExtendInput(data=request.data)
        body.is_valid(raise_exception=True)
        reservation = services.extend_reservation(
            reservation_id=reservation_id, expires_in=body.validated_data["expires_in"], user=request.user
        )
        return _render(reservation)
