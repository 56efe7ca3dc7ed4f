"""The relay: reads the event log in order and does what follows a change.

Sinks, each with its own cursor so one failing never holds up another:

- ``redis``: refresh the stock cache (version compare-and-set, never backwards), send
  ``inventory:update`` / ``low-stock:alert`` to the Channels groups, publish ``stock_updates``;
- ``webhooks``: schedule one delivery per subscribed endpoint (sent by ``inventory.webhooks``).

A sink handles a batch while holding its cursor row (``SELECT ... FOR UPDATE SKIP LOCKED``), and moves
the cursor in the same transaction, so several relays can run: each batch is handled by one of them,
none is skipped. If a sink fails (Redis down) its transaction rolls back, the relay backs off and tries
the same batch again: delivery is at least once, and consumers discard stale copies by ``version``.

On the embedded default (no Redis) the cache and channel layer live in the web process, so the relay
runs there (``inventory_site.asgi``) with an in-memory cursor; webhooks still use the shared one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial

from django.conf import settings
from django.db import close_old_connections, connection, transaction

from inventory import broadcast, feed, stock_cache
from inventory.event_models import Event, EventType, RelayCursor

logger = logging.getLogger(__name__)

REDIS_SINK = "redis"
WEBHOOK_SINK = "webhooks"
BATCH_SIZE = 500
_MAX_BACKOFF = 2.0  # a failing sink (Redis down) tries again at least this often: it catches up soon after
_HELD_BACK_FIRST_WAIT = 0.01  # seconds; doubling to _HELD_BACK_MAX_WAIT while events stay held back
_HELD_BACK_MAX_WAIT = 0.25


# --- what the redis sink does with a batch --------------------------------------------------------


class VersionMemory:
    """The newest item version this relay has sent, per item: a copy older than that is not sent again."""

    def __init__(self, size: int = 100_000) -> None:
        self._versions: OrderedDict[int, int] = OrderedDict()
        self._size = size

    def stale(self, item_id: int, version: int) -> bool:
        known = self._versions.get(item_id)
        return known is not None and version <= known

    def remember(self, updates: dict[int, Event]) -> None:
        """Call once the batch went out (a failed batch is sent again, so it must not count as sent)."""
        for item_id, event in updates.items():
            self._versions[item_id] = max(event.data.get("version", 0), self._versions.get(item_id, -1))
            self._versions.move_to_end(item_id)
        while len(self._versions) > self._size:
            self._versions.popitem(last=False)


@dataclass
class Outgoing:
    """A batch folded for sending: the latest event per item, the alerts, the products to re-cache."""

    updates: dict[int, Event] = field(default_factory=dict)  # item id -> newest inventory.updated
    alerts: list[Event] = field(default_factory=list)
    product_ids: set[int] = field(default_factory=set)


def fold(events: Sequence[Event]) -> Outgoing:
    """One cache write and one broadcast per item, whatever the number of its events in the batch."""
    out = Outgoing()
    for event in events:
        if event.type == EventType.INVENTORY_UPDATED and event.item_id is not None:
            current = out.updates.get(event.item_id)
            if current is None or event.data.get("version", 0) >= current.data.get("version", 0):
                out.updates[event.item_id] = event
            out.product_ids.add(event.product_id)
        elif event.type == EventType.LOW_STOCK_RAISED:
            out.alerts.append(event)
    return out


def layer_sends(out: Outgoing, memory: VersionMemory, ts: str) -> list[broadcast.Send]:
    sends: list[broadcast.Send] = []
    for item_id, event in sorted(out.updates.items()):
        if memory.stale(item_id, event.data.get("version", 0)):
            continue  # this relay already sent a newer state of the item
        message = broadcast.update_message(event.data, event.id, ts)
        sends.append(
            (
                broadcast.item_groups(event.product_id, event.warehouse_id),
                lambda m=message: broadcast.layer_event(broadcast.UPDATE_EVENT, m),
            )
        )
    for event in out.alerts:
        message = broadcast.alert_message(event.data, event.id, ts)
        sends.append(
            (
                broadcast.alert_groups(event.warehouse_id),
                lambda m=message: broadcast.layer_event(broadcast.ALERT_EVENT, m),
            )
        )
    return sends


# --- sinks -----------------------------------------------------------------------------------------


class Sink:
    """Handles batches of events after a cursor; ``step`` returns how many it handled (0: none waiting)."""

    name = ""
    # Set by ``step``: committed events wait past the horizon (an older transaction is still open). They
    # become final when it ends, which sends no NOTIFY if it wrote no event: the loop looks again soon.
    held_back = False

    def step(self) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the sink holds (an event loop)."""


class SharedCursorSink(Sink):
    """A sink whose cursor is a database row, so relays in several processes share the work."""

    def __init__(self, name: str, deliver: Callable[[list[Event]], None], *, batch_size: int = BATCH_SIZE) -> None:
        self.name = name
        self._deliver = deliver
        self._batch_size = batch_size
        RelayCursor.objects.get_or_create(name=name, defaults={"position": feed.latest_final_id()})

    def step(self) -> int:
        self.held_back = False
        with transaction.atomic():
            cursor = RelayCursor.objects.select_for_update(skip_locked=True).filter(name=self.name).first()
            if cursor is None:
                return 0  # another relay holds this sink's cursor right now
            page = feed.read_events(after=cursor.position, limit=self._batch_size)
            if page.events:
                self._deliver(page.events)
            if page.next_after != cursor.position:
                RelayCursor.objects.filter(name=self.name).update(position=page.next_after)
            if len(page.events) < self._batch_size:
                self.held_back = Event.objects.filter(id__gt=page.next_after).exists()
            return len(page.events)


class RedisSink(SharedCursorSink):
    """Cache, channel layer and ``stock_updates`` through Redis (the relay process of ``make serve``)."""

    def __init__(self, *, batch_size: int = BATCH_SIZE) -> None:
        from channels.layers import channel_layers

        self._memory = VersionMemory()
        self.lag = LagRecorder()
        # One event loop for the relay's life: channels-redis keeps its connections per loop. The layer is
        # the sink's own instance (same settings), so the sink can drop its connections after a failure
        # without touching anyone else's.
        self._loop = asyncio.new_event_loop()
        self._layer = channel_layers.make_backend("default") if "default" in channel_layers.configs else None
        super().__init__(REDIS_SINK, self._send, batch_size=batch_size)

    def step(self) -> int:
        try:
            return super().step()
        except Exception:
            self._drop_connections()
            raise

    def _drop_connections(self) -> None:
        """After a failure, start the next attempt on new connections.

        A Redis that restarted leaves every pooled connection dead; each would fail once more when next
        used, costing the sink another backoff after Redis is back. Only idle cache connections are
        dropped (a connection in use belongs to another thread of this process).
        """
        with contextlib.suppress(Exception):
            from django_redis import get_redis_connection

            get_redis_connection("default").connection_pool.disconnect(inuse_connections=False)
        if self._layer is not None and hasattr(self._layer, "close_pools"):
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.wait_for(self._layer.close_pools(), 1.0))

    def _send(self, events: list[Event]) -> None:
        out = fold(events)
        ts = broadcast.timestamp()
        # Live listeners first: the cache already holds what the writer committed (read-your-writes),
        # so its refresh from the database below is not what anyone waits for.
        if self._layer is not None:
            sends = layer_sends(out, self._memory, ts)
            if sends:
                self._loop.run_until_complete(broadcast.send_to_groups(self._layer, sends))
        broadcast.publish_stock_updates([event.data for event in out.updates.values()], ts)
        # The products' newest state from the database; the compare-and-set keeps it from going back.
        stock_cache.refresh_products(out.product_ids, raise_errors=True)
        self._memory.remember(out.updates)
        self.lag.record(events)

    def close(self) -> None:
        if self._layer is not None and hasattr(self._layer, "close_pools"):
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.wait_for(self._layer.close_pools(), 1.0))
        self._loop.close()


class WebhookSink(SharedCursorSink):
    def __init__(self, *, batch_size: int = BATCH_SIZE) -> None:
        from inventory import webhooks

        super().__init__(WEBHOOK_SINK, webhooks.schedule_deliveries, batch_size=batch_size)


class LagRecorder:
    """Commit-to-delivered lag of the events a sink handled (for logs, ``/metrics`` and ``make bench``)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._last_log = time.monotonic()

    def record(self, events: Sequence[Event]) -> None:
        from inventory.metrics import RELAY_LAG

        now = time.time()
        for event in events:
            lag = max(0.0, now - event.created_at.timestamp())
            self.samples.append(lag)
            RELAY_LAG.observe(lag)
        if time.monotonic() - self._last_log > 10 and self.samples:
            ordered = sorted(self.samples)
            p50, p99 = ordered[len(ordered) // 2], ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            logger.info("relay: %d events, lag p50 %.1f ms, p99 %.1f ms", len(ordered), p50 * 1e3, p99 * 1e3)
            self.samples.clear()
            self._last_log = time.monotonic()


# --- the loop --------------------------------------------------------------------------------------


class Waker:
    """Waits for new events: PostgreSQL NOTIFY when it can, else (SQLite, or a lost listener) a short poll."""

    def __init__(self, poll_seconds: float) -> None:
        self._poll = poll_seconds
        self._listener = None

    def _listen(self):
        if self._listener is None and connection.vendor == "postgresql":
            import psycopg

            from inventory.events import NOTIFY_CHANNEL

            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            params.pop("context", None)
            self._listener = psycopg.connect(**params, autocommit=True)
            self._listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return self._listener

    def wait(self, stop: threading.Event, timeout: float = 1.0) -> None:
        """Until a NOTIFY arrives (a commit that wrote events), ``stop`` is set, or ``timeout`` passes."""
        try:
            listener = self._listen()
        except Exception as exc:
            logger.warning("relay: cannot LISTEN for events (%s); polling", exc)
            listener = None
        if listener is None:
            stop.wait(min(timeout, self._poll))
            return
        try:
            # Wakes on the first NOTIFY (sent at commit), or after ``timeout`` to re-check the horizon: an
            # event held back by an older transaction that was still open becomes final without a NOTIFY.
            for _ in listener.notifies(timeout=timeout, stop_after=1):
                pass
        except Exception as exc:
            logger.warning("relay: lost the LISTEN connection (%s); reconnecting", exc)
            self.close()
            stop.wait(self._poll)

    def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None


def run(sinks: Sequence[Sink], stop: threading.Event, *, poll_seconds: float = 0.1) -> None:
    """Hand batches to the sinks until ``stop`` is set; a failing sink backs off (0.1 s doubling to 2 s)."""
    waker = Waker(poll_seconds)
    failures = dict.fromkeys((s.name for s in sinks), 0)
    retry_at = dict.fromkeys((s.name for s in sinks), 0.0)
    held_back_wait = _HELD_BACK_FIRST_WAIT
    try:
        while not stop.is_set():
            busy = False
            for sink in sinks:
                if time.monotonic() < retry_at[sink.name]:
                    continue
                try:
                    handled = sink.step()
                except Exception as exc:
                    failures[sink.name] += 1
                    delay = min(_MAX_BACKOFF, 0.1 * 2 ** (failures[sink.name] - 1))
                    retry_at[sink.name] = time.monotonic() + delay
                    logger.warning("relay: %s sink failed (%s); retrying in %.1f s", sink.name, exc, delay)
                    close_old_connections()
                    continue
                if failures[sink.name]:
                    logger.info("relay: %s sink recovered", sink.name)
                failures[sink.name] = 0
                busy = busy or handled > 0
            if busy:
                held_back_wait = _HELD_BACK_FIRST_WAIT
                continue
            if any(sink.held_back and not failures[sink.name] for sink in sinks):
                # Events wait for an older transaction to end: look again when something commits, or soon
                # (the older transaction may have written no events, so no NOTIFY), then less often.
                waker.wait(stop, timeout=held_back_wait)
                held_back_wait = min(_HELD_BACK_MAX_WAIT, held_back_wait * 2)
                continue
            held_back_wait = _HELD_BACK_FIRST_WAIT
            pending_retry = [t for t in retry_at.values() if t > time.monotonic()]
            if pending_retry and min(pending_retry) - time.monotonic() < poll_seconds:
                stop.wait(max(0.0, min(pending_retry) - time.monotonic()))
            else:
                waker.wait(stop)
    finally:
        waker.close()
        connection.close()


def default_sinks(*, batch_size: int = BATCH_SIZE) -> list[Sink]:
    """The sinks of a relay process: Redis when configured, and webhooks."""
    sinks: list[Sink] = []
    if settings.REDIS_URL:
        sinks.append(RedisSink(batch_size=batch_size))
    sinks.append(WebhookSink(batch_size=batch_size))
    return sinks


# --- the embedded default: a relay inside the web process ---------------------------------------------


async def run_in_process(stop: asyncio.Event, *, poll_seconds: float = 0.1, after: int | None = None) -> None:
    """The relay of a web process that has its own cache and channel layer (no Redis).

    Its cursor lives in memory and starts at the newest event (the process's cache starts empty,
    so nothing older needs refreshing), or at ``after``. The channel-layer sends run on the server's event loop,
    where the in-memory layer's consumers wait. Webhooks go through the shared cursor as elsewhere.

    Its database work runs in a thread of its own with its own connection: on asgiref's one shared
    thread it would queue the WebSocket consumers' database calls behind it. It polls with a plain
    read of the newest id, and opens a transaction only when there is something new: on SQLite every
    transaction takes the write lock (IMMEDIATE), and ten polls a second would each wait for a writer.
    """
    from channels.layers import get_channel_layer

    from inventory import webhooks

    loop = asyncio.get_running_loop()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="in-process-relay")

    async def in_thread(function, *args, **kwargs):
        return await loop.run_in_executor(executor, partial(function, *args, **kwargs))

    sender_stop = threading.Event()
    sender = threading.Thread(target=webhooks.run_sender, args=(sender_stop,), name="webhook-sender", daemon=True)
    memory = VersionMemory()
    layer = get_channel_layer()
    failures = 0
    position = after
    webhook_sink: WebhookSink | None = None
    webhooks_seen = 0  # the newest id when the webhook sink last found nothing more to do
    try:
        sender.start()
        while not stop.is_set():
            try:
                # Set up inside the retry loop: a database that is not reachable yet must not end the relay.
                if position is None:
                    position = await in_thread(feed.latest_final_id)
                if webhook_sink is None:
                    webhook_sink = await in_thread(WebhookSink)
                handled = 0
                newest = await in_thread(_newest_event_id)
                if newest > position:
                    page = await in_thread(feed.read_events, after=position, limit=BATCH_SIZE)
                    if page.events:
                        out = fold(page.events)
                        sends = layer_sends(out, memory, broadcast.timestamp())
                        if layer is not None and sends:  # live listeners first, as RedisSink._send
                            await broadcast.send_to_groups(layer, sends)
                        await in_thread(stock_cache.refresh_products, out.product_ids, raise_errors=True)
                        memory.remember(out.updates)
                    position = page.next_after
                    handled += len(page.events)
                if newest > webhooks_seen:
                    scheduled = await in_thread(webhook_sink.step)
                    if not scheduled and not webhook_sink.held_back:
                        webhooks_seen = newest
                    handled += scheduled
                failures = 0
            except Exception as exc:
                failures += 1
                delay = min(_MAX_BACKOFF, 0.1 * 2 ** (failures - 1))
                logger.warning("in-process relay failed (%s); retrying in %.1f s", exc, delay)
                with contextlib.suppress(Exception):
                    await in_thread(close_old_connections)
                await _sleep(stop, delay)
                continue
            if not handled:
                await _sleep(stop, poll_seconds)
    finally:
        sender_stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(in_thread(connection.close), 2)
        executor.shutdown(wait=False)


def _newest_event_id() -> int:
    """The largest visible event id (0: none), read outside any transaction."""
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
