"""WebSocket limits: frames over ``WS_MAX_MESSAGE_BYTES`` close the socket with 1009 (through the ASGI app
and through real uvicorn servers), and hundreds of clients subscribing at once all get their subscription
and the live update after it (the channel layer's Redis connection pool waits instead of failing)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import rest_adjust, settled, token_for, unique_product
from tests.processes import own_redis
from tests.security.ws_support import WAIT, open_client, raise_fd_limit, stack, ws_url

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 400


# --- many clients at once -----------------------------------------------------------------------------


@pytest.mark.slow
def test_400_clients_connecting_at_once_are_all_subscribed_and_all_get_the_update(
    tmp_path, storefront_user, warehouse_user
):
    raise_fd_limit(4 * CLIENTS + 1024)  # the clients' sockets here, the server's in uvicorn (it inherits this)
    item = stocked_item(100, product=unique_product(), warehouse=WarehouseFactory())
    reader, writer = token_for(storefront_user), token_for(warehouse_user)
    frame = {"type": "subscribe:inventory", "product_id": item.product_id, "warehouse_id": item.warehouse_id}
    settled()  # the receipt above is final: it is not sent to the subscribers

    # A server with few database connections (the handshakes authenticate against PostgreSQL, shared).
    with (
        own_redis() as redis_server,
        stack(tmp_path, redis_server.url(), f"h5-{uuid.uuid4().hex[:6]}", DB_POOL_SIZE="4") as base_url,
    ):
        host = base_url.removeprefix("http://")

        async def scenario() -> tuple[list, dict]:
            async def subscribed_client():
                client = await open_client(ws_url(base_url, reader))
                answer = await client.subscribe(frame)
                return client, answer

            # All at once: every client connects and subscribes concurrently.
            results = await asyncio.gather(*(subscribed_client() for _ in range(CLIENTS)), return_exceptions=True)
            clients = [r[0] for r in results if not isinstance(r, BaseException)]
            failures = [repr(r) for r in results if isinstance(r, BaseException)]
            try:
                assert not failures, f"{len(failures)} of {CLIENTS} clients were not subscribed: {failures[:3]}"
                assert all(r[1]["channel"] == results[0][1]["channel"] for r in results)
                body = await asyncio.to_thread(
                    rest_adjust, host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=-7
                )
                updates = await asyncio.wait_for(
                    asyncio.gather(*(c.next_of("inventory:update") for c in clients)), WAIT
                )
                return updates, body
            finally:
                await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

        updates, body = asyncio.run(scenario())

    assert len(updates) == CLIENTS
    assert body["available_quantity"] == 93
    assert all(u["data"] == body for u in updates)  # each client got this change, as the API answered it
    assert len({u["event_id"] for u in updates}) == 1
