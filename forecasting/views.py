"""``GET /api/v1/inventory/{product_id}/forecast``: stored nightly forecasts, live where none is stored yet."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasting.demand import Forecast
from forecasting.models import DemandForecast
from forecasting.selectors import item_forecast, product_forecast
from forecasting.serializers import ProductForecastSerializer
from inventory.exceptions import NotFound
from inventory.models import InventoryItem, Product
from inventory.serializers import WarehouseQuery
from inventory.views import WAREHOUSE_PARAM, validated_query
from inventory_site.openapi import error_responses
from inventory_site.permissions import IsWarehouseStaff

FORECAST_FIELDS = [f.name for f in Forecast.__dataclass_fields__.values()]


def _item_entry(item: InventoryItem) -> dict[str, Any]:
    stored: DemandForecast | None = getattr(item, "demand_forecast", None)
    if stored is not None:
        fields = {name: getattr(stored, name) for name in FORECAST_FIELDS}
        meta = {"computed_at": stored.computed_at, "source": "stored"}
    else:
        fields = item_forecast(item).as_dict()
        meta = {"computed_at": None, "source": "live"}
    return {"warehouse_id": item.warehouse_id, "available_quantity": item.available_quantity, **fields, **meta}


class ForecastView(APIView):
    """Buyers' data: warehouse staff only."""

    permission_classes = [IsWarehouseStaff]

    @extend_schema(
        parameters=[WAREHOUSE_PARAM], responses={200: ProductForecastSerializer, **error_responses(400, 404)}
    )
    def get(self, request: Request, product_id: int) -> Response:
        warehouse_id = validated_query(WarehouseQuery, request).get("warehouse_id")
        product = Product.objects.filter(pk=product_id).only("sku").first()
        if product is None:
            raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
        items = InventoryItem.objects.filter(product_id=product_id).select_related("demand_forecast")
        if warehouse_id is not None:
            items = items.filter(warehouse_id=warehouse_id)
        entries = [_item_entry(item) for item in items.order_by("warehouse_id")]
        if warehouse_id is not None and entries:
            # One item: its (stored) forecast is the answer.
            headline = {k: v for k, v in entries[0].items() if k not in ("warehouse_id", "available_quantity")}
        else:
            headline = {**product_forecast(product_id, warehouse_id).as_dict(), "computed_at": None, "source": "live"}
        body = {
            "product_id": product_id,
            "sku": product.sku,
            "warehouse_id": warehouse_id,
            **headline,
            "items": entries,
        }
        return Response(ProductForecastSerializer(body).data)
