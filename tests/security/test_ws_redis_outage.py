"""A Redis outage under the live feed, through a real uvicorn server and relay on a redis-server of the
test's own (killed, then started again on the same port; the shared Redis is never touched).

Open sockets close with 1013 "try again later" (not a bare 1006), every handshake during the outage is
refused with 503 and Retry-After, the server logs no traceback and only about a line a second about Redis,
and once Redis is back a new client subscribes and gets the next change.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import pytest
from django.test import override_settings
from websockets.exceptions import InvalidStatus

from inventory.ws_layer_outage import CLOSE_REASON
from tests.events.support import redis_settings
from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import (
    WAIT,
    communicator,
    connected,
    rest_adjust,
    run,
    settled,
    subscribe,
    token_for,
    unique_product,
)
from tests.processes import own_redis
from tests.security.ws_support import Client, open_client, stack, ws_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SUBSCRIBERS = 20
OUTAGE_SECONDS = 4  # how long the test keeps trying handshakes while Redis is down
HANDSHAKES_AT_ONCE = 10


async def _refused(url: str) -> tuple[int, str | None, dict]:
    """Connect during the outage: the refusal's status, Retry-After and JSON body."""
    try:
        client = await open_client(url)
    except InvalidStatus as refused:
        response = refused.response
        return response.status_code, response.headers.get("Retry-After"), json.loads(response.body)
    await client.close()
    raise AssertionError("a handshake was accepted during the outage")


async def _connected_once_back(url: str) -> tuple[Client, int]:
    """Connect, again after each 503 (right after Redis is back the server may not have tried it yet)."""
    for attempt in range(1, 51):
        try:
            client = await open_client(url)
        except InvalidStatus as refused:
            assert refused.response.status_code == 503, refused
            await asyncio.sleep(0.2)
            continue
        return client, attempt
    raise AssertionError("no connection within 50 attempts after Redis came back")


def test_a_redis_outage_closes_sockets_with_1013_refuses_handshakes_and_recovers(
    tmp_path, storefront_user, warehouse_user
):
    item = stocked_item(50, product=unique_product(), warehouse=WarehouseFactory())
    reader, writer = token_for(storefront_user), token_for(warehouse_user)
    frame = {"type": "subscribe:inventory", "product_id": item.product_id, "warehouse_id": item.warehouse_id}
    settled()
    server_log = tmp_path / "server.log"

    with (
        own_redis() as redis_server,
        stack(tmp_path, redis_server.url(), f"h5-{uuid.uuid4().hex[:6]}", DB_POOL_SIZE="4") as base_url,
    ):
        url = ws_url(base_url, reader)
        host = base_url.removeprefix("http://")

        async def scenario() -> dict:
            subscribers = await asyncio.gather(*(open_client(url) for _ in range(SUBSCRIBERS)))
            await asyncio.gather(*(c.subscribe(frame) for c in subscribers))
            log_start = len(server_log.read_text())

            redis_server.kill()
            killed = time.monotonic()
            closed = await asyncio.gather(*(c.ended() for c in subscribers))
            reasons = {c.close_reason for c in subscribers}

            refused = []
            while time.monotonic() - killed < OUTAGE_SECONDS:
                refused += await asyncio.gather(*(_refused(url) for _ in range(HANDSHAKES_AT_ONCE)))

            await asyncio.to_thread(redis_server.start)  # the same port, empty
            client, attempts = await _connected_once_back(url)
            await client.subscribe(frame)
            outage = time.monotonic() - killed  # as the server sees it: until it accepted a subscription again
            try:
                body = await asyncio.to_thread(
                    rest_adjust, host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=-5
                )
                update = await client.next_of("inventory:update")
            finally:
                await client.close()
            return {
                "closed": closed,
                "reasons": reasons,
                "refused": refused,
                "outage": outage,
                "attempts": attempts,
                "body": body,
                "update": update,
                "log": server_log.read_text()[log_start:],
            }

        seen = asyncio.run(scenario())

    # Open sockets: closed by the server with 1013 and a reason, not dropped (1006).
    assert seen["closed"] == [1013] * SUBSCRIBERS
    assert seen["reasons"] == {CLOSE_REASON}
    # Every handshake during the outage: refused with 503, Retry-After and the API's JSON error.
    assert len(seen["refused"]) >= HANDSHAKES_AT_ONCE
    assert all(
        (status, retry_after, body) == (503, "5", {"code": "service_unavailable", "detail": CLOSE_REASON})
        for status, retry_after, body in seen["refused"]
    ), seen["refused"][:3]
    # After Redis is back: a new client connects (after at most a second's worth of refusals), subscribes and gets the
    # change made through the API, relayed through the restarted Redis.
    assert seen["update"]["data"] == seen["body"]
    assert seen["body"]["available_quantity"] == 45
    # The log: no traceback, and about Redis at most a line a second.
    log = seen["log"]
    about_redis = [line for line in log.splitlines() if "redis" in line.lower()]
    assert "Traceback" not in log
    assert 2 <= len(about_redis) <= seen["outage"] + 1, about_redis
    assert any("does not answer" in line for line in about_redis)
    assert any("answers again" in line for line in about_redis)
    print(
        f"\nMEASURED Redis outage of {seen['outage']:.1f} s: {len(seen['refused'])} handshakes refused (503), "
        f"{len(about_redis)} log line(s) about Redis, {len(log.splitlines())} log lines in all; "
        f"subscribed again at attempt {seen['attempts']}"
    )


def test_through_the_asgi_app_sockets_close_with_1013_until_redis_answers_again(storefront_user):
    """Where the server cannot answer a handshake with a 503 (channels' communicator), a handshake during the
    outage is accepted and closed with 1013 before any other frame."""
    token = token_for(storefront_user)
    frame = {"type": "subscribe:warehouse", "warehouse_id": WarehouseFactory().pk}

    async def subscribed_once_back() -> tuple[dict, int]:
        for attempt in range(1, 51):
            ws = await connected(token=token)
            await ws.send_json_to(frame)
            answer = await ws.receive_output(WAIT)
            if answer["type"] == "websocket.send":
                await ws.disconnect()
                return json.loads(answer["text"]), attempt
            assert (answer["type"], answer["code"]) == ("websocket.close", 1013), answer
            await ws.disconnect()  # what a server does after its close (the communicator leaves it to us)
            await asyncio.sleep(0.2)
        raise AssertionError("no subscription within 50 attempts after Redis came back")

    with own_redis() as redis_server, override_settings(**redis_settings(redis_server.url())):

        async def scenario() -> tuple[dict, dict, dict]:
            ws = await connected(token=token)
            await subscribe(ws, "warehouse", warehouse_id=frame["warehouse_id"])
            await asyncio.to_thread(redis_server.kill)
            closed = await ws.receive_output(WAIT)
            await ws.disconnect()

            late = communicator(token=token)
            accepted, _ = await late.connect(WAIT)
            assert accepted
            refused = await late.receive_output(WAIT)
            await late.disconnect()

            await asyncio.to_thread(redis_server.start)
            answer, _ = await subscribed_once_back()
            return closed, refused, answer

        closed, refused, answer = run(scenario)

    expected = {"type": "websocket.close", "code": 1013, "reason": CLOSE_REASON}
    assert closed == expected  # the subscribed socket
    assert refused == expected  # a handshake during the outage: its first and only frame is the close
    assert answer["type"] == "subscribed" and answer["warehouse_id"] == frame["warehouse_id"]
