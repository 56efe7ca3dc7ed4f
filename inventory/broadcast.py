"""What the live feed sends, and to whom (Channels groups, plus the seed's Redis channel ``stock_updates``).

Called only after a commit (``inventory.events`` and ``inventory.alerts`` register it with
``transaction.on_commit``), so a rolled-back or refused change is never broadcast. Nothing here
raises: a broken broker must not fail a write that has already committed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from inventory.models import ACTIVE_ALERT_STATUSES, LowStockAlert
from inventory.stock_cache import item_payload

logger = logging.getLogger(__name__)

STOCK_UPDATES_CHANNEL = "stock_updates"  # Redis pub/sub channel of the seed

# Messages on the channel layer; the consumer's handlers are named after them.
UPDATE_EVENT = "inventory.update"
ALERT_EVENT = "low_stock.alert"


# --- group names (valid Channels names: ASCII alphanumerics, hyphens, underscores, periods) ----


def product_group(product_id: int) -> str:
    return f"inventory.product.{product_id}"


def item_group(product_id: int, warehouse_id: int) -> str:
    return f"inventory.product.{product_id}.warehouse.{warehouse_id}"


def warehouse_group(warehouse_id: int) -> str:
    return f"inventory.warehouse.{warehouse_id}"


def low_stock_group(warehouse_id: int | None = None) -> str:
    return "inventory.low_stock" if warehouse_id is None else f"inventory.low_stock.{warehouse_id}"


def timestamp() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


# --- sending -----------------------------------------------------------------------------------


async def _groups_with_members(layer, groups: list[str]) -> set[str]:
    """Which groups have any member, in one pipelined round trip (channels-redis only).

    A sweep that touches thousands of items would otherwise pay two Redis round trips per group
    for groups nobody listens to (channels-redis looks the members up inside ``group_send``).
    """
    single_shard = len(getattr(layer, "hosts", ())) == 1
    if not single_shard or not hasattr(layer, "_group_key") or len(groups) < 8:
        return set(groups)
    try:
        pipe = layer.connection(0).pipeline(transaction=False)
        for group in groups:
            pipe.exists(layer._group_key(group))
        found = await pipe.execute()
    except Exception:
        logger.warning("could not check channel-layer group membership; sending to every group", exc_info=True)
        return set(groups)
    return {group for group, present in zip(groups, found, strict=True) if present}


async def _group_send_all(layer, sends: list[tuple[str, dict[str, Any]]]) -> None:
    await _send_lazily(layer, [((group,), lambda event=event: event) for group, event in sends])


async def _send_lazily(layer, entries: list[tuple[tuple[str, ...], Any]]) -> None:
    """Send each entry's event (built by its callable, only if needed) to those of its groups that
    have members; concurrently, a few dozen at a time (the sends share the layer's connections)."""
    listened = await _groups_with_members(layer, list(dict.fromkeys(g for groups, _ in entries for g in groups)))
    pending = []
    for groups, build in entries:
        targets = [group for group in groups if group in listened]
        if targets:
            event = build()
            pending += [layer.group_send(group, event) for group in targets]
    for start in range(0, len(pending), 50):
        await asyncio.gather(*pending[start : start + 50])


def _send_to_groups(sends: list[tuple[str, dict[str, Any]]]) -> None:
    """All sends in one event loop: one connection to the layer, however many groups."""
    layer = get_channel_layer()
    if layer is None or not sends:
        return
    async_to_sync(_group_send_all)(layer, sends)


def _event(event_type: str, message: dict[str, Any]) -> dict[str, Any]:
    # ``id`` lets a consumer that is in several of the target groups forward the message once.
    return {"type": event_type, "id": uuid.uuid4().hex, "message": message}


def broadcast_items(items: Iterable) -> None:
    """Send ``inventory:update`` for each item (rows from ``stock_cache.item_rows``) to its product,
    product+warehouse and warehouse groups, and publish it on ``stock_updates``.

    Payloads are built only for items somebody listens to: a sweep over thousands of items costs
    one membership round trip when no client is connected.
    """
    items = sorted(items, key=lambda i: i.pk)
    if not items:
        return
    ts = timestamp()

    def update(item) -> dict[str, Any]:
        return _event(UPDATE_EVENT, {"type": "inventory:update", "data": item_payload(item, item.sku), "ts": ts})

    entries = [
        (
            (
                product_group(item.product_id),
                item_group(item.product_id, item.warehouse_id),
                warehouse_group(item.warehouse_id),
            ),
            partial(update, item),
        )
        for item in items
    ]
    layer = get_channel_layer()
    if layer is not None:
        try:
            async_to_sync(_send_lazily)(layer, entries)
        except Exception:
            logger.exception("broadcasting stock updates failed for items %s", [i.pk for i in items])
    if _has_stock_update_subscribers():
        publish_stock_updates([item_payload(item, item.sku) for item in items], ts)


def _has_stock_update_subscribers() -> bool:
    """Whether any other service listens on ``stock_updates`` (publishing to nobody still costs CPU)."""
    if not settings.REDIS_URL:
        return False
    try:
        from django_redis import get_redis_connection

        ((_, subscribers),) = get_redis_connection("default").pubsub_numsub(STOCK_UPDATES_CHANNEL)
    except Exception:
        return True  # unknown: publish, and let publish_stock_updates log the failure
    return subscribers > 0


def stock_update_message(payload: dict[str, Any], ts: str) -> dict[str, Any]:
    """The seed's ``STOCK_UPDATE`` message, with the full item JSON under ``data``."""
    return {
        "type": "STOCK_UPDATE",
        "productId": payload["product_id"],
        "warehouseId": payload["warehouse_id"],
        "availableQuantity": payload["available_quantity"],
        "timestamp": ts,
        "data": payload,
    }


def publish_stock_updates(payloads: list[dict[str, Any]], ts: str) -> None:
    """Publish on the Redis channel ``stock_updates`` for other services (only when Redis is configured)."""
    if not settings.REDIS_URL or not payloads:
        return
    try:
        from django_redis import get_redis_connection

        pipe = get_redis_connection("default").pipeline(transaction=False)
        for payload in payloads:
            pipe.publish(STOCK_UPDATES_CHANNEL, json.dumps(stock_update_message(payload, ts)))
        pipe.execute()
    except Exception:
        logger.exception("publishing %d stock update(s) on %s failed", len(payloads), STOCK_UPDATES_CHANNEL)


def alert_payload(alert: LowStockAlert) -> dict[str, Any]:
    item = alert.item
    return {
        "product_id": item.product_id,
        "sku": item.product.sku,
        "warehouse_id": item.warehouse_id,
        "current_quantity": item.available_quantity,  # live, as the alert list shows it
        "reorder_point": item.reorder_point,
        "alert_id": alert.pk,
    }


def broadcast_alerts(alert_ids: Iterable[int]) -> None:
    """Send ``low-stock:alert`` for each still-active alert to ``inventory.low_stock`` and its warehouse's group."""
    try:
        alerts = list(
            LowStockAlert.objects.filter(pk__in=list(alert_ids), status__in=ACTIVE_ALERT_STATUSES)
            .select_related("item__product")
            .order_by("pk")
        )
        ts = timestamp()
        sends = []
        for alert in alerts:
            event = _event(ALERT_EVENT, {"type": "low-stock:alert", "data": alert_payload(alert), "ts": ts})
            sends.append((low_stock_group(), event))
            sends.append((low_stock_group(alert.item.warehouse_id), event))
        _send_to_groups(sends)
    except Exception:
        logger.exception("broadcasting low-stock alerts %s failed", alert_ids)
