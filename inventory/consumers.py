"""The live feed: ``/ws/inventory/`` (protocol in the README, "Live feed").

A client subscribes to Channels groups (``inventory.broadcast`` names them) with JSON text frames
and receives ``inventory:update`` and ``low-stock:alert`` messages, which are sent only after the
change commits. A bad frame is answered with an ``error`` frame; the connection stays open.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inventory import broadcast
from inventory_site.permissions import roles_of

MAX_SUBSCRIPTIONS = 100
MAX_ID = 2**63 - 1
_RECENT_EVENTS = 512  # ids remembered to forward a message once when it reaches several of our groups
SUBSCRIPTION_KINDS = ("inventory", "warehouse", "low-stock")


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _id_field(content: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = content.get(name)
    if value is None:
        if required:
            raise ProtocolError("missing_field", f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ProtocolError("invalid_field", f"{name} must be a positive integer, got {json.dumps(value)[:40]}.")
    return value


def subscription_for(kind: str, content: dict[str, Any]) -> tuple[str, dict[str, int]]:
    """The group of a subscription and the (validated) fields that name it."""
    if kind == "inventory":
        product_id = _id_field(content, "product_id", required=True)
        warehouse_id = _id_field(content, "warehouse_id", required=False)
        if warehouse_id is None:
            return broadcast.product_group(product_id), {"product_id": product_id}
        return broadcast.item_group(product_id, warehouse_id), {"product_id": product_id, "warehouse_id": warehouse_id}
    if kind == "warehouse":
        warehouse_id = _id_field(content, "warehouse_id", required=True)
        return broadcast.warehouse_group(warehouse_id), {"warehouse_id": warehouse_id}
    if kind == "low-stock":
        warehouse_id = _id_field(content, "warehouse_id", required=False)
        fields = {} if warehouse_id is None else {"warehouse_id": warehouse_id}
        return broadcast.low_stock_group(warehouse_id), fields
    raise ProtocolError("invalid_field", f"subscription must be one of {', '.join(SUBSCRIPTION_KINDS)}.")


class InventoryConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        self.subscriptions: set[str] = set()
        self._recent: deque[str] = deque(maxlen=_RECENT_EVENTS)
        if not await database_sync_to_async(roles_of)(self.scope.get("user")):
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in self.subscriptions:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.subscriptions.clear()

    # --- client -> server ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        try:
            if text_data is None:
                raise ProtocolError("invalid_message", "Send JSON text frames, not binary ones.")
            try:
                content = json.loads(text_data)
            except ValueError:
                raise ProtocolError("invalid_json", "The frame is not valid JSON.") from None
            await self.receive_json(content)
        except ProtocolError as exc:
            await self.send_json({"type": "error", "code": exc.code, "detail": exc.detail})

    async def receive_json(self, content: Any, **kwargs) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            raise ProtocolError("invalid_message", 'A frame is a JSON object with a string "type".')
        kind = content["type"]
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind.startswith("subscribe:") and kind[len("subscribe:") :] in SUBSCRIPTION_KINDS:
            await self._subscribe(*subscription_for(kind[len("subscribe:") :], content))
        elif kind == "unsubscribe":
            await self._unsubscribe(*self._unsubscription_for(content))
        else:
            raise ProtocolError("unknown_type", f"Unknown message type {kind[:60]!r}.")

    async def _subscribe(self, group: str, fields: dict[str, int]) -> None:
        if group not in self.subscriptions:
            if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
                raise ProtocolError(
                    "too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection."
                )
            await self.channel_layer.group_add(group, self.channel_name)
            self.subscriptions.add(group)
        await self.send_json({"type": "subscribed", "channel": group, **fields})

    def _unsubscription_for(self, content: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """``channel`` (a name from a ``subscribed`` answer), or ``subscription`` plus its fields, or just
        the fields of the subscription: product_id means inventory; warehouse_id alone means the
        warehouse subscription, or the warehouse's low-stock one if only that is held; nothing means
        low-stock for all warehouses."""
        if "channel" in content:
            channel = content["channel"]
            if not isinstance(channel, str) or not 0 < len(channel) <= 100:
                raise ProtocolError("invalid_field", "channel must be a name from a subscribed answer.")
            return channel, {}
        if "subscription" in content:
            kind = content["subscription"]
            if kind not in SUBSCRIPTION_KINDS:
                raise ProtocolError("invalid_field", f"subscription must be one of {', '.join(SUBSCRIPTION_KINDS)}.")
            return subscription_for(kind, content)
        if content.get("product_id") is not None:
            return subscription_for("inventory", content)
        if content.get("warehouse_id") is not None:
            group, fields = subscription_for("warehouse", content)
            low_stock, _ = subscription_for("low-stock", content)
            if group not in self.subscriptions and low_stock in self.subscriptions:
                return low_stock, fields
            return group, fields
        return subscription_for("low-stock", content)

    async def _unsubscribe(self, group: str, fields: dict[str, Any]) -> None:
        if group in self.subscriptions:
            await self.channel_layer.group_discard(group, self.channel_name)
            self.subscriptions.discard(group)
        await self.send_json({"type": "unsubscribed", "channel": group, **fields})

    # --- server -> client (channel layer events, see inventory.broadcast) ------------------------

    async def inventory_update(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def low_stock_alert(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def _forward(self, event: dict[str, Any]) -> None:
        event_id = event.get("id")
        if event_id is not None:
            if event_id in self._recent:
                return
            self._recent.append(event_id)
        await self.send_json(event["message"])
