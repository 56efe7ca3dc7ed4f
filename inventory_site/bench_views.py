"""Baseline for ``make bench``: the cheapest authenticated DRF view (mounted with BENCHMARK_ROUTES=1)."""

from rest_framework.decorators import api_view, permission_classes, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response

from inventory_site.permissions import HasStockRole

_CONSTANT = {"product_id": 1, "sku": "BENCH", "available_quantity": 1, "reserved_quantity": 0, "total_quantity": 1}


@api_view(["GET"])
@permission_classes([HasStockRole])
# Not throttled: make bench sends thousands of requests a second with one token to measure the stack.
@throttle_classes([])
def constant_view(request: Request) -> Response:
    return Response(_CONSTANT)
