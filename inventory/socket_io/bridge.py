"""How changes reach Socket.IO clients: each web process bridges the Channels groups to its own clients.

Design. The relay already sends every ``inventory:update`` and ``low-stock:alert`` to the Channels groups
of ``/ws/inventory/`` (``inventory.broadcast``), through channels-redis to every web process, or through
the in-memory layer inside the one process of the embedded default. So each web process runs one
``Bridge``: it holds one channel of the layer, joins a group when the first of its Socket.IO clients
subscribes to it and leaves when the last one goes, and hands every message it receives to the clients
subscribed to the message's groups. The relay, the embedded in-process path and the Redis outage
handling (``inventory.ws_layer_outage``) stay as they are, and nothing is sent twice over Redis.

The alternative, python-socketio's Redis client manager with a write-only emitter in the relay, was not
taken: the relay would emit every change a second time (to Socket.IO rooms as well as groups), the
embedded default would need a second path, and a room emit reaches clients before anyone could apply the
per-client rules below, which ``since`` needs.

Per client the rules are those of ``inventory.consumers``: a subscription has a watermark (its
``last_event_id``), and a live message at or below every matching watermark is dropped; a subscribe with
``since`` replays the stored events first; and per item a client never gets a state older than one it
already got (``SentMemory``). While a subscription is being made, live messages for that client wait
(``Client.held``), so the replay comes before them and the watermark is known when they are judged.

Groups expire in channels-redis (``group_expiry``, a day), so the bridge adds its groups again every
hour. If the layer fails (Redis down), the bridge marks it down for the whole process (the WebSocket
consumers close with 1013 too) and closes every Socket.IO connection at the Engine.IO level: the clients
reconnect by themselves, with their backoff, and handshakes are refused until Redis answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from inventory import feed
from inventory.consumers import (
    MAX_SUBSCRIPTIONS,
    ProtocolError,
    SentMemory,
    message_groups,
    read_replay,
    replay_messages,
)
from inventory.event_models import Event
from inventory.socket_io import protocol
from inventory.socket_io.auth import Viewer
from inventory.ws_layer_outage import LAYER_ERRORS, layer_health, receive_unless

logger = logging.getLogger(__name__)

GROUP_REFRESH_SECONDS = 3600.0  # well inside channels-redis' group_expiry (86400 s)
_RECENT_MESSAGES = 4096  # layer message ids remembered: one relay message reaches up to three groups


class Client:
    """A connected Socket.IO client: who it is, its subscriptions (group -> watermark), what it was sent."""

    def __init__(self, sid: str, viewer: Viewer) -> None:
        self.sid = sid
        self.viewer = viewer
        self.subscriptions: dict[str, int] = {}
        self.sent = SentMemory()
        self.held: list[tuple[dict[str, Any], tuple[str, ...]]] | None = None
        self.lock = asyncio.Lock()  # one subscribe or unsubscribe of the client at a time


class Bridge:
    """The Channels groups of one web process (event loop), fanned out to its Socket.IO clients."""

    def __init__(self, server: Any, layer: Any) -> None:
        self._server = server  # socketio.AsyncServer
        self._layer = layer
        self.clients: dict[str, Client] = {}
        self._members: dict[str, set[str]] = {}  # group -> sids of the clients subscribed to it
        self._channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._membership = asyncio.Lock()
        self._recent: deque[str] = deque(maxlen=_RECENT_MESSAGES)
        self._recent_ids: set[str] = set()

    # --- clients and subscriptions ------------------------------------------------------------------

    def add(self, client: Client) -> None:
        self.clients[client.sid] = client

    async def forget(self, sid: str) -> None:
        """A client disconnected: leave the groups only it needed."""
        client = self.clients.pop(sid, None)
        if client is None:
            return
        async with client.lock:  # a subscribe still being made finishes first, then is undone here
            for group in list(client.subscriptions):
                await self._leave(sid, group)
            client.subscriptions.clear()

    async def subscribe(
        self, client: Client, *, kind: str, group: str, fields: dict[str, int], since: int | None
    ) -> dict[str, Any]:
        """Join (or keep) a subscription; replay from ``since`` first when given. Returns the acknowledgement."""
        async with client.lock:
            joined = group not in client.subscriptions
            if joined and len(client.subscriptions) >= MAX_SUBSCRIPTIONS:
                raise ProtocolError(
                    "too_many_subscriptions", f"At most {MAX_SUBSCRIPTIONS} subscriptions per connection."
                )
            client.held = []
            try:
                if joined:
                    await self._join(client.sid, group)
                    client.subscriptions[group] = 0
                try:
                    return await self._start(client, kind=kind, group=group, fields=fields, since=since, joined=joined)
                except Exception:
                    if joined:  # the subscription is not made
                        del client.subscriptions[group]
                        await self._leave(client.sid, group)
                    raise
            finally:
                await self._release(client)

    async def _start(
        self, client: Client, *, kind: str, group: str, fields: dict[str, int], since: int | None, joined: bool
    ) -> dict[str, Any]:
        """Set the subscription's watermark (after the replay, with ``since``); the acknowledgement."""
        if since is None:
            # Live from here: every matching event after last_event_id, nothing older.
            last_event_id = await database_sync_to_async(feed.latest_final_id)()
            if joined:
                client.subscriptions[group] = last_event_id
            return {"ok": True, "room": group, **fields, "last_event_id": last_event_id}
        try:
            replay = await database_sync_to_async(read_replay)(kind, fields, since)
        except ProtocolError as exc:
            exc.extra = {"room": group, **fields, "since": since, **exc.extra}
            raise
        replayed = await self._send_replay(client, replay.events)
        client.subscriptions[group] = max(client.subscriptions[group], replay.last_event_id)
        return {
            "ok": True,
            "room": group,
            **fields,
            "since": since,
            "last_event_id": replay.last_event_id,
            "replayed": replayed,
        }

    async def unsubscribe(self, client: Client, group: str) -> None:
        async with client.lock:
            if client.subscriptions.pop(group, None) is not None:
                await self._leave(client.sid, group)

    async def _send_replay(self, client: Client, events: list[Event]) -> int:
        """Stored events in id order, skipping an item state older than one replayed before it."""
        sent = 0
        for message in replay_messages(events):
            await self._send(message, [client.sid])
            client.sent.remember(message)
            sent += 1
        return sent

    async def _release(self, client: Client) -> None:
        """Send what arrived while the subscription was made (judged by the watermarks now known)."""
        while client.held:
            message, groups = client.held.pop(0)
            if self._admits(client, message, groups):
                await self._send(message, [client.sid])
        client.held = None

    # --- the layer ------------------------------------------------------------------------------

    async def _join(self, sid: str, group: str) -> None:
        async with self._membership:
            if self._channel is None:
                self._channel = await self._layer.new_channel(prefix="socketio")
                self._tasks = [
                    asyncio.create_task(self._receive_loop(self._channel)),
                    asyncio.create_task(self._refresh_loop(self._channel)),
                ]
            members = self._members.get(group)
            if members is None:
                await self._layer.group_add(group, self._channel)
                members = self._members[group] = set()
            members.add(sid)

    async def _leave(self, sid: str, group: str) -> None:
        async with self._membership:
            members = self._members.get(group)
            if members is None:
                return
            members.discard(sid)
            if members:
                return
            del self._members[group]
            if self._channel is not None and not layer_health().down:
                try:
                    await self._layer.group_discard(group, self._channel)
                except LAYER_ERRORS as exc:
                    self._failed(exc)

    async def _refresh_loop(self, channel: str) -> None:
        """Add the groups again before channels-redis lets them expire."""
        while True:
            await asyncio.sleep(GROUP_REFRESH_SECONDS)
            try:
                for group in list(self._members):
                    await self._layer.group_add(group, channel)
            except LAYER_ERRORS as exc:
                self._failed(exc)
                return

    async def _receive_loop(self, channel: str) -> None:
        health = layer_health()
        outage = health.outage
        while not outage.done():
            receiving = await receive_unless(self._layer.receive(channel), outage)
            if receiving.cancelled():
                break
            exc = receiving.exception()
            if exc is not None:
                if isinstance(exc, LAYER_ERRORS):
                    health.mark_down(exc)
                    break
                logger.error("socket.io: the bridge's receive failed", exc_info=exc)
                await asyncio.sleep(1)
                continue
            try:
                await self._dispatch(receiving.result())
            except Exception:
                logger.exception("socket.io: could not hand a message to the clients")
        if outage.done():
            await self._drop_everyone()

    def _failed(self, exc: BaseException) -> None:
        """A layer call failed: the layer is down for the process; the receive loop drops every client."""
        layer_health().mark_down(exc)

    async def _drop_everyone(self) -> None:
        """The layer is down: forget the groups and close every connection so clients reconnect later."""
        async with self._membership:
            self._channel = None
            self._members.clear()
            tasks, self._tasks = self._tasks, []
        current = asyncio.current_task()
        for task in tasks:
            if task is not current:
                task.cancel()
        sids = list(self.clients)
        for sid in sids:
            client = self.clients.get(sid)
            if client is not None:
                client.subscriptions.clear()
        if sids:
            logger.warning("socket.io: closing %d connection(s): the channel layer (Redis) does not answer", len(sids))
        for sid in sids:
            with contextlib.suppress(Exception):
                await self._server.close_transport(sid)

    # --- fan-out ----------------------------------------------------------------------------------

    async def _dispatch(self, event: dict[str, Any]) -> None:
        layer_id = event.get("id")
        if layer_id is not None:
            if layer_id in self._recent_ids:
                return  # the same relay message through another group of ours
            if len(self._recent) == self._recent.maxlen:
                self._recent_ids.discard(self._recent[0])
            self._recent.append(layer_id)
            self._recent_ids.add(layer_id)
        message = event.get("message")
        groups = message_groups(message) if isinstance(message, dict) else None
        if not groups:
            return
        recipients = []
        for sid in _union(self._members.get(group, ()) for group in groups):
            client = self.clients.get(sid)
            if client is None:
                continue
            if client.held is not None:
                client.held.append((message, groups))
            elif self._admits(client, message, groups):
                recipients.append(sid)
        if recipients:
            await self._send(message, recipients)

    @staticmethod
    def _admits(client: Client, message: dict[str, Any], groups: tuple[str, ...]) -> bool:
        """Whether the client gets the message (and if so, remember it was sent)."""
        event_id = message.get("event_id")
        if isinstance(event_id, int):
            marks = [client.subscriptions[g] for g in groups if g in client.subscriptions]
            # Not (or no longer) subscribed, or replayed already / before the subscription for every match.
            if not marks or all(event_id <= mark for mark in marks):
                return False
            if not client.sent.fresh(message):
                return False  # this client already got this state of the item, or a newer one
            client.sent.remember(message)
        return True

    async def _send(self, message: dict[str, Any], sids: list[str]) -> None:
        name, payload = protocol.client_payload(message)
        await self._server.emit(name, payload, to=sids)


def _union(sets: Iterable[Iterable[str]]) -> set[str]:
    found: set[str] = set()
    for members in sets:
        found.update(members)
    return found


_bridges: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Bridge] = weakref.WeakKeyDictionary()


def bridge_for(server: Any) -> Bridge:
    """The running event loop's bridge (one per web process)."""
    loop = asyncio.get_running_loop()
    bridge = _bridges.get(loop)
    if bridge is None:
        bridge = _bridges[loop] = Bridge(server, get_channel_layer())
    return bridge
