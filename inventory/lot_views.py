"""The API of lots and stock states: a product's lots, and moving units between states."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import selectors, services, stock_cache
from inventory.exceptions import NotFound
from inventory.idempotency import idempotent
from inventory.lot_models import StockStateMove
from inventory.models import Product
from inventory.serializers import (
    MoveStateInput,
    ProductLotsSerializer,
    StateMoveResultSerializer,
    WarehouseQuery,
)
from inventory.views import IDEMPOTENCY_PARAM, WAREHOUSE_PARAM, validated_query
from inventory_site.openapi import error_responses
from inventory_site.permissions import HasStockRole, IsWarehouseStaff


class ProductLotsView(APIView):
    """The lots of a product that hold units, in the order outbound units take them (any role)."""

    permission_classes = [HasStockRole]

    @extend_schema(parameters=[WAREHOUSE_PARAM], responses={200: ProductLotsSerializer, **error_responses(400, 404)})
    def get(self, request: Request, product_id: int) -> Response:
        query = validated_query(WarehouseQuery, request)
        product = Product.objects.filter(pk=product_id).values("sku", "track_lots", "requires_expiry").first()
        if product is None:
            raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
        # An untracked product has no lots (check_ledger proves it): no query needed.
        lots = selectors.lots_of(product_id, query.get("warehouse_id")) if product["track_lots"] else []
        return Response({"product_id": product_id, **product, "lots": lots})


def move_payload(move: StockStateMove) -> dict:
    return {
        "id": move.pk,
        "quantity": move.quantity,
        "from": move.from_state,
        "to": move.to_state,
        "reason": move.reason,
        "created_by": move.created_by_id,
        "created_at": stock_cache.iso(move.created_at),
    }


class MoveStockStateView(APIView):
    """Move units of an item between available, damaged, quality control and safety stock (warehouse staff)."""

    permission_classes = [IsWarehouseStaff]

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAM],
        request=MoveStateInput,
        responses={200: StateMoveResultSerializer, **error_responses(400, 404, 409)},
    )
    @idempotent
    def post(self, request: Request, product_id: int) -> Response:
        body = MoveStateInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        item, move = services.move_stock_state(
            product_id=product_id,
            warehouse_id=data["warehouse_id"],
            quantity=data["quantity"],
            from_state=data["from"],
            to_state=data["to"],
            reason=data["reason"],
            user=request.user,
        )
        sku = Product.objects.values_list("sku", flat=True).get(pk=product_id)
        return Response({**stock_cache.item_payload(item, sku), "move": move_payload(move)})
