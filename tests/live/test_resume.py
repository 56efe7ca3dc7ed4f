"""WebSocket resume: ``subscribe`` with ``since`` replays the stored events after it, then live ones,
with no gap and no duplicate (real ASGI app, channels-redis, the relay in a thread, PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import connection, transaction
from django.utils import timezone

from inventory import events, feed, relay, services
from inventory.consumers import MAX_REPLAY
from inventory.models import Event, InventoryItem, LowStockAlert, Product
from tests.factories import CategoryFactory, ProductFactory, WarehouseFactory, stocked_item
from tests.live.support import WAIT, connected, request, resume, run, settled, subscribe, token_for

pytestmark = pytest.mark.django_db(transaction=True)

UPDATED = "inventory.updated"
RAISED = "low_stock.raised"


def stored(after: int, *, type: str = UPDATED, **filters) -> list[Event]:
    return list(Event.objects.filter(id__gt=after, type=type, **filters).order_by("id"))


@database_sync_to_async
def adjust(item: InventoryItem, change: int) -> int:
    """Change an item (committed); returns its event's id."""
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)
    return Event.objects.filter(type=UPDATED, item_id=item.pk).order_by("-id").values_list("id", flat=True)[0]


async def live(ws) -> dict:
    message = await ws.receive_json_from(timeout=WAIT)
    assert message["type"] in ("inventory:update", "low-stock:alert"), message
    assert isinstance(message["event_id"], int) and "replay" not in message, message
    return message


def replayed_as(event: Event) -> dict:
    """What a replay of a stored event looks like."""
    kind = "low-stock:alert" if event.type == RAISED else "inventory:update"
    ts = event.created_at.isoformat().replace("+00:00", "Z")
    return {"type": kind, "data": event.data, "event_id": event.id, "ts": ts, "replay": True}


# --- replay, then live -------------------------------------------------------------------------------


def test_since_replays_the_events_after_it_oldest_first_then_live_ones(storefront_user, relay_running):
    token = token_for(storefront_user)
    here, there = WarehouseFactory(), WarehouseFactory()
    a = stocked_item(20, warehouse=here)
    b = stocked_item(20, warehouse=here)
    elsewhere = stocked_item(20, warehouse=there)
    start = settled()
    services.adjust_stock(product_id=a.product_id, warehouse_id=here.pk, quantity_change=-1)  # before since
    since = settled()
    services.adjust_stock(product_id=elsewhere.product_id, warehouse_id=there.pk, quantity_change=-1)
    services.adjust_stock(product_id=b.product_id, warehouse_id=here.pk, quantity_change=-2)
    services.adjust_stock(product_id=a.product_id, warehouse_id=here.pk, quantity_change=-3)
    newest = settled()
    expected = stored(since, warehouse_id=here.pk)
    assert [(e.item_id, e.data["available_quantity"]) for e in expected] == [(b.pk, 18), (a.pk, 16)]
    assert len(stored(start, warehouse_id=here.pk)) == 3

    async def scenario():
        ws = await connected(token=token)
        replayed, answer = await resume(ws, "warehouse", since, warehouse_id=here.pk)
        assert replayed == [replayed_as(e) for e in expected]
        assert answer == {
            "type": "subscribed",
            "channel": f"inventory.warehouse.{here.pk}",
            "warehouse_id": here.pk,
            "since": since,
            "last_event_id": newest,
            "replayed": 2,
        }
        # Then live, after the replay: the next change, once (the relay sends it after the replay read).
        event_id = await adjust(b, 5)
        message = await live(ws)
        assert message["event_id"] == event_id > newest
        assert (message["data"]["id"], message["data"]["available_quantity"]) == (b.pk, 23)
        assert await ws.receive_nothing(timeout=0.3)
        await ws.disconnect()

    run(scenario)


def test_since_follows_the_subscription_product_or_item(storefront_user):
    token = token_for(storefront_user)
    here, there = WarehouseFactory(), WarehouseFactory()
    product = ProductFactory()
    item_here = stocked_item(10, product=product, warehouse=here)
    item_there = stocked_item(10, product=product, warehouse=there)
    other = stocked_item(10, warehouse=here)
    since = settled()
    for item, change in ((item_there, -1), (other, -1), (item_here, -2), (item_there, -3)):
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)
    settled()

    async def scenario():
        ws = await connected(token=token)
        by_product, _ = await resume(ws, "inventory", since, product_id=product.pk)
        assert [(m["data"]["id"], m["data"]["available_quantity"]) for m in by_product] == [
            (item_there.pk, 9),
            (item_here.pk, 8),
            (item_there.pk, 6),
        ]
        ws2 = await connected(token=token)
        by_item, answer = await resume(ws2, "inventory", since, product_id=product.pk, warehouse_id=here.pk)
        assert [(m["data"]["id"], m["data"]["available_quantity"]) for m in by_item] == [(item_here.pk, 8)]
        assert answer["channel"] == f"inventory.product.{product.pk}.warehouse.{here.pk}"
        # Up to date already: nothing to replay, the answer says where the feed stands.
        _, again = await resume(ws2, "warehouse", answer["last_event_id"], warehouse_id=there.pk)
        assert (again["replayed"], again["last_event_id"]) == (0, answer["last_event_id"])
        for socket in (ws, ws2):
            await socket.disconnect()

    run(scenario)


def test_since_for_low_stock_replays_the_alerts_raised_after_it(storefront_user, relay_running):
    token = token_for(storefront_user)
    here, there = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(20, warehouse=here, reorder_point=10)
    elsewhere = stocked_item(20, warehouse=there, reorder_point=10)
    later = stocked_item(20, warehouse=here, reorder_point=10)
    since = settled()
    changes = [(item, -12), (elsewhere, -15), (item, 10), (item, -10)]  # raise, raise there, resolve, raise again
    for changed, change in changes:
        services.adjust_stock(product_id=changed.product_id, warehouse_id=changed.warehouse_id, quantity_change=change)
    newest = settled()
    alerts = list(LowStockAlert.objects.filter(item=item).order_by("pk").values_list("pk", flat=True))
    assert len(alerts) == 2
    expected = [replayed_as(e) for e in stored(since, type=RAISED, warehouse_id=here.pk)]

    async def scenario():
        mine = await connected(token=token)
        replayed, answer = await resume(mine, "low-stock", since, warehouse_id=here.pk)
        assert [(m["type"], m["data"]["alert_id"], m["data"]["current_quantity"]) for m in replayed] == [
            ("low-stock:alert", alerts[0], 8),
            ("low-stock:alert", alerts[1], 8),
        ]
        assert replayed == expected
        assert answer["last_event_id"] == newest
        everywhere = await connected(token=token)
        all_replayed, _ = await resume(everywhere, "low-stock", since)
        assert [m["data"]["warehouse_id"] for m in all_replayed] == [here.pk, there.pk, here.pk]
        assert [m["event_id"] for m in all_replayed] == sorted(m["event_id"] for m in all_replayed)

        # Live after the replay.
        await adjust(later, -15)
        for ws in (mine, everywhere):
            message = await live(ws)
            assert message["type"] == "low-stock:alert" and message["event_id"] > newest
            assert (message["data"]["product_id"], message["data"]["current_quantity"]) == (later.product_id, 5)
            assert await ws.receive_nothing(timeout=0.3)
            await ws.disconnect()

    run(scenario)


# --- no gap, no duplicate, no going back --------------------------------------------------------------


def test_an_event_committed_after_the_replay_read_comes_live_once(storefront_user, relay_running):
    """A transaction still open while the replay reads holds the horizon back: its events (and those of
    transactions that began after it) are not replayed, and arrive live once it commits."""
    token = token_for(storefront_user)
    here = WarehouseFactory()
    before, held, after = (stocked_item(20, warehouse=here) for _ in range(3))
    since = settled()
    services.adjust_stock(product_id=before.product_id, warehouse_id=here.pk, quantity_change=-1)
    settled()
    started, release = threading.Event(), threading.Event()

    def open_transaction() -> None:
        try:
            with transaction.atomic():
                services.adjust_stock(product_id=held.product_id, warehouse_id=here.pk, quantity_change=-2)
                started.set()
                assert release.wait(WAIT)
        finally:
            connection.close()

    holder = threading.Thread(target=open_transaction)
    holder.start()
    try:
        assert started.wait(WAIT)
        # Commits now, but is not final until the older transaction above ends.
        services.adjust_stock(product_id=after.product_id, warehouse_id=here.pk, quantity_change=-3)

        async def scenario():
            ws = await connected(token=token)
            replayed, answer = await resume(ws, "warehouse", since, warehouse_id=here.pk)
            assert [(m["data"]["id"], m["data"]["available_quantity"]) for m in replayed] == [(before.pk, 19)]
            release.set()
            await database_sync_to_async(holder.join)(WAIT)
            messages = [await live(ws), await live(ws)]
            assert await ws.receive_nothing(timeout=0.5)
            await ws.disconnect()
            return answer, messages

        answer, messages = run(scenario)
    finally:
        release.set()
        holder.join(WAIT)
    ids = {e.item_id: e.id for e in stored(since, warehouse_id=here.pk)}
    assert answer["last_event_id"] < min(ids[held.pk], ids[after.pk])
    assert sorted((m["data"]["id"], m["event_id"], m["data"]["available_quantity"]) for m in messages) == sorted(
        [(held.pk, ids[held.pk], 18), (after.pk, ids[after.pk], 17)]
    )


def test_resuming_while_changes_commit_gets_every_event_once_in_order(storefront_user, relay_thread):
    """A writer commits in a loop while a client subscribes with since: the client gets every event of
    each item after since exactly once, in id order (replayed, then live), ending with the final state."""
    relay_thread(batch_size=1)  # one event per batch: live messages are not coalesced, so all can be counted
    token = token_for(storefront_user)
    here = WarehouseFactory()
    items = [stocked_item(500, warehouse=here) for _ in range(2)]
    since = settled()
    writes = 160
    halfway, subscribed, done = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            for n in range(writes):
                item = items[n % 2]
                services.adjust_stock(product_id=item.product_id, warehouse_id=here.pk, quantity_change=-1)
                if n == writes // 3:
                    settled()  # so the replay has these (another session's transaction may hold the horizon)
                    halfway.set()  # the client subscribes now, while the writes go on
                if n == writes - 21:
                    # The last 20 come after the subscription for sure; those before, whenever they do.
                    assert subscribed.wait(WAIT)
        except BaseException as exc:  # reported by the test
            failures.append(exc)
        finally:
            halfway.set()
            done.set()
            connection.close()

    async def scenario() -> tuple[list[dict], dict]:
        assert await database_sync_to_async(halfway.wait)(WAIT)
        ws = await connected(token=token)
        replayed, answer = await resume(ws, "warehouse", since, warehouse_id=here.pk)
        subscribed.set()
        assert await database_sync_to_async(done.wait)(WAIT * 3)
        assert not failures, failures
        final = await database_sync_to_async(
            lambda: {e.item_id: e.id for e in stored(since, warehouse_id=here.pk)}  # each item's last event
        )()
        received = list(replayed)
        newest = {m["data"]["id"]: m["event_id"] for m in received}
        while any(newest.get(item_id) != event_id for item_id, event_id in final.items()):
            message = await live(ws)
            received.append(message)
            newest[message["data"]["id"]] = message["event_id"]
        assert await ws.receive_nothing(timeout=0.5)
        await ws.disconnect()
        return received, answer

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        received, answer = run(scenario)
    finally:
        subscribed.set()
        thread.join(WAIT * 3)
    assert not failures, failures
    replayed = [m for m in received if m.get("replay")]
    assert len(replayed) > writes // 3 and len(received) - len(replayed) >= 20
    assert all(m["event_id"] <= answer["last_event_id"] for m in replayed)
    assert all(m["event_id"] > answer["last_event_id"] for m in received[len(replayed) :])
    for item in items:
        item.refresh_from_db()
        committed = [(e.id, e.data["available_quantity"]) for e in stored(since, item_id=item.pk)]
        got = [(m["event_id"], m["data"]["available_quantity"]) for m in received if m["data"]["id"] == item.pk]
        assert got == committed  # every event of the item once, in id order: no gap, no duplicate
        assert len(got) == writes // 2 and got[-1][1] == item.available_quantity == 500 - writes // 2


def _commit_out_of_id_order(item: InventoryItem) -> tuple[int, int]:
    """Two changes of one item whose transactions commit in the other order than their ids: the older
    transaction (smaller id) writes the newer state. Returns (older id, newer id)."""
    has_id, second_committed = threading.Event(), threading.Event()

    def older() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_current_xact_id()")  # takes its transaction id first
                has_id.set()
                assert second_committed.wait(WAIT)
                services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-5)
        finally:
            connection.close()

    thread = threading.Thread(target=older)
    thread.start()
    try:
        assert has_id.wait(WAIT)
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
        second_committed.set()
    finally:
        second_committed.set()
        thread.join(WAIT)
    first, second = stored(0, item_id=item.pk)[-2:]
    # Ids follow transactions: the older transaction's event has the smaller id and the newer state.
    assert first.data["version"] > second.data["version"]
    assert (first.data["available_quantity"], second.data["available_quantity"]) == (14, 19)
    return first.id, second.id


def test_a_replay_never_sends_an_older_state_after_a_newer_one(storefront_user):
    token = token_for(storefront_user)
    item = stocked_item(20)
    since = settled()
    newer_state, older_state = _commit_out_of_id_order(item)
    settled()

    async def scenario():
        ws = await connected(token=token)
        replayed, answer = await resume(ws, "inventory", since, product_id=item.product_id)
        assert [(m["event_id"], m["data"]["available_quantity"]) for m in replayed] == [(newer_state, 14)]
        assert answer["last_event_id"] >= older_state
        await ws.disconnect()

    run(scenario)


def test_two_relays_that_remember_only_their_own_sends_cannot_make_a_client_go_back(storefront_user):
    """Two relays share the work batch by batch; each remembers only what it sent, so the second one
    sends the older state of the item: the connection drops it."""
    token = token_for(storefront_user)
    item = stocked_item(20)
    marker = stocked_item(20, warehouse=item.warehouse)
    settled()
    first_relay, second_relay = relay.RedisSink(batch_size=1), relay.RedisSink(batch_size=1)

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "warehouse", warehouse_id=item.warehouse_id)
        newer_state, older_state = await database_sync_to_async(_commit_out_of_id_order)(item)
        await database_sync_to_async(settled)()
        assert await database_sync_to_async(first_relay.step)() == 1  # the newer state (smaller id)
        message = await live(ws)
        assert (message["event_id"], message["data"]["available_quantity"]) == (newer_state, 14)
        assert await database_sync_to_async(second_relay.step)() == 1  # the older state: dropped
        marker_id = await adjust(marker, -1)
        await database_sync_to_async(settled)()
        assert await database_sync_to_async(second_relay.step)() == 1
        message = await live(ws)
        assert (message["event_id"], message["data"]["id"]) == (marker_id, marker.pk)
        assert older_state < marker_id
        await ws.disconnect()

    try:
        run(scenario)
    finally:
        first_relay.close()
        second_relay.close()


# --- when a replay cannot be made ---------------------------------------------------------------------


def test_since_below_the_retention_purge_is_refused_and_nothing_is_subscribed(storefront_user, relay_running):
    token = token_for(storefront_user)
    item = stocked_item(20)
    marker = stocked_item(20)
    first = settled()
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1)
    kept_since = settled()
    # Everything up to here is older than the retention: the purge deletes it and remembers how far it went.
    Event.objects.filter(id__lte=kept_since).update(created_at=timezone.now() - timedelta(days=30))
    assert events.purge_events(older_than_days=7) > 0
    assert feed.purged_through() == kept_since
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-2)
    settled()

    async def scenario():
        ws = await connected(token=token)
        frame = {"type": "subscribe:inventory", "product_id": item.product_id, "since": first}
        answer = await request(ws, frame)
        assert "purged" in answer.pop("detail")
        assert answer == {
            "type": "error",
            "code": "events_expired",
            "channel": f"inventory.product.{item.product_id}",
            "product_id": item.product_id,
            "since": first,
            "purged_through": kept_since,
        }
        # The subscription was not made: a change of the item does not arrive, the marker's does.
        await subscribe(ws, "inventory", product_id=marker.product_id)
        await adjust(item, -1)
        marker_id = await adjust(marker, -1)
        assert (await live(ws))["event_id"] == marker_id
        # From where the purge stopped, the replay works (since=0 means "from the oldest event kept").
        for since in (kept_since, 0):
            replayed, _ = await resume(ws, "inventory", since, product_id=item.product_id)
            assert [m["data"]["available_quantity"] for m in replayed] == [17, 16]
            await request(ws, {"type": "unsubscribe", "product_id": item.product_id})
        await ws.disconnect()

    run(scenario)


def test_more_than_the_replay_limit_is_refused_as_since_too_old(storefront_user):
    token = token_for(storefront_user)
    here = WarehouseFactory()
    category = CategoryFactory()
    products = Product.objects.bulk_create(
        Product(sku=f"BULK-{here.pk}-{n:05d}", name=f"Bulk {n}", category=category) for n in range(1001)
    )
    since = settled()
    # Ten set-based changes of 1,001 items: 10,010 inventory.updated events in the warehouse.
    for _ in range(10):
        services.apply_movements(
            [
                services.Movement(
                    product_id=p.pk, warehouse_id=here.pk, quantity_change=1, transaction_type="adjustment"
                )
                for p in products
            ],
            create_missing=True,
        )
    newest = settled()
    assert len(stored(since, warehouse_id=here.pk)) == 10_010 > MAX_REPLAY

    async def scenario():
        ws = await connected(token=token)
        answer = await request(ws, {"type": "subscribe:warehouse", "warehouse_id": here.pk, "since": since})
        assert (answer["type"], answer["code"], answer["limit"], answer["since"]) == (
            "error",
            "since_too_old",
            MAX_REPLAY,
            since,
        )
        assert answer["channel"] == f"inventory.warehouse.{here.pk}"
        # A since within the limit replays: the last 1,001 changes exactly.
        last_batch = await database_sync_to_async(lambda: stored(since, warehouse_id=here.pk)[-1002].id)()
        replayed, subscribed = await resume(ws, "warehouse", last_batch, warehouse_id=here.pk)
        assert len(replayed) == 1001 and {m["data"]["available_quantity"] for m in replayed} == {10}
        assert subscribed["last_event_id"] == newest
        await ws.disconnect()

    run(scenario)


def test_a_since_after_the_newest_event_is_refused(storefront_user):
    token = token_for(storefront_user)
    stocked_item(5)
    newest = settled()

    async def scenario():
        ws = await connected(token=token)
        answer = await request(ws, {"type": "subscribe:low-stock", "since": newest + 2**30})
        assert (answer["type"], answer["code"], answer["channel"]) == ("error", "invalid_field", "inventory.low_stock")
        assert "after the newest event" in answer["detail"]
        _, subscribed = await resume(ws, "low-stock", newest)
        assert subscribed["last_event_id"] == newest
        await ws.disconnect()

    run(scenario)
