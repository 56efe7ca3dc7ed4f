"""The ops page: a live view of stock changes and low-stock alerts (``inventory/static/inventory/ops.js``)."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from inventory.consumers import MAX_SUBSCRIPTIONS
from inventory.models import Warehouse
from inventory_site.permissions import roles_of


@staff_member_required
def ops_page(request: HttpRequest) -> HttpResponse:
    # The page's socket authenticates with the session; without a role the feed would refuse it.
    if not roles_of(request.user):
        raise PermissionDenied("Your account has no inventory role (storefront or warehouse).")
    warehouses = list(Warehouse.objects.order_by("priority", "code").values("id", "code", "name", "is_active"))
    return render(
        request,
        "inventory/ops.html",
        {
            "warehouses": warehouses,
            # "All warehouses" subscribes to each one's group, plus the all-warehouse alert group.
            "all_selectable": len(warehouses) < MAX_SUBSCRIPTIONS,
        },
    )
