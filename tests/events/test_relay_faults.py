"""Faults, end to end with real processes: a relay killed with ``kill -9`` mid-batch, Redis killed or hung.

Every process is the test's own: the relay and uvicorn run against the test database; a test that
kills Redis runs a redis-server of its own on a free port and signals only that process.
"""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import override_settings
from rest_framework.authtoken.models import Token

from inventory import broadcast, relay, services, stock_cache
from inventory.models import DeliveryStatus, Event, InventoryItem, RelayCursor, WebhookDelivery, WebhookEndpoint
from inventory.roles import WAREHOUSE_GROUP, sync_roles
from inventory.selectors import ledger_drift
from tests.events.support import (
    WAIT,
    Api,
    ClosedBeforeAnswer,
    LayerListener,
    StockUpdatesListener,
    WebSocketClient,
    cache_mismatches,
    cursor,
    cursors_exist,
    newest_event_id,
    own_connection,
    report,
    summary,
)
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item
from tests.processes import own_redis, relay_command, running, service_env, serving_asgi, wait_until
from tests.webhooks.support import Receiver

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "relay-tests"}}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _add(item: InventoryItem, change: int = 1) -> InventoryItem:
    return services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)


def _db_versions(items: list[InventoryItem]) -> dict[int, int]:
    return dict(InventoryItem.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "version"))


# --- 1. the relay killed with kill -9 in the middle of a batch ------------------------------------


def test_a_relay_killed_mid_batch_and_restarted_delivers_every_event(tmp_path, receiver):
    prefix = f"KILL-{uuid.uuid4().hex[:8]}"
    warehouses = [WarehouseFactory(), WarehouseFactory()]
    products = [ProductFactory(sku=f"{prefix}-{n}") for n in range(15)]
    items = [stocked_item(100, product=p, warehouse=w, reorder_point=5) for p in products for w in warehouses]
    endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=["*"], secret="k" * 32)
    env = service_env(CACHE_KEY_PREFIX=settings.KEY_PREFIX, WEBHOOK_ALLOW_PRIVATE_URLS="true")
    # Five events a batch: the catch-up after the pause below is some forty batches, so the kill lands in one.
    relay_args = relay_command("--batch-size", "5")
    groups = [broadcast.warehouse_group(w.pk) for w in warehouses]

    with (
        LayerListener(groups) as listener,
        StockUpdatesListener(settings.REDIS_URL, prefix) as published,
        # This process's own after-commit cache refresh goes to local memory: what Redis holds is the relay's work.
        override_settings(CACHES=LOCAL_CACHE),
    ):
        with running(relay_args, env, tmp_path / "relay-1.log") as first_relay:
            wait_until(cursors_exist, timeout=WAIT, message="the relay to create its cursors")
            webhooks_start = cursor(relay.WEBHOOK_SINK)

            # A: the relay follows live changes (each item changed in a stretch of its own, so a skipped
            # stretch of the log would leave some item's final state unsent).
            for item in items[:10]:
                for _ in range(10):
                    _add(item)
            live_end = newest_event_id()
            wait_until(lambda: cursor() >= live_end, timeout=WAIT, message="the relay to follow the live changes")

            # B: a backlog builds up while the relay is stopped; it resumes and is killed in the middle of a
            # batch: after it sent the batch, before its cursor move committed.
            quantities = {item.pk: 110 if n < 10 else 100 for n, item in enumerate(items)}
            uncommitted = None
            for _ in range(5):
                idle_at = newest_event_id()
                wait_until(
                    lambda: cursor(relay.REDIS_SINK) >= idle_at and cursor(relay.WEBHOOK_SINK) >= idle_at,  # noqa: B023
                    timeout=WAIT,
                    message="the relay to be idle",
                )
                first_relay.send_signal(signal.SIGSTOP)
                for item in items[10:]:
                    for _ in range(5):
                        _add(item)
                        quantities[item.pk] += 1
                paused_at = cursor()
                uncommitted = _kill_in_the_middle_of_a_batch(first_relay, listener)
                if uncommitted is not None:
                    break
            assert uncommitted is not None, "the relay never blocked in its redis sink's batch"
            backlog_end = newest_event_id()
        killed_at = cursor()
        # The batch the relay sent when it was killed never moved the cursor.
        assert killed_at == paused_at < min(uncommitted) <= backlog_end, (paused_at, killed_at, uncommitted)
        heard_before_restart = len(listener.updates())

        # C: changes while no relay runs at all.
        for item in items[:3]:
            _add(item, -2)
            quantities[item.pk] -= 2
        newest = newest_event_id()

        restarted = time.monotonic()
        with running(relay_args, env, tmp_path / "relay-2.log"):
            wait_until(
                lambda: cursor(relay.REDIS_SINK) >= newest and cursor(relay.WEBHOOK_SINK) >= newest,
                timeout=WAIT,
                message="the restarted relay to reach the newest event",
            )
            caught_up = time.monotonic() - restarted
            final = _db_versions(items)
            wait_until(lambda: listener.newest_versions() == final, timeout=WAIT, message="every final version")
            wait_until(lambda: published.newest_versions() == final, timeout=WAIT, message="every stock_updates")

    # The cache holds exactly the database's state of every product, versions included.
    assert cache_mismatches([p.pk for p in products]) == []
    # Every item's final version reached the channel layer and stock_updates; repeats are allowed (at
    # least once), but no older version came after a newer one for an item within one relay's life.
    assert listener.newest_versions() == final and published.newest_versions() == final
    # Webhooks: exactly one delivery per (endpoint, event), for every event after the relay started.
    expected = list(Event.objects.filter(id__gt=webhooks_start).order_by("id").values_list("id", flat=True))
    scheduled = Counter(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("event_id", flat=True))
    assert sorted(scheduled) == expected
    assert set(scheduled.values()) == {1}
    # Exact quantities: every unit added and taken, once.
    assert (
        dict(InventoryItem.objects.filter(pk__in=[i.pk for i in items]).values_list("pk", "available_quantity"))
        == quantities
    )
    assert ledger_drift() == []

    created = dict(Event.objects.values_list("id", "created_at"))
    live_lags = [
        h.at - created[h.message["event_id"]].timestamp()
        for h in listener.updates()[:heard_before_restart]
        if h.message["event_id"] <= live_end
    ]
    repeats = Counter(h.message["event_id"] for h in listener.updates())
    # At least once: what the killed relay sent of its last batch is sent again by the next one.
    assert all(repeats[event_id] >= 2 for event_id in uncommitted), {e: repeats[e] for e in uncommitted}
    report(f"relay lag (commit -> channel layer listener), live changes, one relay: {summary(live_lags)}")
    report(
        f"kill -9: {len(expected)} events; killed in its first batch of a "
        f"{len(Event.objects.filter(id__gt=paused_at, id__lte=backlog_end))}-event backlog, after sending it; "
        f"the restarted relay caught up in {caught_up:.2f} s; {sum(n - 1 for n in repeats.values())} layer "
        f"message(s) repeated after the restart ({len(uncommitted)} sent before the kill, uncommitted)"
    )


def _kill_in_the_middle_of_a_batch(process, listener: LayerListener) -> list[int] | None:
    """Resume the stopped relay and SIGKILL it after it has sent a batch, before its cursor move commits.

    The test holds a SHARE lock on the cursor table: the relay locks its cursor row (FOR UPDATE: compatible),
    reads and sends the batch, then waits for the lock at its UPDATE of the cursor, where it is killed.
    Returns the event ids the listener heard beyond the cursor (sent, never committed), or None when the
    webhooks sink happened to take the first batch (the caller tries again).
    """
    table = RelayCursor._meta.db_table
    with own_connection() as blocker, own_connection(autocommit=True) as watcher:
        blocker.execute(f'LOCK TABLE "{table}" IN SHARE MODE')
        process.send_signal(signal.SIGCONT)

        def blocked_update() -> str | None:
            row = watcher.execute(
                "SELECT query FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [f'UPDATE "{table}"%'],
            ).fetchone()
            return row[0] if row else None

        query = wait_until(blocked_update, timeout=WAIT, interval=0.01, message="the relay's cursor update to wait")
        if f"'{relay.REDIS_SINK}'" not in query:
            blocker.rollback()
            return None
        position = cursor()
        sent = wait_until(
            lambda: sorted({h.message["event_id"] for h in listener.updates() if h.message["event_id"] > position}),
            timeout=WAIT,
            message="the batch's messages",
        )
        process.kill()  # SIGKILL to this relay's own pid
        process.wait(30)
        # The orphaned backend gets the lock, updates, then finds its client gone and rolls back.
        blocker.rollback()
    return sent


# --- 2. Redis killed or hung while the API takes writes -----------------------------------------


def _warehouse_token() -> str:
    sync_roles(django_apps)  # transactional tests flush the groups too
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=WAREHOUSE_GROUP))
    return Token.objects.create(user=user).key


def _expected_stock(product_id: int) -> dict:
    """``GET /inventory/{product_id}`` as the database says it should read."""
    from inventory.models import Product

    sku = Product.objects.get(pk=product_id).sku
    items = stock_cache.item_rows(InventoryItem.objects.filter(product_id=product_id))
    payloads = [stock_cache.item_payload(i, sku) for i in sorted(items, key=lambda i: i.warehouse_id)]
    return stock_cache.summarise({"product_id": product_id, "sku": sku}, payloads)


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_writes_stay_fast_while_redis_is_down_and_everything_converges_after(tmp_path, receiver, fault):
    token = _warehouse_token()
    warehouse = WarehouseFactory()
    item = stocked_item(1000, warehouse=warehouse, reorder_point=5)
    product_id = item.product_id
    endpoint = WebhookEndpoint.objects.create(url=receiver.url, events=["*"], secret="r" * 32)
    adjust = f"/api/v1/inventory/{product_id}/adjust"

    with own_redis() as redis_server:
        env = service_env(
            REDIS_URL=redis_server.url(),
            CACHE_KEY_PREFIX=f"{settings.KEY_PREFIX}-outage",
            WEBHOOK_ALLOW_PRIVATE_URLS="true",
            DB_POOL_SIZE="10",  # the production default: a write that waited on Redis would drain it
        )
        with (
            serving_asgi(env, tmp_path / "server.log") as base_url,
            running(relay_command(), env, tmp_path / "relay.log"),
        ):
            api = Api(base_url, token)
            wait_until(cursors_exist, timeout=WAIT, message="the relay to create its cursors")
            watcher = WebSocketClient(base_url, token)  # subscribed before the outage, connected throughout
            watcher.subscribe("inventory", product_id=product_id)
            warm = api.post(
                adjust, {"warehouse_id": warehouse.pk, "quantity_change": 1, "transaction_type": "purchase"}
            )
            assert warm.status == 200, warm
            wait_until(
                lambda: any(f.message["data"]["version"] == warm.body["version"] for f in watcher.updates()),
                timeout=WAIT,
                message="the live update before the outage",
            )
            assert api.get(f"/api/v1/inventory/{product_id}").body == _expected_stock(product_id)  # now cached
            before = newest_event_id()

            # The outage: every write must succeed, quickly; each one's time is recorded.
            if fault == "killed":
                redis_server.kill()
            else:
                redis_server.pause()
            writes, reservations = [], []
            for n in range(40):
                body = {"warehouse_id": warehouse.pk, "quantity_change": 1, "transaction_type": "purchase"}
                writes.append(api.post(adjust, body))
                if n % 10 == 0:
                    held = api.post("/api/v1/inventory/reserve", {"product_id": product_id, "quantity": 2})
                    writes.append(held)
                    if held.status == 201:
                        reservations.append(held.body["id"])
                        writes.append(api.post(f"/api/v1/inventory/reserve/{held.body['id']}/release"))
            reads = [api.get(f"/api/v1/inventory/{product_id}") for _ in range(5)]
            statuses = Counter(answer.status for answer in writes + reads)
            assert all(200 <= status < 300 for status in statuses), statuses
            # Reads during the outage come from the database: they see the writes.
            assert reads[-1].body == _expected_stock(product_id)

            if fault == "killed":
                redis_server.start()  # the same port, empty
            else:
                redis_server.resume()
            recovered = time.monotonic()

            # The feed has every write's event (as soon as the transactions before them have ended).
            written_versions = {a.body["version"] for a in writes if "version" in a.body}

            def feed_has_every_write() -> list[dict] | None:
                feed = api.events_after(before)
                versions = {e["data"]["version"] for e in feed if e["type"] == "inventory.updated"}
                return feed if written_versions <= versions else None

            feed = wait_until(feed_has_every_write, timeout=WAIT, message="the feed to have every write's event")
            for reservation_id in reservations:
                kinds = {
                    e["type"]
                    for e in feed
                    if e["type"].startswith("reservation.") and e["data"]["id"] == reservation_id
                }
                assert kinds == {"reservation.created", "reservation.released"}

            # The cache converges: API reads equal the database.
            expected = _expected_stock(product_id)
            wait_until(
                lambda: api.get(f"/api/v1/inventory/{product_id}").body == expected,
                timeout=WAIT,
                interval=0.05,
                message="the cached stock to equal the database",
            )
            converged = time.monotonic() - recovered
            final_version = expected["items"][0]["version"]
            wait_until(lambda: cursor(relay.REDIS_SINK) >= newest_event_id(), timeout=WAIT, message="the relay")
            relayed = time.monotonic() - recovered

            # WebSocket: a client that connects after the recovery and resumes with since gets every update
            # it missed, then live ones.
            late, refused = _resume(base_url, token, product_id=product_id, since=before)
            with late:
                replayed = {f.message["data"]["version"] for f in late.updates() if f.message.get("replay")}
                assert written_versions <= replayed
                after = api.post(
                    adjust, {"warehouse_id": warehouse.pk, "quantity_change": 1, "transaction_type": "purchase"}
                )
                assert after.status == 200
                wait_until(
                    lambda: any(f.message["data"]["version"] == after.body["version"] for f in late.updates()),
                    timeout=WAIT,
                    message="a live update after the recovery",
                )
            watcher_seen = [f.message["data"]["version"] for f in watcher.updates()]
            watcher_versions = set(watcher_seen)
            watcher_dropped = not watcher.open
            watcher.close()
            assert watcher_seen == sorted(watcher_versions)  # never backwards, never twice
            if fault == "hung":
                # Nothing was lost in Redis: the client connected throughout got the state the outage ended
                # with (the relay sends the newest state of each item in a batch) and the live one after it.
                assert not watcher_dropped
                assert {final_version, after.body["version"]} <= watcher_versions

            # Webhooks: a delivery for every event since before the outage, and every one delivered.
            events = set(Event.objects.filter(id__gt=before).values_list("id", flat=True))
            wait_until(
                lambda: (
                    set(
                        WebhookDelivery.objects.filter(endpoint=endpoint, status=DeliveryStatus.SUCCEEDED).values_list(
                            "event_id", flat=True
                        )
                    )
                    >= events
                ),
                timeout=WAIT,
                message="every webhook delivery to succeed",
            )
            assert WebhookDelivery.objects.filter(endpoint=endpoint, event_id__in=events).count() == len(events)

    item.refresh_from_db()
    assert (item.available_quantity, item.reserved_quantity) == (1000 + 1 + 40 + 1, 0)
    assert ledger_drift() == []
    write_times, read_times = [a.seconds for a in writes], [a.seconds for a in reads]
    report(f"Redis {fault}: write latency {summary(write_times)}; reads during the outage {summary(read_times)}")
    report(
        f"Redis {fault}: after recovery the API read equalled the database in {converged:.2f} s, "
        f"relay at the newest event in {relayed:.2f} s; the WebSocket client connected throughout "
        f"{'was disconnected' if watcher_dropped else 'stayed connected'} and "
        f"{'got' if final_version in watcher_versions else 'did not get'} the final version; "
        f"a resuming client's subscribe failed {refused} time(s) before it was answered"
    )


def _resume(base_url: str, token: str, *, product_id: int, since: int) -> tuple[WebSocketClient, int]:
    """Connect and subscribe with ``since``, reconnecting as a browser would if the server drops the
    connection first (after a Redis restart its pooled layer connections are dead until used once)."""
    refused = 0
    while True:
        client = WebSocketClient(base_url, token)
        try:
            client.subscribe("inventory", product_id=product_id, since=since)
            return client, refused
        except ClosedBeforeAnswer:
            client.close()
            refused += 1
            assert refused < 10, "the server kept closing the connection"
            time.sleep(0.2)
