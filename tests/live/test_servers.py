"""End to end over real uvicorn processes and a real ``relay_events`` process: a REST change reaches
WebSocket clients, across processes too (channels-redis), is published on the seed's Redis channel
``stock_updates``, and a client that resumes with ``since`` gets what it missed."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import (
    WAIT,
    relayed,
    rest_adjust,
    settled,
    stock_updates_subscriber,
    token_for,
    unique_product,
    wait_for_sku,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


async def _receive(ws) -> dict:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def _subscribed_client(host: str, token: str, frame: dict):
    ws = await connect(f"ws://{host}/ws/inventory/?token={token}", origin=f"http://{host}", open_timeout=WAIT)
    await ws.send(json.dumps(frame))
    answer = await _receive(ws)
    assert answer["type"] == "subscribed", answer
    return ws


def test_a_rest_change_reaches_a_websocket_client(start_server, warehouse_user, storefront_user):
    item = stocked_item(10, product=unique_product(), warehouse=WarehouseFactory())
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host = start_server()
    settled()  # the receipt above predates the subscription: it is not sent

    async def scenario() -> dict:
        frame = {"type": "subscribe:inventory", "product_id": item.product_id, "warehouse_id": item.warehouse_id}
        ws = await _subscribed_client(host, reader, frame)
        try:
            body = await asyncio.to_thread(
                rest_adjust, host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=-4
            )
            assert body["available_quantity"] == 6
            message = await _receive(ws)
        finally:
            await ws.close()
        assert message["type"] == "inventory:update"
        assert message["data"] == body  # the same item JSON as the API's
        assert isinstance(message["event_id"], int)
        return message

    asyncio.run(scenario())


def test_the_server_refuses_bad_credentials(start_server):
    host = start_server()

    async def scenario() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://{host}/ws/inventory/?token=nope", origin=f"http://{host}", open_timeout=WAIT)
        assert refused.value.response.status_code == 403

    asyncio.run(scenario())


def test_an_update_made_on_one_process_reaches_a_client_of_another(start_server, warehouse_user, storefront_user):
    item = stocked_item(10, product=unique_product())
    sku = item.product.sku
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host_a, host_b = start_server(), start_server()
    relayed()  # the receipt above went out already: the first message is the change below
    subscriber = stock_updates_subscriber()

    async def scenario() -> dict:
        frame = {"type": "subscribe:warehouse", "warehouse_id": item.warehouse_id}
        ws = await _subscribed_client(host_a, reader, frame)
        try:
            await asyncio.to_thread(
                rest_adjust, host_b, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=5
            )
            return await _receive(ws)
        finally:
            await ws.close()

    try:
        message = asyncio.run(scenario())
        published = wait_for_sku(subscriber, sku)
    finally:
        subscriber.close()
    assert message["type"] == "inventory:update"
    assert (message["data"]["id"], message["data"]["available_quantity"]) == (item.pk, 15)
    assert published["type"] == "STOCK_UPDATE"
    assert (published["productId"], published["warehouseId"], published["availableQuantity"]) == (
        item.product_id,
        item.warehouse_id,
        15,
    )
    assert published["data"] == message["data"]


def test_a_client_that_reconnects_with_since_gets_what_it_missed(start_server, warehouse_user, storefront_user):
    here = WarehouseFactory()
    item = stocked_item(30, product=unique_product(), warehouse=here)
    other = stocked_item(30, product=unique_product(), warehouse=here)
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host = start_server()
    settled()

    async def scenario() -> None:
        frame = {"type": "subscribe:warehouse", "warehouse_id": here.pk}
        ws = await _subscribed_client(host, reader, frame)
        await asyncio.to_thread(rest_adjust, host, writer, product_id=item.product_id, warehouse_id=here.pk, change=-1)
        first = await _receive(ws)
        assert (first["data"]["available_quantity"], "replay" in first) == (29, False)
        await ws.close()

        # Disconnected: two changes happen.
        missed = [
            await asyncio.to_thread(rest_adjust, host, writer, product_id=p, warehouse_id=here.pk, change=c)
            for p, c in ((other.product_id, -2), (item.product_id, -3))
        ]
        await asyncio.to_thread(settled)  # (so both are replayed, not one of them sent live)
        ws = await connect(f"ws://{host}/ws/inventory/?token={reader}", origin=f"http://{host}", open_timeout=WAIT)
        await ws.send(json.dumps({**frame, "since": first["event_id"]}))
        replayed = [await _receive(ws), await _receive(ws)]
        answer = await _receive(ws)
        assert [(m["data"], m["replay"]) for m in replayed] == [(body, True) for body in missed]
        assert first["event_id"] < replayed[0]["event_id"] < replayed[1]["event_id"] <= answer["last_event_id"]
        assert (answer["type"], answer["replayed"], answer["since"]) == ("subscribed", 2, first["event_id"])
        # Then live again.
        await asyncio.to_thread(rest_adjust, host, writer, product_id=item.product_id, warehouse_id=here.pk, change=-4)
        message = await _receive(ws)
        assert (message["data"]["available_quantity"], message["event_id"] > answer["last_event_id"]) == (22, True)
        assert "replay" not in message
        await ws.close()

    asyncio.run(scenario())
