"""The live feed over the real ASGI app and channel layer (channels-redis): auth, protocol, filtering,
and that only committed changes are ever sent. The relay runs in a thread (``relay_running``), as
``relay_events`` does: it is the only sender."""

from __future__ import annotations

import contextlib

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from inventory import feed, services, stock_cache
from inventory.alerts import scan_low_stock
from inventory.consumers import MAX_SUBSCRIPTIONS
from inventory.exceptions import InsufficientStock
from inventory.models import Event, InventoryItem, LowStockAlert
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item
from tests.live.support import (
    WAIT,
    communicator,
    connected,
    relayed,
    request,
    run,
    session_cookie,
    stock_updates_subscriber,
    subscribe,
    token_for,
    unique_product,
    wait_for_sku,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("relay_running")]


@database_sync_to_async
def adjust(item: InventoryItem, change: int) -> InventoryItem:
    return services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)


@database_sync_to_async
def payload_of(item: InventoryItem) -> dict:
    item = InventoryItem.objects.select_related("product").get(pk=item.pk)
    return stock_cache.item_payload(item, item.product.sku)


async def next_update(ws) -> dict:
    message = await ws.receive_json_from(timeout=WAIT)
    assert message["type"] == "inventory:update", message
    assert message["ts"].endswith("Z")
    assert isinstance(message["event_id"], int) and "replay" not in message
    return message["data"]


# --- authentication ------------------------------------------------------------------------------


def test_a_valid_token_connects(warehouse_user, storefront_user):
    for user in (warehouse_user, storefront_user):
        token = token_for(user)

        async def scenario(token=token):
            ws = await connected(token=token)
            assert await request(ws, {"type": "ping"}) == {"type": "pong"}
            await ws.disconnect()

        run(scenario)


def test_the_session_cookie_connects(warehouse_user):
    cookie = session_cookie(warehouse_user)

    async def scenario():
        ws = await connected(cookie=cookie)
        assert await request(ws, {"type": "ping"}) == {"type": "pong"}
        await ws.disconnect()

    run(scenario)


def test_bad_missing_or_roleless_credentials_are_refused_at_the_handshake(plain_user, warehouse_user):
    roleless = token_for(plain_user)
    good = token_for(warehouse_user)
    inactive = UserFactory(is_active=False)
    inactive.groups.add(*warehouse_user.groups.all())
    refused = [
        {"token": "not-a-token"},
        {},
        {"token": roleless},
        {"token": token_for(inactive)},
        # A bad token does not fall back to a good session.
        {"token": "not-a-token", "cookie": session_cookie(warehouse_user)},
        # A page on another site cannot use the session cookie.
        {"cookie": session_cookie(warehouse_user), "origin": "http://evil.example"},
    ]

    async def scenario():
        for kwargs in refused:
            ws = communicator(**kwargs)
            ok, _ = await ws.connect(timeout=WAIT)
            assert not ok, kwargs
            await ws.disconnect()
        # A server-side client sends no Origin at all: its token is enough.
        ws = communicator(token=good, origin=None)
        ok, _ = await ws.connect(timeout=WAIT)
        assert ok
        await ws.disconnect()

    run(scenario)


# --- protocol --------------------------------------------------------------------------------------


def test_subscriptions_are_acknowledged_with_their_group(storefront_user):
    token = token_for(storefront_user)
    stocked_item(5)  # an event, so last_event_id is not just 0
    newest = feed.latest_final_id()
    assert newest > 0

    async def scenario():
        ws = await connected(token=token)
        assert await subscribe(ws, "inventory", product_id=12, warehouse_id=3) == {
            "type": "subscribed",
            "channel": "inventory.product.12.warehouse.3",
            "product_id": 12,
            "warehouse_id": 3,
            "last_event_id": newest,  # where the feed stands: resume later with since=last_event_id
        }
        assert await subscribe(ws, "inventory", product_id=12) == {
            "type": "subscribed",
            "channel": "inventory.product.12",
            "product_id": 12,
            "last_event_id": newest,
        }
        assert (await subscribe(ws, "warehouse", warehouse_id=3))["channel"] == "inventory.warehouse.3"
        assert await subscribe(ws, "low-stock") == {
            "type": "subscribed",
            "channel": "inventory.low_stock",
            "last_event_id": newest,
        }
        assert (await subscribe(ws, "low-stock", warehouse_id=3))["channel"] == "inventory.low_stock.3"

        assert await request(ws, {"type": "unsubscribe", "product_id": 12, "warehouse_id": 3}) == {
            "type": "unsubscribed",
            "channel": "inventory.product.12.warehouse.3",
            "product_id": 12,
            "warehouse_id": 3,
        }
        unsubscribed = await request(ws, {"type": "unsubscribe", "warehouse_id": 3})
        assert unsubscribed["channel"] == "inventory.warehouse.3"
        # Only the warehouse's low-stock subscription is left for warehouse 3.
        assert (await request(ws, {"type": "unsubscribe", "warehouse_id": 3}))["channel"] == "inventory.low_stock.3"
        assert (await request(ws, {"type": "unsubscribe"}))["channel"] == "inventory.low_stock"
        assert (await request(ws, {"type": "unsubscribe", "channel": "inventory.product.12"}))["type"] == "unsubscribed"
        await ws.disconnect()

    run(scenario)


def test_bad_frames_get_an_error_and_the_connection_stays_open(storefront_user):
    token = token_for(storefront_user)
    bad = [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_message"),
        ('{"product_id": 1}', "invalid_message"),
        ('{"type": "subscribe:everything"}', "unknown_type"),
        ('{"type": "subscribe:inventory"}', "missing_field"),
        ('{"type": "subscribe:inventory", "product_id": "abc"}', "invalid_field"),
        ('{"type": "subscribe:inventory", "product_id": 1.5}', "invalid_field"),
        ('{"type": "subscribe:inventory", "product_id": true}', "invalid_field"),
        ('{"type": "subscribe:inventory", "product_id": 0}', "invalid_field"),
        ('{"type": "subscribe:inventory", "product_id": 1, "warehouse_id": "x"}', "invalid_field"),
        ('{"type": "subscribe:warehouse"}', "missing_field"),
        ('{"type": "unsubscribe", "subscription": "nope"}', "invalid_field"),
        ('{"type": "subscribe:warehouse", "warehouse_id": 1, "since": -1}', "invalid_field"),
        ('{"type": "subscribe:warehouse", "warehouse_id": 1, "since": "12"}', "invalid_field"),
        ('{"type": "subscribe:warehouse", "warehouse_id": 1, "since": 1.5}', "invalid_field"),
        ('{"type": "subscribe:warehouse", "warehouse_id": 1, "since": false}', "invalid_field"),
    ]

    async def scenario():
        ws = await connected(token=token)
        for frame, code in bad:
            await ws.send_to(text_data=frame)
            answer = await ws.receive_json_from(timeout=WAIT)
            assert answer["type"] == "error" and answer["code"] == code, (frame, answer)
            assert answer["detail"]
        await ws.send_to(bytes_data=b"\x00\x01")
        assert (await ws.receive_json_from(timeout=WAIT))["code"] == "invalid_message"
        assert await request(ws, {"type": "ping"}) == {"type": "pong"}
        await ws.disconnect()

    run(scenario)


def test_the_101st_subscription_is_refused(storefront_user):
    token = token_for(storefront_user)

    async def scenario():
        ws = await connected(token=token)
        for product_id in range(1, MAX_SUBSCRIPTIONS + 1):
            await subscribe(ws, "inventory", product_id=product_id)
        # Subscribing again to a held subscription is not a new one.
        await subscribe(ws, "inventory", product_id=1)
        answer = await request(ws, {"type": "subscribe:warehouse", "warehouse_id": 1})
        assert answer["type"] == "error" and answer["code"] == "too_many_subscriptions"
        assert (await request(ws, {"type": "unsubscribe", "product_id": 1}))["type"] == "unsubscribed"
        await subscribe(ws, "warehouse", warehouse_id=1)
        assert await request(ws, {"type": "ping"}) == {"type": "pong"}
        await ws.disconnect()

    run(scenario)


# --- what is sent, to whom ---------------------------------------------------------------------------


def test_a_product_warehouse_subscriber_gets_only_that_item(storefront_user):
    token = token_for(storefront_user)
    here, there = WarehouseFactory(), WarehouseFactory()
    product = ProductFactory()
    item = stocked_item(10, product=product, warehouse=here)
    same_product_elsewhere = stocked_item(10, product=product, warehouse=there)
    other_product_here = stocked_item(10, warehouse=here)

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "inventory", product_id=product.pk, warehouse_id=here.pk)
        await adjust(same_product_elsewhere, -1)
        await adjust(other_product_here, -1)
        await adjust(item, -3)
        # Messages of one connection arrive in order: had the others been sent, they would come first.
        data = await next_update(ws)
        assert data == await payload_of(item)
        assert (data["product_id"], data["warehouse_id"], data["available_quantity"]) == (product.pk, here.pk, 7)
        assert await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()

    run(scenario)


def test_a_product_subscriber_gets_every_warehouse_and_a_warehouse_subscriber_every_product(storefront_user):
    token = token_for(storefront_user)
    here, there = WarehouseFactory(), WarehouseFactory()
    product = ProductFactory()
    item_here = stocked_item(10, product=product, warehouse=here)
    item_there = stocked_item(10, product=product, warehouse=there)
    other_here = stocked_item(10, warehouse=here)
    other_there = stocked_item(10, warehouse=there)

    async def scenario():
        by_product = await connected(token=token)
        await subscribe(by_product, "inventory", product_id=product.pk)
        by_warehouse = await connected(token=token)
        await subscribe(by_warehouse, "warehouse", warehouse_id=here.pk)

        await adjust(other_there, -1)  # neither
        await adjust(item_there, -2)  # product only
        await adjust(other_here, -3)  # warehouse only
        await adjust(item_here, -4)  # both

        # (The relay sends one batch's updates of different items in item order, not change order.)
        got = sorted((d["id"], d["available_quantity"]) for d in [await next_update(by_product) for _ in range(2)])
        assert got == sorted([(item_there.pk, 8), (item_here.pk, 6)])
        got = sorted((d["id"], d["available_quantity"]) for d in [await next_update(by_warehouse) for _ in range(2)])
        assert got == sorted([(other_here.pk, 7), (item_here.pk, 6)])
        for ws in (by_product, by_warehouse):
            assert await ws.receive_nothing(timeout=0.2)
            await ws.disconnect()

    run(scenario)


def test_a_change_reaching_several_of_ones_subscriptions_is_sent_once(storefront_user):
    token = token_for(storefront_user)
    item = stocked_item(10)
    marker = stocked_item(10, warehouse=item.warehouse)

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "inventory", product_id=item.product_id)
        await subscribe(ws, "inventory", product_id=item.product_id, warehouse_id=item.warehouse_id)
        await subscribe(ws, "warehouse", warehouse_id=item.warehouse_id)
        await adjust(item, -1)
        await adjust(marker, -1)
        # The marker comes, not a second copy of the first (in either order: one relay batch may hold both).
        assert sorted([(await next_update(ws))["id"], (await next_update(ws))["id"]]) == [item.pk, marker.pk]
        assert await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()

    run(scenario)


def test_after_unsubscribing_nothing_more_arrives(storefront_user):
    token = token_for(storefront_user)
    item = stocked_item(10)
    marker = stocked_item(10)

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "inventory", product_id=item.product_id)
        await subscribe(ws, "inventory", product_id=marker.product_id)
        await request(ws, {"type": "unsubscribe", "product_id": item.product_id})
        await adjust(item, -1)
        await adjust(marker, -1)
        assert (await next_update(ws))["id"] == marker.pk
        await ws.disconnect()

    run(scenario)


def test_a_refused_or_rolled_back_write_sends_nothing(warehouse_user):
    token = token_for(warehouse_user)
    item = stocked_item(20, reorder_point=10)
    before = feed.latest_final_id()

    @database_sync_to_async
    def refused() -> None:
        with pytest.raises(InsufficientStock):
            services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-21)

    @database_sync_to_async
    def rolled_back() -> None:
        with contextlib.suppress(RuntimeError), transaction.atomic():
            # Would take the item below its reorder point (an alert) and reserve some of it.
            services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-12)
            services.hold_stock([((item.product_id, item.warehouse_id), 1)])
            raise RuntimeError("the caller fails after the service returned")

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "inventory", product_id=item.product_id)
        await subscribe(ws, "low-stock")
        await refused()
        await rolled_back()
        await adjust(item, 1)  # the marker: the first and only message
        data = await next_update(ws)
        assert (data["available_quantity"], data["reserved_quantity"]) == (21, 0)
        assert await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()

    run(scenario)
    assert not LowStockAlert.objects.exists()
    # Nothing of the refused or rolled-back writes was recorded for the relay to send: only the marker.
    assert list(Event.objects.filter(id__gt=before).values_list("type", "data__available_quantity")) == [
        ("inventory.updated", 21)
    ]


def test_reservations_are_broadcast_too(storefront_user):
    token = token_for(storefront_user)
    item = stocked_item(10)

    @database_sync_to_async
    def hold() -> None:
        services.hold_stock([((item.product_id, item.warehouse_id), 4)])

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "warehouse", warehouse_id=item.warehouse_id)
        await hold()
        data = await next_update(ws)
        assert (data["available_quantity"], data["reserved_quantity"], data["total_quantity"]) == (6, 4, 10)
        await ws.disconnect()

    run(scenario)


# --- low-stock alerts --------------------------------------------------------------------------------


def test_crossing_the_reorder_point_sends_an_alert_to_low_stock_subscribers(storefront_user):
    token = token_for(storefront_user)
    here, there = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(20, warehouse=here, reorder_point=10)
    elsewhere = stocked_item(20, warehouse=there, reorder_point=10)
    sku = item.product.sku

    async def scenario():
        everywhere = await connected(token=token)
        await subscribe(everywhere, "low-stock")
        only_here = await connected(token=token)
        await subscribe(only_here, "low-stock", warehouse_id=here.pk)

        await adjust(elsewhere, -15)
        await adjust(item, -12)
        await adjust(item, -1)  # still low: no second alert

        first, second = [await everywhere.receive_json_from(timeout=WAIT) for _ in range(2)]
        mine = await only_here.receive_json_from(timeout=WAIT)
        alert_ids = await database_sync_to_async(lambda: dict(LowStockAlert.objects.values_list("item_id", "pk")))()
        assert first["type"] == "low-stock:alert" and first["data"]["product_id"] == elsewhere.product_id
        assert mine == second
        assert second["type"] == "low-stock:alert"
        assert second["data"] == {
            "alert_id": alert_ids[item.pk],
            "status": "open",
            "item_id": item.pk,
            "product_id": item.product_id,
            "sku": sku,
            "warehouse_id": here.pk,
            "current_quantity": 8,
            "reorder_point": 10,
            "quantity_when_raised": 8,
            "reorder_point_when_raised": 10,
        }
        assert first["event_id"] < second["event_id"]
        for ws in (everywhere, only_here):
            assert await ws.receive_nothing(timeout=0.2)
            await ws.disconnect()

    run(scenario)


def test_the_scan_broadcasts_the_alerts_it_raises(storefront_user):
    token = token_for(storefront_user)
    item = stocked_item(8, reorder_point=5)

    @database_sync_to_async
    def raise_reorder_point_and_scan() -> tuple[int, int]:
        # A setting change that bypasses the write path: only the scan can see it.
        InventoryItem.objects.filter(pk=item.pk).update(reorder_point=10)
        return scan_low_stock()

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "low-stock", warehouse_id=item.warehouse_id)
        assert await raise_reorder_point_and_scan() == (1, 0)
        message = await ws.receive_json_from(timeout=WAIT)
        assert message["type"] == "low-stock:alert"
        assert (message["data"]["product_id"], message["data"]["current_quantity"]) == (item.product_id, 8)
        assert message["data"]["reorder_point"] == 10
        await ws.disconnect()

    run(scenario)


# --- the seed's Redis channel ----------------------------------------------------------------------


def test_each_committed_change_is_published_on_stock_updates():
    item = stocked_item(10, product=unique_product())
    relayed()  # the receipt above went out already: the first message is the change below
    subscriber = stock_updates_subscriber()
    try:
        services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-4)
        message = wait_for_sku(subscriber, item.product.sku)
    finally:
        subscriber.close()
    item.refresh_from_db()
    assert message["type"] == "STOCK_UPDATE"
    assert (message["productId"], message["warehouseId"], message["availableQuantity"]) == (
        item.product_id,
        item.warehouse_id,
        6,
    )
    assert message["timestamp"].endswith("Z")
    assert message["data"] == stock_cache.item_payload(item, item.product.sku)
