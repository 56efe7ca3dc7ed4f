"""Cached stock reads (seed keys ``stock:<product>:<warehouse>`` and ``product_stock:<product>``).

Entries are written by the write path's after-commit hook, so a read right after a committed
write sees the new value. When the cache is down, reads fall back to the database.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.cache import cache

from inventory.models import InventoryItem, Product

logger = logging.getLogger(__name__)


def item_key(product_id: int, warehouse_id: int) -> str:
    return f"stock:{product_id}:{warehouse_id}"


def product_key(product_id: int) -> str:
    return f"product_stock:{product_id}"


def item_payload(item: InventoryItem, sku: str) -> dict[str, Any]:
    """The API's item JSON (kept as a plain dict: it is cached and sent on every read)."""
    return {
        "id": item.pk,
        "product_id": item.product_id,
        "warehouse_id": item.warehouse_id,
        "sku": sku,
        "available_quantity": item.available_quantity,
        "reserved_quantity": item.reserved_quantity,
        "total_quantity": item.available_quantity + item.reserved_quantity,
        "reorder_point": item.reorder_point,
        "reorder_quantity": item.reorder_quantity,
        "max_stock_level": item.max_stock_level,
        "barcode": item.barcode,
        "location": {"zone": item.location_zone, "aisle": item.location_aisle, "shelf": item.location_shelf},
        "last_count_date": item.last_count_date.isoformat() if item.last_count_date else None,
        "last_movement_at": item.last_movement_at.isoformat().replace("+00:00", "Z"),
        "updated_at": item.updated_at.isoformat().replace("+00:00", "Z"),
    }


def _safe_get_many(keys: list[str]) -> dict[str, Any]:
    try:
        return cache.get_many(keys)
    except Exception as exc:  # the cache is an optimisation: never fail a read because of it
        logger.warning("stock cache unavailable, reading from the database: %s", exc)
        return {}


def _safe_set_many(values: dict[str, Any]) -> None:
    try:
        cache.set_many(values, timeout=settings.STOCK_CACHE_TTL)
    except Exception as exc:
        logger.warning("stock cache unavailable, not refreshed: %s", exc)


def _load_products(product_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Product entries from the database: ``{sku, items: [...]}`` for every existing product."""
    ids = set(product_ids)
    entries: dict[int, dict[str, Any]] = {
        pk: {"product_id": pk, "sku": sku, "items": []}
        for pk, sku in Product.objects.filter(pk__in=ids).values_list("pk", "sku")
    }
    if entries:
        for item in InventoryItem.objects.filter(product_id__in=entries).order_by("warehouse_id"):
            entries[item.product_id]["items"].append(item_payload(item, entries[item.product_id]["sku"]))
    return entries


def _store(entries: dict[int, dict[str, Any]]) -> None:
    values: dict[str, Any] = {}
    for product_id, entry in entries.items():
        values[product_key(product_id)] = entry
        for item in entry["items"]:
            values[item_key(product_id, item["warehouse_id"])] = item
    if values:
        _safe_set_many(values)


def product_entries(product_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``{product_id: {product_id, sku, items}}`` for existing products, from the cache where possible.

    One cache round trip, and for misses two queries whatever the number of products.
    """
    ids = list(dict.fromkeys(product_ids))
    cached = _safe_get_many([product_key(p) for p in ids])
    entries = {p: cached[product_key(p)] for p in ids if product_key(p) in cached}
    if missing := [p for p in ids if p not in entries]:
        loaded = _load_products(missing)
        _store(loaded)
        entries.update(loaded)
    return entries


def refresh_products(product_ids: Iterable[int]) -> None:
    """Rewrite the entries of these products from the database (after-commit hook)."""
    ids = set(product_ids)
    loaded = _load_products(ids)
    _store(loaded)
    if gone := ids - set(loaded):
        try:
            cache.delete_many([product_key(p) for p in gone])
        except Exception as exc:
            logger.warning("stock cache unavailable, not cleared: %s", exc)


def refresh_items(item_ids: Iterable[int]) -> None:
    product_ids = InventoryItem.objects.filter(pk__in=list(item_ids)).values_list("product_id", flat=True)
    refresh_products(set(product_ids))


def product_stock(product_id: int, warehouse_id: int | None = None) -> dict[str, Any] | None:
    """The body of ``GET /inventory/{product_id}``; None for an unknown product."""
    if warehouse_id is not None:
        # Fast path: the per-item key carries everything a one-warehouse read needs.
        item = _safe_get_many([item_key(product_id, warehouse_id)]).get(item_key(product_id, warehouse_id))
        if item is not None:
            return summarise(item, [item])
    entry = product_entries([product_id]).get(product_id)
    if entry is None:
        return None
    items = entry["items"]
    if warehouse_id is not None:
        items = [i for i in items if i["warehouse_id"] == warehouse_id]
    return summarise(entry, items)


def summarise(entry: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, int] = defaultdict(int)
    for item in items:
        for field in ("available_quantity", "reserved_quantity", "total_quantity"):
            totals[field] += item[field]
    return {
        "product_id": entry["product_id"],
        "sku": entry["sku"],
        "available_quantity": totals["available_quantity"],
        "reserved_quantity": totals["reserved_quantity"],
        "total_quantity": totals["total_quantity"],
        "items": items,
    }
