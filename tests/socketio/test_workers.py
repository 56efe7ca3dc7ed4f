"""One server with several worker processes on one port (``make serve``): an Engine.IO session belongs to
the worker that answered its handshake, yet its next requests land on any worker. Every client connects,
subscribes and gets the change, over long-polling (every request a new chance to land elsewhere), WebSocket,
and polling upgraded to WebSocket."""

from __future__ import annotations

import asyncio

import pytest

from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import rest_adjust, settled, token_for, unique_product
from tests.socketio.support import connected, multi_worker_server

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRANSPORTS = [["polling"]] * 6 + [["websocket"], ["polling", "websocket"]]


def test_every_client_of_a_multi_worker_server_gets_the_change(start_server, tmp_path, warehouse_user, storefront_user):
    item = stocked_item(10, product=unique_product(), warehouse=WarehouseFactory())
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    start_server()  # the relay (and a server this test does not use)
    settled()

    with multi_worker_server(start_server.env, tmp_path / "workers.log", workers=2) as host:

        async def scenario():
            clients = [await connected(host, reader, transports=transports) for transports in TRANSPORTS]
            try:
                acks = [await client.call("subscribe:inventory", {"product_id": item.product_id}) for client in clients]
                body = await asyncio.to_thread(
                    rest_adjust, host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=3
                )
                updates = [await client.next_of("inventory:update") for client in clients]
                # Talk on after the change: each polling client's session still answers, wherever it lives.
                again = [await client.call("subscribe:low-stock", {}) for client in clients]
            finally:
                for client in clients:
                    await client.close()
            return acks, body, updates, again

        acks, body, updates, again = asyncio.run(scenario())
    assert all(ack["ok"] for ack in acks + again), acks + again
    assert [update["available_quantity"] for update in updates] == [13] * len(TRANSPORTS)
    assert all({k: v for k, v in update.items() if k != "event_id"} == body for update in updates)
