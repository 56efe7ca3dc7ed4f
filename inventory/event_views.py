"""``GET /api/v1/events``: the change feed, oldest first, resumable with ``after=next_after``."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import feed
from inventory.exceptions import DomainError
from inventory_site.openapi import error_responses
from inventory_site.permissions import HasStockRole
from reservations.access import visible_events

MAX_ID = 2**63 - 1


class EventsExpired(DomainError):
    code = "events_expired"
    status_code = 410
    default_detail = "Events after this cursor were purged (EVENT_RETENTION_DAYS); resync and start again."


class EventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    created_at = serializers.DateTimeField()
    product_id = serializers.IntegerField(allow_null=True)
    warehouse_id = serializers.IntegerField(allow_null=True)
    data = serializers.DictField()


class EventQuery(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=MAX_ID, required=False, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=feed.MAX_PAGE, required=False, default=100)
    type = serializers.ListField(child=serializers.CharField(max_length=60), required=False, default=list)
    product_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    warehouse_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)
    tail = serializers.IntegerField(min_value=1, max_value=feed.MAX_PAGE, required=False)

    def validate_type(self, values: list[str]) -> list[str]:
        for value in values:
            if not feed.valid_type_pattern(value):
                raise serializers.ValidationError(
                    f"Unknown event type {value!r}: use a type such as inventory.updated, a family such as "
                    "reservation.*, or *."
                )
        return values

    def to_internal_value(self, data):
        # ``type`` may repeat in the query string: ?type=inventory.updated&type=reservation.*
        if hasattr(data, "getlist"):
            data = {**data.dict(), "type": data.getlist("type")}
        return super().to_internal_value(data)


class EventFeedView(APIView):
    """Every committed change, oldest first. Keep calling with ``after=next_after``: no event is missed
    or repeated, even when transactions commit out of id order. A storefront user gets only its own
    ``reservation.*`` events."""

    permission_classes = [HasStockRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("after", OpenApiTypes.INT, description="Return events after this id (default 0)."),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1..1000, default 100."),
            OpenApiParameter(
                "type",
                OpenApiTypes.STR,
                many=True,
                description="Repeatable: a type, a family (`reservation.*`), or `*`.",
            ),
            OpenApiParameter("product_id", OpenApiTypes.INT),
            OpenApiParameter("warehouse_id", OpenApiTypes.INT),
            OpenApiParameter(
                "tail",
                OpenApiTypes.INT,
                description="Instead of `after`: the last N matching events (a page that opens).",
            ),
        ],
        responses={
            200: inline_serializer(
                "EventPage", {"results": EventSerializer(many=True), "next_after": serializers.IntegerField()}
            ),
            **error_responses(400, 410),
        },
    )
    def get(self, request: Request) -> Response:
        query = EventQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        # Storefront users do not see other users' reservation.* events (README "Reservation ownership").
        visible = visible_events(request.user)
        after = params["after"]
        if "tail" in params:
            after = feed.tail_start(
                count=params["tail"], types=params["type"], warehouse_id=params.get("warehouse_id"), visible=visible
            )
        elif after and after < feed.purged_through():
            raise EventsExpired(purged_through=feed.purged_through())
        page = feed.read_events(
            after=after,
            limit=params["limit"],
            types=params["type"],
            product_id=params.get("product_id"),
            warehouse_id=params.get("warehouse_id"),
            visible=visible,
        )
        return Response({"results": [event.as_json() for event in page.events], "next_after": page.next_after})
