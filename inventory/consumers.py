"""The live feed: ``/ws/inventory/`` (protocol in the README, "WebSocket protocol").

A client subscribes to Channels groups (``inventory.broadcast`` names them) with JSON text frames
and receives ``inventory:update`` and ``low-stock:alert`` messages. The relay (``inventory.relay``)
sends them, only for committed changes, each with the ``event_id`` of the event it comes from. A
bad frame is answered with an ``error`` frame; the connection stays open.

Every subscription has a *watermark*, answered as ``last_event_id``: the client gets the matching
events after it, each once. Without ``since`` it is the newest final event when the subscription is
made (the relay may still be sending older ones: they are dropped, they predate the subscription).

Resume: a subscribe frame may carry ``"since": <event id>``. The consumer joins the group first (live
messages queue up meanwhile), then reads the stored final events after ``since`` that match the
subscription (``inventory.feed``) up to the feed's horizon and sends them, oldest first, marked
``"replay": true``. The largest id the replay covered (the feed's ``next_after``) becomes the
subscription's watermark: a queued live message with an ``event_id`` at or below it was part of
the replay (or of what the client already had) and is dropped. Why nothing is lost: the relay only
sends final events; one it sent before the consumer joined the group was final before the replay
read, so its id is at or below the watermark, and every later one reaches the group.

Per item the consumer never sends a state older than one it already sent on the connection (by
``event_id`` and item ``version``), so overlapping subscriptions, a relay that resends a batch, or
two relays that each remember only what they sent cannot make a client go backwards.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inventory import broadcast, feed
from inventory.event_models import Event, EventType
from inventory.ws_layer_outage import LAYER_ERRORS, LayerOutageMixin
from inventory_site.permissions import roles_of

MAX_SUBSCRIPTIONS = 100
MAX_ID = 2**63 - 1
MAX_REPLAY = 10_000  # stored events one subscribe may replay; more answers since_too_old
_REPLAY_PAGE = 1000
_RECENT_EVENTS = 512  # layer message ids remembered to forward a message once when it reaches several groups
_SENT_MEMORY = 50_000  # items and alerts whose last sent event the connection remembers
SUBSCRIPTION_KINDS = ("inventory", "warehouse", "low-stock")


class ProtocolError(Exception):
    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


def _id_field(content: dict[str, Any], name: str, *, required: bool) -> int | None:
    value = content.get(name)
    if value is None:
        if required:
            raise ProtocolError("missing_field", f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise ProtocolError("invalid_field", f"{name} must be a positive integer, got {json.dumps(value)[:40]}.")
    return value


def _since_field(content: dict[str, Any]) -> int | None:
    value = content.get("since")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ProtocolError(
            "invalid_field", f"since must be an event id (an integer >= 0), got {json.dumps(value)[:40]}."
        )
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


def feed_filter(kind: str, fields: dict[str, int]) -> dict[str, Any]:
    """The stored events a subscription stands for, as ``feed.read_events`` filters."""
    if kind == "low-stock":
        return {"types": [EventType.LOW_STOCK_RAISED.value], "warehouse_id": fields.get("warehouse_id")}
    return {
        "types": [EventType.INVENTORY_UPDATED.value],
        "product_id": fields.get("product_id"),
        "warehouse_id": fields.get("warehouse_id"),
    }


def message_groups(message: dict[str, Any]) -> tuple[str, ...] | None:
    """The groups a live message goes to (None: unknown, forward it as it is)."""
    data = message.get("data") or {}
    try:
        if message.get("type") == "inventory:update":
            return broadcast.item_groups(int(data["product_id"]), int(data["warehouse_id"]))
        if message.get("type") == "low-stock:alert":
            return broadcast.alert_groups(int(data["warehouse_id"]))
    except (KeyError, TypeError, ValueError):
        return None
    return None


def replay_messages(events: list[Event]) -> Iterator[dict[str, Any]]:
    """The messages of stored events in id order, less any item state older than one replayed before it."""
    versions: dict[int, int] = {}
    for event in events:
        if event.type == EventType.INVENTORY_UPDATED and event.item_id is not None:
            version = int(event.data.get("version") or 0)
            if version <= versions.get(event.item_id, -1):
                continue  # committed out of id order: a newer state of the item was replayed already
            versions[event.item_id] = version
        yield replay_message(event)


def replay_message(event: Event) -> dict[str, Any]:
    """A stored event as the live feed sends it, marked as a replay; ``ts`` is when the change committed."""
    ts = event.created_at.isoformat().replace("+00:00", "Z")
    if event.type == EventType.LOW_STOCK_RAISED:
        message = broadcast.alert_message(event.data, event.id, ts)
    else:
        message = broadcast.update_message(event.data, event.id, ts)
    return {**message, "replay": True}


@dataclass(frozen=True)
class Replay:
    events: list[Event]
    last_event_id: int  # every matching final event up to here is in ``events`` (or at or before since)


def read_replay(kind: str, fields: dict[str, int], since: int) -> Replay:
    """The stored final events after ``since`` that a subscription matches, oldest first.

    Raises ``ProtocolError`` (``events_expired``, ``since_too_old``, ``invalid_field``) when they cannot
    all be sent.
    """
    if since and since < feed.purged_through():
        raise _expired(since)
    filters = feed_filter(kind, fields)
    events: list[Event] = []
    cursor = since
    while True:
        limit = min(_REPLAY_PAGE, MAX_REPLAY + 1 - len(events))
        page = feed.read_events(after=cursor, limit=limit, **filters)
        events += page.events
        cursor = page.next_after
        if len(events) > MAX_REPLAY:
            raise ProtocolError(
                "since_too_old",
                f"More than {MAX_REPLAY} events match after since; load the current state and subscribe again "
                "with a newer since (or none).",
                limit=MAX_REPLAY,
            )
        if len(page.events) < limit:
            break
    # The retention purge may have run while we read: then part of the range may be gone.
    purged = feed.purged_through()
    if since and since < purged:
        raise _expired(since)
    if not events and since > max(feed.latest_final_id(), purged):
        raise ProtocolError(
            "invalid_field", f"since {since} is after the newest event: it is not an event id of this service."
        )
    return Replay(events, cursor)


def _expired(since: int) -> ProtocolError:
    return ProtocolError(
        "events_expired",
        f"Events after {since} were purged (EVENT_RETENTION_DAYS): load the current state and subscribe again "
        "with a newer since (or none).",
        purged_through=feed.purged_through(),
    )


class SentMemory:
    """The newest event (and item version) the connection sent per item and per alert; bounded (LRU)."""

    def __init__(self, size: int = _SENT_MEMORY) -> None:
        self._sent: OrderedDict[tuple[str, int], tuple[int, int]] = OrderedDict()
        self._size = size

    @staticmethod
    def key(message: dict[str, Any]) -> tuple[tuple[str, int], int] | None:
        """(what the message is about, its item version) — None when it names neither an item nor an alert."""
        data = message.get("data") or {}
        if message.get("type") == "inventory:update" and isinstance(data.get("id"), int):
            return ("item", data["id"]), int(data.get("version") or 0)
        if message.get("type") == "low-stock:alert" and isinstance(data.get("alert_id"), int):
            return ("alert", data["alert_id"]), 0
        return None

    def fresh(self, message: dict[str, Any]) -> bool:
        """Whether the message is newer than what was sent about its item (alert), by event id and version."""
        key = self.key(message)
        if key is None:
            return True
        subject, version = key
        known = self._sent.get(subject)
        if known is None:
            return True
        event_id, known_version = known
        if message["event_id"] <= event_id:
            return False
        return subject[0] != "item" or version > known_version

    def remember(self, message: dict[str, Any]) -> None:
        key = self.key(message)
        if key is None:
            return
        subject, version = key
        known = self._sent.get(subject, (0, 0))
        self._sent[subject] = (max(known[0], message["event_id"]), max(known[1], version))
        self._sent.move_to_end(subject)
        while len(self._sent) > self._size:
            self._sent.popitem(last=False)


class InventoryConsumer(LayerOutageMixin, AsyncJsonWebsocketConsumer):
    """The live feed; while Redis is down it closes with 1013 and refuses handshakes (``ws_layer_outage``)."""

    async def connect(self) -> None:
        # group -> watermark: a live message of the group at or below it was replayed or predates the subscription
        self.subscriptions: dict[str, int] = {}
        self._recent: deque[str] = deque(maxlen=_RECENT_EVENTS)
        self._sent = SentMemory()
        if not await database_sync_to_async(roles_of)(self.scope.get("user")):
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        await self.accept_unless_layer_down()

    async def disconnect(self, code: int) -> None:
        try:
            if not self.layer_down:  # otherwise the groups are gone with Redis, or expire (group_expiry)
                for group in self.subscriptions:
                    await self.channel_layer.group_discard(group, self.channel_name)
        except LAYER_ERRORS as exc:
            await self.layer_failed(exc, close=False)  # the socket is gone already
        self.subscriptions.clear()

    # --- client -> server ----------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if self.closing:
            return  # a frame that arrived before the server closed the socket
        try:
            if text_data is None:
                raise ProtocolError("invalid_message", "Send JSON text frames, not binary ones.")
            try:
                content = json.loads(text_data)
            except ValueError:
                raise ProtocolError("invalid_json", "The frame is not valid JSON.") from None
            await self.receive_json(content)
        except ProtocolError as exc:
            await self.send_json({"type": "error", "code": exc.code, "detail": exc.detail, **exc.extra})
        except LAYER_ERRORS as exc:  # Redis down: close with 1013 (no traceback, no 1006)
            await self.layer_failed(exc)

    async def receive_json(self, content: Any, **kwargs) -> None:
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            raise ProtocolError("invalid_message", 'A frame is a JSON object with a string "type".')
        kind = content["type"]
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind.startswith("subscribe:") and kind[len("subscribe:") :] in SUBSCRIPTION_KINDS:
            subscription = kind[len("subscribe:") :]
            group, fields = subscription_for(subscription, content)
            await self._subscribe(subscription, group, fields, _since_field(content))
        elif kind == "unsubscribe":
            await self._unsubscribe(*self._unsubscription_for(content))
        else:
            raise ProtocolError("unknown_type", f"Unknown message type {kind[:60]!r}.")

    async def _subscribe(self, kind: str, group: str, fields: dict[str, int], since: int | None) -> None:
        joined = group not in self.subscriptions
        if joined:
            if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
                raise ProtocolError(
                    "too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection."
                )
            # First join: live messages queue while the replay is read and sent.
            await self.channel_layer.group_add(group, self.channel_name)
            self.subscriptions[group] = 0
        if since is None:
            # Live from here: every matching event after last_event_id, nothing older (the relay may still
            # be sending older ones; a client that wants those subscribes with since).
            last_event_id = await database_sync_to_async(feed.latest_final_id)()
            if joined:
                self.subscriptions[group] = last_event_id
            await self.send_json({"type": "subscribed", "channel": group, **fields, "last_event_id": last_event_id})
            return
        try:
            replay = await database_sync_to_async(read_replay)(kind, fields, since)
        except ProtocolError as exc:
            if joined:  # the subscription is not made
                await self.channel_layer.group_discard(group, self.channel_name)
                del self.subscriptions[group]
            exc.extra = {"channel": group, **fields, "since": since, **exc.extra}
            raise
        replayed = await self._send_replay(replay.events)
        self.subscriptions[group] = max(self.subscriptions[group], replay.last_event_id)
        await self.send_json(
            {
                "type": "subscribed",
                "channel": group,
                **fields,
                "since": since,
                "last_event_id": replay.last_event_id,
                "replayed": replayed,
            }
        )

    async def _send_replay(self, events: list[Event]) -> int:
        """Send stored events in id order, skipping an item state older than one sent before it in the replay."""
        sent = 0
        for message in replay_messages(events):
            await self.send_json(message)
            self._sent.remember(message)
            sent += 1
        return sent

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
            del self.subscriptions[group]
        await self.send_json({"type": "unsubscribed", "channel": group, **fields})

    # --- server -> client (channel layer events, see inventory.broadcast) ------------------------

    async def inventory_update(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def low_stock_alert(self, event: dict[str, Any]) -> None:
        await self._forward(event)

    async def _forward(self, event: dict[str, Any]) -> None:
        layer_id = event.get("id")
        if layer_id is not None:
            if layer_id in self._recent:
                return
            self._recent.append(layer_id)
        message = event["message"]
        event_id = message.get("event_id")
        if isinstance(event_id, int):
            groups = message_groups(message)
            if groups is not None:
                watermarks = [self.subscriptions[g] for g in groups if g in self.subscriptions]
                # Not (or no longer) subscribed, or replayed already / before since for every subscription.
                if not watermarks or all(event_id <= mark for mark in watermarks):
                    return
            if not self._sent.fresh(message):
                return  # this connection already sent this state of the item, or a newer one
            self._sent.remember(message)
        await self.send_json(message)
