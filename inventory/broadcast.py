"""What the live feed sends, and to whom (Channels groups, plus the seed's Redis channel ``stock_updates``).

Only the relay (``inventory.relay``) calls the senders here, with committed events, so a rolled-back
or refused change is never broadcast. The senders raise on failure: the relay then backs off and
sends the same events again, never losing one.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils import timezone

STOCK_UPDATES_CHANNEL = "stock_updates"  # Redis pub/sub channel of the seed
LAYER_TIMEOUT = 5.0  # seconds a batch's group sends may take before the relay backs off (a hung Redis)

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


def item_groups(product_id: int, warehouse_id: int) -> tuple[str, ...]:
    """Every group an item's update goes to."""
    return product_group(product_id), item_group(product_id, warehouse_id), warehouse_group(warehouse_id)


def alert_groups(warehouse_id: int) -> tuple[str, ...]:
    return low_stock_group(), low_stock_group(warehouse_id)


def timestamp() -> str:
    return timezone.now().isoformat().replace("+00:00", "Z")


# --- messages ----------------------------------------------------------------------------------


def update_message(payload: dict[str, Any], event_id: int, ts: str) -> dict[str, Any]:
    """``inventory:update`` as a client receives it: the item JSON and the event it comes from."""
    return {"type": "inventory:update", "data": payload, "event_id": event_id, "ts": ts}


def alert_message(data: dict[str, Any], event_id: int, ts: str) -> dict[str, Any]:
    """``low-stock:alert``: the seed's fields (product, warehouse, current quantity, reorder point) and more."""
    return {"type": "low-stock:alert", "data": data, "event_id": event_id, "ts": ts}


def layer_event(handler: str, message: dict[str, Any]) -> dict[str, Any]:
    # ``id`` lets a consumer that is in several of the target groups forward the message once.
    return {"type": handler, "id": uuid.uuid4().hex, "event_id": message["event_id"], "message": message}


# --- sending -----------------------------------------------------------------------------------

Send = tuple[tuple[str, ...], Callable[[], dict[str, Any]]]  # target groups, and the layer event to build


async def _groups_with_members(layer, groups: list[str]) -> set[str]:
    """Which groups have any member, in one pipelined round trip (channels-redis only).

    A sweep that touches thousands of items would otherwise pay two Redis round trips per group
    for groups nobody listens to (channels-redis looks the members up inside ``group_send``).
    """
    single_shard = len(getattr(layer, "hosts", ())) == 1
    if not single_shard or not hasattr(layer, "_group_key") or len(groups) < 8:
        return set(groups)
    pipe = layer.connection(0).pipeline(transaction=False)
    for group in groups:
        pipe.exists(layer._group_key(group))
    found = await pipe.execute()
    return {group for group, present in zip(groups, found, strict=True) if present}


async def send_to_groups(layer, sends: list[Send]) -> int:
    """Send each entry's event (built only if needed) to those of its groups that have members,
    concurrently, a few dozen at a time; returns how many group sends were made. Raises on failure."""

    async def run() -> int:
        listened = await _groups_with_members(layer, list(dict.fromkeys(g for groups, _ in sends for g in groups)))
        pending = []
        for groups, build in sends:
            targets = [group for group in groups if group in listened]
            if targets:
                event = build()
                pending += [layer.group_send(group, event) for group in targets]
        for start in range(0, len(pending), 50):
            await asyncio.gather(*pending[start : start + 50])
        return len(pending)

    return await asyncio.wait_for(run(), LAYER_TIMEOUT)


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


def publish_stock_updates(payloads: list[dict[str, Any]], ts: str) -> int:
    """Publish on the Redis channel ``stock_updates`` when anyone listens; returns how many. Raises on failure."""
    if not settings.REDIS_URL or not payloads:
        return 0
    from django_redis import get_redis_connection

    redis = get_redis_connection("default")
    ((_, subscribers),) = redis.pubsub_numsub(STOCK_UPDATES_CHANNEL)
    if not subscribers:  # publishing to nobody still costs CPU
        return 0
    pipe = redis.pipeline(transaction=False)
    for payload in payloads:
        pipe.publish(STOCK_UPDATES_CHANNEL, json.dumps(stock_update_message(payload, ts)))
    pipe.execute()
    return len(payloads)
