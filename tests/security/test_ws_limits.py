"""WebSocket limits: frames over ``WS_MAX_MESSAGE_BYTES`` close the socket with 1009 (through the ASGI app
and through real uvicorn servers), and hundreds of clients subscribing at once all get their subscription
and the live update after it (the channel layer's Redis connection pool waits instead of failing)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from django.conf import settings
from django.test import override_settings

from inventory.ws_limits import server_max_size
from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import connected, rest_adjust, run, settled, token_for, unique_product
from tests.processes import free_port, http_answers, own_redis, running, service_env, serving_asgi, wait_until
from tests.security.ws_support import WAIT, open_client, raise_fd_limit, redis_clients, stack, ws_url

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = 400
LAYER_POOL = 10
OUR_REASON = "Message too big"  # how the app's close reason starts (uvicorn's own limit says otherwise)


_PING = '{"type": "ping", "pad": "%s"}'
_PING_BYTES = len(_PING % "")


def padded_ping(count: int, char: str = " ") -> str:
    """A ``ping`` frame whose ``pad`` field holds ``count`` times ``char``."""
    return _PING % (char * count)


def ping_of(size: int) -> str:
    """A ``ping`` frame of exactly ``size`` bytes."""
    return padded_ping(size - _PING_BYTES)


# --- message size, through the ASGI app --------------------------------------------------------------


@pytest.mark.parametrize("char", [" ", "é", "€"])
def test_a_message_over_the_limit_closes_with_1009_and_one_at_the_limit_is_answered(storefront_user, char):
    token = token_for(storefront_user)
    limit = 12_000
    count = (limit - _PING_BYTES) // len(char.encode())
    at, over = padded_ping(count, char), padded_ping(count + 1, char)  # the largest frame within, one char more

    async def scenario() -> tuple[dict, dict]:
        ws = await connected(token=token)
        await ws.send_to(text_data=at)
        answer = json.loads((await ws.receive_output(WAIT))["text"])
        await ws.send_to(text_data=over)
        closed = await ws.receive_output(WAIT)
        await ws.wait(WAIT)  # the consumer ended
        return answer, closed

    with override_settings(WS_MAX_MESSAGE_BYTES=limit):
        answer, closed = run(scenario)
    assert len(at.encode()) <= limit < len(over.encode())
    if char != " ":
        assert len(over) <= limit  # over the limit in bytes, not in characters: UTF-8 is what counts
    assert answer == {"type": "pong"}
    assert closed["type"] == "websocket.close" and closed["code"] == 1009
    assert closed["reason"] == f"Message too big: at most {limit} bytes."


def test_a_binary_message_over_the_limit_closes_with_1009(storefront_user):
    token = token_for(storefront_user)

    async def scenario() -> tuple[dict, dict]:
        ws = await connected(token=token)
        await ws.send_to(bytes_data=b"x" * settings.WS_MAX_MESSAGE_BYTES)
        answer = json.loads((await ws.receive_output(WAIT))["text"])
        await ws.send_to(bytes_data=b"x" * (settings.WS_MAX_MESSAGE_BYTES + 1))
        closed = await ws.receive_output(WAIT)
        await ws.wait(WAIT)  # the consumer ended
        return answer, closed

    answer, closed = run(scenario)
    assert answer["type"] == "error" and answer["code"] == "invalid_message"  # under the limit: the feed's answer
    assert (closed["type"], closed["code"]) == ("websocket.close", 1009)


# --- message size, through real servers ---------------------------------------------------------------


async def _exchange(url: str, frames: list[str]) -> tuple[list[dict], int, str]:
    """Send the frames one by one, each waiting for an answer unless the socket closes; what came back."""
    client = await open_client(url)
    answers = []
    try:
        for frame in frames:
            before = len(client.frames)
            await client.ws.send(frame)
            async with asyncio.timeout(WAIT):
                while len(client.frames) == before and client.close_code is None:
                    await asyncio.sleep(0.01)
            answers += client.frames[before:]
        code = await client.ended()
    finally:
        await client.close()
    return answers, code, client.close_reason


def test_uvicorn_closes_with_1009_over_the_default_limit(tmp_path, storefront_user):
    """uvicorn started without --ws-max-size (16 MiB): the app's limit, 64 KiB by default, holds."""
    token = token_for(storefront_user)
    limit = 65536
    with serving_asgi(service_env(), tmp_path / "server.log") as base_url:
        url = ws_url(base_url, token)
        answers, code, reason = asyncio.run(_exchange(url, [ping_of(limit), ping_of(limit), ping_of(limit + 1)]))
    assert limit == settings.WS_MAX_MESSAGE_BYTES
    assert answers == [{"type": "pong"}, {"type": "pong"}]  # just under (at) the limit works, again and again
    assert code == 1009 and reason.startswith(OUR_REASON)
    assert "Traceback" not in (tmp_path / "server.log").read_text()


@pytest.mark.slow
def test_runstack_makes_uvicorn_refuse_a_huge_message_itself(tmp_path, storefront_user):
    """``runstack`` passes uvicorn --ws-max-size a little above WS_MAX_MESSAGE_BYTES: a message just over the
    limit meets the app's close, a huge one uvicorn's (never buffered whole), both 1009."""
    token = token_for(storefront_user)
    limit, port = 4096, free_port()
    env = service_env(WS_MAX_MESSAGE_BYTES=str(limit))
    base_url = f"http://127.0.0.1:{port}"
    args = ["django", "runstack", "--web-only", "--host", "127.0.0.1", "--port", str(port), "--quiet"]
    with running(args, env, tmp_path / "runstack.log") as process:
        wait_until(
            lambda: process.poll() is None and http_answers(base_url), timeout=WAIT, message="runstack's uvicorn"
        )
        url = ws_url(base_url, token)
        under = asyncio.run(_exchange(url, [ping_of(limit - 1), ping_of(limit + 1)]))
        huge = asyncio.run(_exchange(url, [ping_of(server_max_size(limit) + 1)]))
    assert under[0] == [{"type": "pong"}]
    assert under[1:] == (1009, f"Message too big: at most {limit} bytes.")
    assert huge[0] == [] and huge[1] == 1009
    assert not huge[2].startswith(OUR_REASON)  # uvicorn refused it before the app saw any of it


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

    # A server with few database connections (the handshakes authenticate against PostgreSQL, shared), and a
    # small channel layer pool: 400 clients subscribing at once wait for one of its connections in turn.
    env = {"DB_POOL_SIZE": "4", "CHANNEL_LAYER_MAX_CONNECTIONS": str(LAYER_POOL)}
    with (
        own_redis() as redis_server,
        stack(tmp_path, redis_server.url(), f"h5-{uuid.uuid4().hex[:6]}", **env) as base_url,
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
                return updates, body, redis_clients(redis_server.port)
            finally:
                await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)

        updates, body, redis_connections = asyncio.run(scenario())

    assert len(updates) == CLIENTS
    assert body["available_quantity"] == 93
    assert all(u["data"] == body for u in updates)  # each client got this change, as the API answered it
    assert len({u["event_id"] for u in updates}) == 1
    # Redis saw a bounded number of connections: each layer pool (the server's, the relay's) at most
    # LAYER_POOL, plus a few cache connections; not one per client.
    assert redis_connections <= 2 * LAYER_POOL + 10, redis_connections
