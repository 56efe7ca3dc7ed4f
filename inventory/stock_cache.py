"""Cached stock reads (seed keys ``stock:<product>:<warehouse>`` and ``product_stock:<product>``).

Entries are written by the relay for every committed change (``inventory.relay``), and by the write
path's after-commit hook, so a read right after a committed write sees the new value. Every write is
a version compare-and-set: an older state never replaces a newer one, whatever order the writes
arrive in (a relay that resends a batch, a hung Redis that runs buffered commands once it resumes).
When the cache is down, reads fall back to the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import F

from inventory.models import InventoryItem, Product

logger = logging.getLogger(__name__)


def item_key(product_id: int, warehouse_id: int) -> str:
    return f"stock:{product_id}:{warehouse_id}"


def product_key(product_id: int) -> str:
    return f"product_stock:{product_id}"


def iso(moment: datetime) -> str:
    """UTC, always with microseconds (the event log writes the same format in SQL)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def item_payload(item: InventoryItem | SimpleNamespace, sku: str) -> dict[str, Any]:
    """The API's item JSON (kept as a plain dict: it is cached and sent on every read).

    ``version`` grows with every change of the item: of two copies, the higher version is newer.
    """
    return {
        "id": item.pk,
        "product_id": item.product_id,
        "warehouse_id": item.warehouse_id,
        "sku": sku,
        "available_quantity": item.available_quantity,
        "reserved_quantity": item.reserved_quantity,
        "damaged_quantity": item.damaged_quantity,
        "quality_control_quantity": item.quality_control_quantity,
        "safety_stock_quantity": item.safety_stock_quantity,
        "total_quantity": item.available_quantity
        + item.reserved_quantity
        + item.damaged_quantity
        + item.quality_control_quantity
        + item.safety_stock_quantity,
        # Earliest expiry among the item's lots with units (null unless the product is lot-tracked).
        "next_expiry_date": item.next_expiry_date.isoformat() if item.next_expiry_date else None,
        "reorder_point": item.reorder_point,
        "reorder_quantity": item.reorder_quantity,
        "max_stock_level": item.max_stock_level,
        "barcode": item.barcode,
        "location": {"zone": item.location_zone, "aisle": item.location_aisle, "shelf": item.location_shelf},
        "last_count_date": item.last_count_date.isoformat() if item.last_count_date else None,
        "last_movement_at": iso(item.last_movement_at),
        "updated_at": iso(item.updated_at),
        "version": item.version,
    }


def _safe_get_many(keys: list[str]) -> dict[str, Any]:
    if not cache_usable():
        return {}
    try:
        return cache.get_many(keys)
    except Exception as exc:  # the cache is an optimisation: never fail a read because of it
        _trip(exc)
        return {}


# Compare-and-set in one round trip: a value is written only if its version is not older than
# the one stored beside it (``<key>:v``). KEYS: ARGV[2] value/version key pairs, then keys to delete;
# ARGV: ttl, the number of pairs, then version/value pairs.
_CAS_SCRIPT = """
local ttl = tonumber(ARGV[1])
local pairs_ = tonumber(ARGV[2])
local written = 0
for i = 1, pairs_ * 2, 2 do
  local version = tonumber(ARGV[i + 2])
  local current = tonumber(redis.call('GET', KEYS[i + 1]) or '-1')
  if version >= current then
    redis.call('SET', KEYS[i], ARGV[i + 3], 'EX', ttl)
    redis.call('SET', KEYS[i + 1], version, 'EX', ttl)
    written = written + 1
  end
end
for i = pairs_ * 2 + 1, #KEYS do
  redis.call('DEL', KEYS[i])
end
return written
"""


def _redis_cas():
    """The script registered on the cache's own Redis client when the cache is django-redis, else None.

    Kept on that client, not in a global: a script bound to the first client would keep writing to
    that Redis after the cache was configured anew (another Redis in ``override_settings``).
    """
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "encode"):
        return None
    script = getattr(client, "_stock_cas_script", None)
    if script is None:
        script = client.get_client(write=True).register_script(_CAS_SCRIPT)
        client._stock_cas_script = script
    return script


# After a failed cache call the request path leaves the cache alone this long (reads go to the
# database, writes are skipped; the relay refreshes the cache once Redis is back): a dead or hung
# Redis then costs a request at most one short timeout, not one per call.
_BREAKER_SECONDS = 1.0
_cache_down_until = 0.0


def cache_usable() -> bool:
    return time.monotonic() >= _cache_down_until


def _trip(exc: Exception) -> None:
    global _cache_down_until
    _cache_down_until = time.monotonic() + _BREAKER_SECONDS
    logger.warning("stock cache unavailable, using the database for %.0f s: %s", _BREAKER_SECONDS, exc)


def _store_versioned(
    values: dict[str, tuple[int, Any]], *, drop: Sequence[str] = (), raise_errors: bool = False
) -> None:
    """Write ``{key: (version, value)}``, never replacing a newer version with an older one, and delete
    the ``drop`` keys, in one cache round trip.

    The request path (``raise_errors`` False) skips the write while the cache is down; the relay
    (True) gets the error, backs off and writes again.
    """
    if not values and not drop:
        return
    if not raise_errors and not cache_usable():
        return
    try:
        script = _redis_cas()
        if script is None:
            with _local_cas_lock:
                cache.delete_many(list(drop))
            _store_versioned_locally(values)
            return
        keys: list[str] = []
        args: list[Any] = [settings.STOCK_CACHE_TTL, len(values)]
        for key, (version, value) in values.items():
            raw_key = cache.make_key(key)
            keys += [raw_key, f"{raw_key}:v"]
            args += [version, cache.client.encode(value)]
        keys += [cache.make_key(key) for key in drop]
        script(keys=keys, args=args)
    except Exception as exc:
        if raise_errors:
            raise
        _trip(exc)


# The local-memory cache lives in this process: a lock makes its compare-and-set atomic. (The in-process
# relay and the requests' after-commit hooks write from different threads; without it a relay that read
# the rows just before a write committed could put the older state back after the writer's own refresh.)
_local_cas_lock = threading.Lock()


def _store_versioned_locally(values: dict[str, tuple[int, Any]]) -> None:
    with _local_cas_lock:
        stored = cache.get_many([f"{key}:v" for key in values])
        newer = {key: item for key, item in values.items() if item[0] >= stored.get(f"{key}:v", -1)}
        writes = {key: value for key, (_, value) in newer.items()}
        writes.update({f"{key}:v": version for key, (version, _) in newer.items()})
        cache.set_many(writes, timeout=settings.STOCK_CACHE_TTL)


def _entries(
    skus: dict[int, str], items: Iterable[SimpleNamespace]
) -> tuple[dict[int, dict[str, Any]], dict[str, tuple[int, Any]]]:
    """Product entries ``{sku, items: [...]}`` and the versioned cache writes for them."""
    entries: dict[int, dict[str, Any]] = {pk: {"product_id": pk, "sku": sku, "items": []} for pk, sku in skus.items()}
    writes: dict[str, tuple[int, Any]] = {}
    product_versions: dict[int, int] = defaultdict(int)
    for item in sorted(items, key=lambda i: (i.product_id, i.warehouse_id)):
        payload = item_payload(item, skus[item.product_id])
        entries[item.product_id]["items"].append(payload)
        writes[item_key(item.product_id, item.warehouse_id)] = (item.version, payload)
        # Item versions only grow and items are never deleted: their sum orders product entries.
        product_versions[item.product_id] += item.version + 1
    for product_id, entry in entries.items():
        writes[product_key(product_id)] = (product_versions[product_id], entry)
    return entries, writes


def _load_products(product_ids: Iterable[int]) -> tuple[dict[int, dict[str, Any]], dict[str, tuple[int, Any]]]:
    """Product entries from the database (two queries), and the versioned cache writes for them."""
    skus = dict(Product.objects.filter(pk__in=set(product_ids)).values_list("pk", "sku"))
    items = item_rows(InventoryItem.objects.filter(product_id__in=skus)) if skus else []
    return _entries(skus, items)


_ROW_FIELDS = [field.attname for field in InventoryItem._meta.concrete_fields]


def item_rows(queryset) -> list[SimpleNamespace]:
    """Items as light rows (every column, plus ``pk`` and the product's ``sku``) for the hooks that
    only read them: a sweep touches thousands, and model instances cost several times more to build."""
    return [SimpleNamespace(pk=row["id"], **row) for row in queryset.values(*_ROW_FIELDS, sku=F("product__sku"))]


def cache_product_items(items: Iterable[SimpleNamespace], *, raise_errors: bool = False) -> None:
    """Cache the entries of products from ALL their items (rows from ``item_rows``)."""
    items = list(items)
    skus = {item.product_id: item.sku for item in items}
    _store_versioned(_entries(skus, items)[1], raise_errors=raise_errors)


def store_item_payloads(payloads: Iterable[dict[str, Any]]) -> None:
    """Read-your-writes after a commit, from the item JSON the write returned (no database read):
    the items' own keys get the new state; their products' entries are dropped, to be read again on
    the next request or rewritten by the relay. One cache round trip per 500 items; skipped while the
    cache is down."""
    payloads = list(payloads)
    # A chunk per call: thousands of items in one script (a CSV import) outlast the short Redis
    # timeout, which would mark the cache down for everyone.
    for start in range(0, len(payloads), _ITEMS_PER_CACHE_WRITE):
        chunk = payloads[start : start + _ITEMS_PER_CACHE_WRITE]
        items = {item_key(p["product_id"], p["warehouse_id"]): (p["version"], p) for p in chunk}
        _store_versioned(items, drop=sorted({product_key(p["product_id"]) for p in chunk}))


def product_entries(product_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """``{product_id: {product_id, sku, items}}`` for existing products, from the cache where possible.

    One cache round trip, and for misses two queries whatever the number of products.
    """
    ids = list(dict.fromkeys(product_ids))
    cached = _safe_get_many([product_key(p) for p in ids])
    entries = {p: cached[product_key(p)] for p in ids if product_key(p) in cached}
    if missing := [p for p in ids if p not in entries]:
        loaded, writes = _load_products(missing)
        _store_versioned(writes)
        entries.update(loaded)
    return entries


_PRODUCTS_PER_CACHE_WRITE = 200  # keeps each cache call well inside the short Redis timeout
_ITEMS_PER_CACHE_WRITE = 500


def refresh_products(product_ids: Iterable[int], *, raise_errors: bool = False) -> None:
    """Rewrite the entries of these products from the database (the relay, after each batch).

    A chunk of products at a time: one query for their items, one compare-and-set call.
    """
    ids = sorted(set(product_ids))
    for start in range(0, len(ids), _PRODUCTS_PER_CACHE_WRITE):
        rows = item_rows(InventoryItem.objects.filter(product_id__in=ids[start : start + _PRODUCTS_PER_CACHE_WRITE]))
        cache_product_items(rows, raise_errors=raise_errors)


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
        for field in SUMMED_FIELDS:
            totals[field] += item.get(field, 0)
    return {
        "product_id": entry["product_id"],
        "sku": entry["sku"],
        **{field: totals[field] for field in SUMMED_FIELDS},
        "items": items,
    }


# What a product's availability adds up over its items (states included).
SUMMED_FIELDS = (
    "available_quantity",
    "reserved_quantity",
    "damaged_quantity",
    "quality_control_quantity",
    "safety_stock_quantity",
    "total_quantity",
)
