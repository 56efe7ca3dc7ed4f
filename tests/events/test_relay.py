"""The relay's sinks, in this process, against real Redis servers (one of the test's own, or a dead port).

Coalescing, two relays at once, a failing sink keeping its cursor, and webhooks going on while the
Redis sink fails. Transactional: the event horizon only moves once the writers' transactions end.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from types import SimpleNamespace

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from django.test import override_settings

from inventory import broadcast, feed, relay, services, stock_cache
from inventory.models import Event, InventoryItem, WebhookDelivery, WebhookEndpoint
from inventory.selectors import ledger_drift
from tests.events.support import (
    LayerListener,
    StockUpdatesListener,
    cache_mismatches,
    cursor,
    newest_event_id,
    own_connection,
    redis_settings,
)
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from tests.processes import OwnRedis, free_port, own_redis, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[OwnRedis]:
    with own_redis() as server:
        yield server


@pytest.fixture
def on_own_redis(redis_server: OwnRedis) -> Iterator[OwnRedis]:
    """The cache and channel layer of this process on the test's own Redis (emptied first)."""
    redis.Redis.from_url(redis_server.url()).flushall()
    with override_settings(**redis_settings(redis_server.url())):
        yield redis_server


def _items(count: int, *, quantity: int = 100, warehouse=None) -> list[InventoryItem]:
    warehouse = warehouse or WarehouseFactory()
    prefix = f"RELAY-{uuid.uuid4().hex[:8]}"
    return [
        stocked_item(quantity, product=ProductFactory(sku=f"{prefix}-{n}"), warehouse=warehouse) for n in range(count)
    ]


def _add(item: InventoryItem, change: int = 1) -> InventoryItem:
    return services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)


def _wait_final(event_id: int) -> None:
    """Until the event is below the horizon: an open transaction anywhere in the cluster holds it back."""
    wait_until(lambda: feed.horizon() > event_id, timeout=90, message=f"event {event_id} to become final")


def _handled_step(sink: relay.Sink) -> int:
    """The first step that handles anything (a step may find nothing final yet: see the open-transaction test)."""
    return wait_until(sink.step, timeout=90, interval=0.01, message=f"the {sink.name} sink to handle a batch")


def _drain(sink: relay.Sink) -> int:
    """Step until the sink's cursor reaches the newest event; returns how many events were handled."""
    target = newest_event_id()
    _wait_final(target)
    total = 0
    deadline = time.monotonic() + 90
    while cursor(sink.name) < target:
        assert time.monotonic() < deadline, f"the {sink.name} sink did not reach event {target}"
        total += sink.step()
    while handled := sink.step():
        total += handled
    return total


def _script_runs(server: OwnRedis) -> int:
    """How many times the stock cache's compare-and-set script ran (``evalsha``; channels-redis uses ``eval``)."""
    stats = redis.Redis.from_url(server.url()).info("commandstats").get("cmdstat_evalsha", {})
    # A first call on a fresh server is refused (NOSCRIPT), then the script is loaded and called again.
    return stats.get("calls", 0) - stats.get("failed_calls", 0)


def test_a_batch_coalesces_to_one_cache_write_and_one_message_per_item(on_own_redis):
    first, second = _items(2)
    sink = relay.RedisSink()
    start = cursor()
    # Five committed changes to each item, interleaved: ten events waiting for one batch.
    for _ in range(5):
        _add(first)
        _add(second, -1)
    events = list(Event.objects.filter(id__gt=start, type="inventory.updated").order_by("id"))
    assert len(events) == 10
    newest = {item.pk: max((e for e in events if e.item_id == item.pk), key=lambda e: e.id) for item in (first, second)}
    for item in (first, second):
        item.refresh_from_db()
        assert newest[item.pk].data["version"] == item.version

    _wait_final(events[-1].id)  # so that one step takes all ten
    groups = [broadcast.warehouse_group(first.warehouse_id)]
    redis.Redis.from_url(on_own_redis.url()).config_resetstat()
    with (
        LayerListener(groups) as listener,
        StockUpdatesListener(on_own_redis.url(), first.product.sku.rsplit("-", 1)[0]) as published,
    ):
        assert _handled_step(sink) == 10  # one batch
        wait_until(lambda: len(listener.updates()) >= 2 and len(published.heard) >= 2, message="the messages")
        time.sleep(0.5)  # anything more would arrive by now
    sink.close()

    # One compare-and-set script call for the whole batch (both products, items and versions in it).
    assert _script_runs(on_own_redis) == 1, redis.Redis.from_url(on_own_redis.url()).info("commandstats")
    assert cache_mismatches([first.product_id, second.product_id]) == []
    # One layer message per item, with its newest state and the id of the event that carried it.
    heard = sorted(listener.updates(), key=lambda h: h.message["message"]["data"]["id"])
    assert [(h.message["event_id"], h.message["message"]["data"]["version"]) for h in heard] == [
        (newest[item.pk].id, item.version) for item in sorted((first, second), key=lambda i: i.pk)
    ]
    assert [h.message["message"]["data"] for h in heard] == [
        newest[item.pk].data for item in sorted((first, second), key=lambda i: i.pk)
    ]
    # stock_updates: likewise one message per item.
    assert sorted((h.message["data"]["id"], h.message["data"]["version"]) for h in published.heard) == sorted(
        (item.pk, item.version) for item in (first, second)
    )
    assert cursor() >= events[-1].id
    assert ledger_drift() == []


def test_an_open_transaction_newer_than_the_events_does_not_hold_them_back(on_own_redis):
    """Another session is in the middle of a write (it has a transaction id, newer than the events):
    the events before it are final, and the relay, which takes a transaction id of its own for the
    cursor lock, must see them."""
    (item,) = _items(1)
    sink = relay.RedisSink()
    for _ in range(3):
        _add(item)
    target = newest_event_id()
    _wait_final(target)
    with own_connection() as other:
        other.execute("SELECT pg_current_xact_id()")  # a transaction with an id, left open
        handled = sink.step()
        other.rollback()
    sink.close()
    assert handled == 3
    assert cursor() == target
    assert cache_mismatches([item.product_id]) == []


@pytest.mark.parametrize("backend", ["redis", "local memory"])
def test_the_cache_never_goes_back_to_an_older_state(redis_server, backend):
    """A state read before a later commit may arrive after it (a relay resending a batch, the in-process
    relay racing a request's own refresh, a hung Redis running buffered writes): it must not win."""
    item = stocked_item(10)
    _add(item, 5)
    (row,) = stock_cache.item_rows(InventoryItem.objects.filter(pk=item.pk))
    older = SimpleNamespace(**{**vars(row), "version": row.version - 1, "available_quantity": 10})
    redis.Redis.from_url(redis_server.url()).flushall()
    local = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "never-back"}}
    with override_settings(**(redis_settings(redis_server.url()) if backend == "redis" else {"CACHES": local})):
        cache.clear()
        stock_cache.cache_product_items([row], raise_errors=True)
        stock_cache.cache_product_items([older], raise_errors=True)  # arrives late
        assert cache_mismatches([item.product_id]) == []
        cache.clear()


def test_two_relays_at_once_never_send_one_event_twice(on_own_redis):
    warehouse = WarehouseFactory()
    items = _items(120, warehouse=warehouse)
    relay.RedisSink().close()  # the shared cursor starts here, before the changes
    start = cursor()
    stop = threading.Event()
    batches: Counter[str] = Counter()
    errors: list[BaseException] = []

    def relay_loop(name: str) -> None:
        sink = relay.RedisSink(batch_size=5)
        try:
            while not stop.is_set():
                handled = sink.step()
                if handled:
                    batches[name] += 1
                else:
                    time.sleep(0.001)
        except BaseException as exc:
            errors.append(exc)
        finally:
            sink.close()
            connection.close()

    def writer() -> None:
        try:
            for item in items:  # one transaction, and so one inventory.updated, per distinct item
                _add(item)
        finally:
            connection.close()

    with LayerListener([broadcast.warehouse_group(warehouse.pk)]) as listener:
        relays = [threading.Thread(target=relay_loop, args=(name,)) for name in ("a", "b")]
        for thread in relays:
            thread.start()
        write = threading.Thread(target=writer)
        write.start()
        write.join(120)
        expected = list(
            Event.objects.filter(id__gt=start, type="inventory.updated").order_by("id").values_list("id", flat=True)
        )
        assert len(expected) == len(items)
        wait_until(lambda: cursor() >= expected[-1], timeout=90, message="the relays to reach the newest event")
        wait_until(lambda: len(listener.updates()) >= len(items), timeout=90, message="every message")
        time.sleep(0.5)  # a duplicate would arrive by now
        stop.set()
        for thread in relays:
            thread.join(60)

    assert errors == []
    heard = Counter(h.message["event_id"] for h in listener.updates())
    assert sorted(heard) == expected
    assert {event_id: n for event_id, n in heard.items() if n != 1} == {}
    assert batches["a"] > 0 and batches["b"] > 0, batches  # both relays really took part
    assert ledger_drift() == []


def test_a_failing_redis_sink_keeps_its_cursor_and_sends_the_same_events_later(on_own_redis):
    (item,) = _items(1)
    relay.RedisSink().close()
    start = cursor()
    for _ in range(3):
        _add(item)

    dead = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(**redis_settings(dead)):
        sink = relay.RedisSink()
        failures: list[Exception] = []
        deadline = time.monotonic() + 90
        while len(failures) < 3:
            assert time.monotonic() < deadline, "the sink never reached Redis"
            try:
                sink.step()  # 0 while nothing is final yet; then it must fail at Redis, every time
            except Exception as exc:
                failures.append(exc)
            assert cursor() == start
        sink.close()
    assert all(isinstance(exc, (redis.RedisError, OSError)) for exc in failures), failures

    # On the working Redis, the same events go out and the cursor moves past them.
    sink = relay.RedisSink()
    with LayerListener([broadcast.warehouse_group(item.warehouse_id)]) as listener:
        assert _drain(sink) == 3
        wait_until(lambda: listener.updates(), message="the update")
    sink.close()
    item.refresh_from_db()
    assert cursor() == newest_event_id()
    assert [h.message["message"]["data"]["version"] for h in listener.updates()] == [item.version]
    assert cache_mismatches([item.product_id]) == []
    assert ledger_drift() == []


def test_the_webhooks_sink_schedules_deliveries_while_the_redis_sink_fails(on_own_redis):
    items = _items(3)
    endpoint = WebhookEndpoint.objects.create(url="http://127.0.0.1:9/hook", events=["*"], secret="s" * 32)
    dead = f"redis://127.0.0.1:{free_port()}/0"
    stop = threading.Event()
    with override_settings(**redis_settings(dead)):
        sinks = [relay.RedisSink(), relay.WebhookSink()]
        redis_start, webhook_start = cursor(relay.REDIS_SINK), cursor(relay.WEBHOOK_SINK)
        worker = threading.Thread(target=relay.run, args=(sinks, stop), kwargs={"poll_seconds": 0.05})
        worker.start()
        try:
            for item in items * 4:
                _add(item)
            expected = set(Event.objects.filter(id__gt=webhook_start).values_list("id", flat=True))
            assert len(expected) == 12

            def scheduled() -> set[int]:
                return set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_id", flat=True))

            wait_until(lambda: scheduled() == expected, timeout=60, message="a delivery for every event")
            assert cursor(relay.WEBHOOK_SINK) >= max(expected)
            # Meanwhile the Redis sink kept failing and kept its place.
            assert cursor(relay.REDIS_SINK) == redis_start
        finally:
            stop.set()
            worker.join(60)
            for sink in sinks:
                sink.close()
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 12

    # With Redis back, the Redis sink catches up with every event it missed.
    sink = relay.RedisSink()
    assert _drain(sink) == 12
    sink.close()
    assert cursor(relay.REDIS_SINK) == newest_event_id()
    assert cache_mismatches([item.product_id for item in items]) == []
    assert ledger_drift() == []
