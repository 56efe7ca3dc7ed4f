"""``POST /api/v1/ws-tickets``: a single-use ticket to open ``/ws/inventory/?ticket=...``."""

from __future__ import annotations

import logging

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory.serializers import ErrorSerializer
from inventory.ws_tickets import TicketStoreUnavailable, issue_ticket
from inventory_site.openapi import error_responses
from inventory_site.permissions import HasStockRole

logger = logging.getLogger(__name__)


class TicketsUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = "WebSocket tickets cannot be issued right now (the cache is unavailable); retry shortly."
    wait = 5  # answered as Retry-After


class WebSocketTicketView(APIView):
    """Issue a ticket for the caller: it opens one WebSocket connection as this user within ``expires_in``
    seconds, so no long-lived token has to go into a URL."""

    permission_classes = [HasStockRole]

    @extend_schema(
        request=None,
        responses={
            201: inline_serializer(
                "WebSocketTicket", {"ticket": serializers.CharField(), "expires_in": serializers.IntegerField()}
            ),
            **error_responses(),
            503: OpenApiResponse(
                ErrorSerializer, description="The cache is unavailable; retry after `Retry-After` seconds"
            ),
        },
    )
    def post(self, request: Request) -> Response:
        try:
            ticket = issue_ticket(request.user)
        except TicketStoreUnavailable as exc:
            logger.warning("ws-tickets: could not store a ticket: %s", exc)
            raise TicketsUnavailable() from exc
        return Response({"ticket": ticket, "expires_in": int(settings.WS_TICKET_TTL)}, status=status.HTTP_201_CREATED)
