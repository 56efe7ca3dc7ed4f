"""The stock API (thin: validate input, call a service or selector, render)."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F, ProtectedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters, status, viewsets
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inventory import catalog, services, stock_cache
from inventory.exceptions import NotFound, ProtectedObject
from inventory.idempotency import idempotent
from inventory.models import InventoryItem, InventoryTransaction, Product, Warehouse
from inventory.serializers import (
    AdjustInput,
    AvailabilityQuery,
    AvailabilitySerializer,
    ItemSerializer,
    LowStockQuery,
    ProductSerializer,
    ProductStockSerializer,
    RequiredWarehouseQuery,
    StockCountInput,
    TransactionQuery,
    TransactionSerializer,
    WarehouseQuery,
    WarehouseSerializer,
)
from inventory_site.openapi import error_responses
from inventory_site.permissions import HasStockRole, IsWarehouseStaff, ReadAnyRoleWriteWarehouse

WAREHOUSE_PARAM = OpenApiParameter("warehouse_id", OpenApiTypes.INT, description="Only this warehouse.")
IDEMPOTENCY_PARAM = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="Retries with the same key and body return the first response.",
)


def validated_query(serializer_class, request: Request) -> dict:
    """The request's query parameters, validated by ``serializer_class`` (400 ``invalid`` otherwise)."""
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _product_stock(product_id: int, warehouse_id: int | None = None) -> dict:
    body = stock_cache.product_stock(product_id, warehouse_id)
    if body is None:
        raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
    return body


class ProtectedDeleteMixin:
    """Deleting something with stock or history is a 409, never a cascade."""

    def perform_destroy(self, instance) -> None:
        try:
            instance.delete()
        except ProtectedError as exc:
            raise ProtectedObject() from exc


@extend_schema_view(
    list=extend_schema(responses={200: WarehouseSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(responses={200: WarehouseSerializer, **error_responses(404)}),
    create=extend_schema(responses={201: WarehouseSerializer, **error_responses(400, 409)}),
    partial_update=extend_schema(responses={200: WarehouseSerializer, **error_responses(400, 404, 409)}),
    destroy=extend_schema(responses={204: None, **error_responses(404, 409)}),
)
class WarehouseViewSet(ProtectedDeleteMixin, viewsets.ModelViewSet):
    queryset = Warehouse.objects.order_by("priority", "code")
    serializer_class = WarehouseSerializer
    permission_classes = [ReadAnyRoleWriteWarehouse]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["code", "is_active"]


@extend_schema_view(
    list=extend_schema(responses={200: ProductSerializer(many=True), **error_responses(400, 404)}),
    retrieve=extend_schema(responses={200: ProductSerializer, **error_responses(404)}),
    create=extend_schema(responses={201: ProductSerializer, **error_responses(400, 409)}),
    partial_update=extend_schema(responses={200: ProductSerializer, **error_responses(400, 404, 409)}),
    destroy=extend_schema(responses={204: None, **error_responses(404, 409)}),
)
class ProductViewSet(ProtectedDeleteMixin, viewsets.ModelViewSet):
    queryset = Product.objects.select_related("category").order_by("sku")
    serializer_class = ProductSerializer
    permission_classes = [ReadAnyRoleWriteWarehouse]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filter_backends = [*viewsets.ModelViewSet.filter_backends, filters.SearchFilter]
    filterset_fields = ["sku", "is_active", "track_lots"]
    search_fields = ["sku", "name", "barcode"]

    @transaction.atomic
    def perform_create(self, serializer: ProductSerializer) -> None:
        product = catalog.create_product(fields=serializer.product_fields())
        if tracking := serializer.tracking_fields():
            product = services.set_lot_tracking(product_id=product.pk, **tracking)
        serializer.instance = product

    @transaction.atomic
    def perform_update(self, serializer: ProductSerializer) -> None:
        product_id = serializer.instance.pk
        # Tracking first: it waits for the product's movements in flight, whose commit takes a key-share
        # lock on the product row; the catalog's FOR UPDATE on that row, taken first, would deadlock with them.
        if tracking := serializer.tracking_fields():
            services.set_lot_tracking(product_id=product_id, **tracking)
        serializer.instance = catalog.update_product(product_id=product_id, changes=serializer.product_fields())


class ProductStockView(APIView):
    """Stock of one product: read it (any role) or record a count (warehouse staff)."""

    permission_classes = [ReadAnyRoleWriteWarehouse]

    @extend_schema(
        parameters=[WAREHOUSE_PARAM],
        responses={200: ProductStockSerializer, **error_responses(400, 404)},
    )
    def get(self, request: Request, product_id: int) -> Response:
        query = validated_query(WarehouseQuery, request)
        return Response(_product_stock(product_id, query.get("warehouse_id")))

    @extend_schema(
        parameters=[OpenApiParameter("warehouse_id", OpenApiTypes.INT, required=True)],
        request=StockCountInput,
        responses={200: ItemSerializer, 201: ItemSerializer, **error_responses(400, 404, 409)},
    )
    def put(self, request: Request, product_id: int) -> Response:
        warehouse_id = validated_query(RequiredWarehouseQuery, request)["warehouse_id"]
        body = StockCountInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        item, created = services.set_stock_count(
            product_id=product_id,
            warehouse_id=warehouse_id,
            counted_quantity=data["quantity"],
            expected_quantity=data.get("expected_quantity"),
            details=services.LedgerDetails(
                reason=data.get("reason", ""),
                notes=data.get("notes", ""),
                batch_number=data["batch_number"],
                expiry_date=data["expiry_date"],
            ),
            item_settings=body.item_settings(),
            user=request.user,
        )
        payload = stock_cache.item_payload(item, Product.objects.values_list("sku", flat=True).get(pk=product_id))
        return Response(payload, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class AdjustStockView(APIView):
    permission_classes = [IsWarehouseStaff]

    @extend_schema(
        parameters=[IDEMPOTENCY_PARAM],
        request=AdjustInput,
        responses={200: ItemSerializer, **error_responses(400, 404, 409)},
    )
    @idempotent
    def post(self, request: Request, product_id: int) -> Response:
        body = AdjustInput(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        item = services.adjust_stock(
            product_id=product_id,
            warehouse_id=data.pop("warehouse_id"),
            quantity_change=data.pop("quantity_change"),
            transaction_type=data.pop("transaction_type"),
            expected_quantity=data.pop("expected_quantity"),
            state=data.pop("state"),
            details=services.LedgerDetails(**data),
            user=request.user,
        )
        sku = Product.objects.values_list("sku", flat=True).get(pk=product_id)
        return Response(stock_cache.item_payload(item, sku))


class TransactionListView(ListAPIView):
    """The ledger of one product, newest first."""

    permission_classes = [IsWarehouseStaff]
    serializer_class = TransactionSerializer
    filter_backends: list = []

    @extend_schema(
        parameters=[
            WAREHOUSE_PARAM,
            OpenApiParameter("type", OpenApiTypes.STR, description="Transaction type."),
            OpenApiParameter("since", OpenApiTypes.DATETIME, description="Only rows created at or after this."),
        ],
        responses={200: TransactionSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request, product_id: int) -> Response:
        return super().get(request, product_id)

    def get_queryset(self):
        product_id = self.kwargs["product_id"]
        if not Product.objects.filter(pk=product_id).exists():
            raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
        query = validated_query(TransactionQuery, self.request)
        rows = InventoryTransaction.objects.filter(product_id=product_id).order_by("-created_at", "-id")
        if "warehouse_id" in query:
            rows = rows.filter(warehouse_id=query["warehouse_id"])
        if "type" in query:
            rows = rows.filter(transaction_type=query["type"])
        if "since" in query:
            rows = rows.filter(created_at__gte=query["since"])
        return rows


class BarcodeView(APIView):
    permission_classes = [HasStockRole]

    @extend_schema(responses={200: ProductStockSerializer, **error_responses(404)})
    def get(self, request: Request, barcode: str) -> Response:
        # PostgreSQL refuses NUL in a text parameter, so no stored barcode holds one: unknown, not a 500.
        if "\x00" not in barcode:
            product_id = Product.objects.filter(barcode=barcode).values_list("pk", flat=True).first()
            if product_id is not None:
                return Response(_product_stock(product_id))
            item = InventoryItem.objects.filter(barcode=barcode).values("product_id", "warehouse_id").first()
            if item is not None:
                return Response(_product_stock(item["product_id"], item["warehouse_id"]))
        raise NotFound(f"No product or item has barcode {barcode!r}.", barcode=barcode)


class LowStockView(GenericAPIView):
    """Items at or below their reorder point (or a given threshold), served by the partial index."""

    permission_classes = [HasStockRole]
    filter_backends: list = []

    @extend_schema(
        parameters=[
            WAREHOUSE_PARAM,
            OpenApiParameter("threshold", OpenApiTypes.INT, description="Instead of each item's reorder point."),
        ],
        responses={200: ItemSerializer(many=True), **error_responses(400, 404)},
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([stock_cache.item_payload(i, i.product.sku) for i in page])

    def get_queryset(self):
        query = validated_query(LowStockQuery, self.request)
        items = InventoryItem.objects.select_related("product")
        if "threshold" in query:
            items = items.filter(available_quantity__lte=query["threshold"])
        else:
            items = items.filter(available_quantity__lte=F("reorder_point"))
        if "warehouse_id" in query:
            items = items.filter(warehouse_id=query["warehouse_id"])
        return items.order_by("warehouse_id", "available_quantity", "id")


class AvailabilityView(APIView):
    """Availability of up to 500 products in a constant number of queries (cart and listing pages)."""

    permission_classes = [HasStockRole]

    @extend_schema(
        parameters=[
            OpenApiParameter("product_ids", OpenApiTypes.STR, required=True, description="Comma-separated ids."),
            WAREHOUSE_PARAM,
        ],
        responses={200: AvailabilitySerializer, **error_responses(400)},
    )
    def get(self, request: Request) -> Response:
        query = validated_query(AvailabilityQuery, request)
        product_ids = query["product_ids"]
        warehouse_id = query.get("warehouse_id")
        entries = stock_cache.product_entries(product_ids)
        results = {}
        for product_id, entry in entries.items():
            items = entry["items"]
            if warehouse_id is not None:
                items = [i for i in items if i["warehouse_id"] == warehouse_id]
            summary = stock_cache.summarise(entry, items)
            results[str(product_id)] = {k: summary[k] for k in stock_cache.SUMMED_FIELDS}
        unknown = [p for p in product_ids if p not in entries]
        return Response({"results": results, "unknown_product_ids": unknown})
