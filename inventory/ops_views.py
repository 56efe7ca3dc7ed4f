"""The ops dashboard: the page (``inventory/static/inventory/ops.js`` draws it) and the two JSON reads it
makes, ``/ops/api/dashboard`` (what it opens with) and ``/ops/api/activity`` (what happened since)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import feed, ops_selectors
from inventory.consumers import MAX_SUBSCRIPTIONS
from inventory.event_views import MAX_ID, EventsExpired
from inventory.exceptions import NotFound
from inventory.models import Warehouse
from inventory.views import validated_query
from inventory_site.permissions import is_warehouse_staff, roles_of
from reservations.access import visible_events


@staff_member_required
def ops_page(request: HttpRequest) -> HttpResponse:
    # The page reads the feed with the session; without a role it would be refused.
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no inventory role (storefront or warehouse).")
    warehouses = list(Warehouse.objects.order_by("priority", "code").values("id", "code", "name", "is_active"))
    return render(
        request,
        "inventory/ops.html",
        {
            "warehouses": warehouses,
            # The socket only rings the bell: one subscription per warehouse, plus the alerts.
            "bell_warehouses": [w["id"] for w in warehouses][: MAX_SUBSCRIPTIONS - 1],
        },
    )


class IsStaffWithStockRole(BasePermission):
    message = "The ops dashboard is for staff with an inventory role (storefront or warehouse)."

    def has_permission(self, request: Request, view) -> bool:
        return bool(request.user and request.user.is_staff and roles_of(request.user))


class DashboardQuery(serializers.Serializer):
    warehouse_id = serializers.IntegerField(min_value=1, max_value=MAX_ID, required=False)


class ActivityQuery(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=MAX_ID)


def _reader(request: Request) -> dict:
    # As in the change feed: a storefront user sees its own reservation events only, and no names.
    return {"visible": visible_events(request.user), "show_users": is_warehouse_staff(request.user)}


class OpsDashboardView(APIView):
    """Tiles, the last hour's charts, open alerts and the latest changes, read in one snapshot."""

    permission_classes = [IsStaffWithStockRole]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        warehouse_id = validated_query(DashboardQuery, request).get("warehouse_id")
        if warehouse_id is not None and not Warehouse.objects.filter(pk=warehouse_id).exists():
            raise NotFound(f"Unknown warehouse {warehouse_id}.", warehouse_id=warehouse_id)
        return Response(ops_selectors.dashboard(warehouse_id=warehouse_id, **_reader(request)))


class OpsActivityView(APIView):
    """The changes, reservation and alert events after ``after`` (the feed's cursor), and the tiles now."""

    permission_classes = [IsStaffWithStockRole]

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        after = validated_query(ActivityQuery, request)["after"]
        if after and after < feed.purged_through():
            raise EventsExpired(purged_through=feed.purged_through())
        return Response(ops_selectors.activity(after=after, **_reader(request)))
