"""Helpers for the live feed tests: WebSocket communicators on the real ASGI app, real servers, Redis pub/sub."""

from __future__ import annotations

import json
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from inventory import feed
from inventory.broadcast import STOCK_UPDATES_CHANNEL
from inventory.models import Event, RelayCursor
from inventory_site.asgi import application
from tests.factories import ProductFactory

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://testserver"
UVICORN = [sys.executable, "-m", "uvicorn", "inventory_site.asgi:application"]
WAIT = 60  # seconds: generous; only reached when something is broken (or another session holds the horizon)
SETTLE = 60  # seconds: another session's open transaction on the shared cluster holds the horizon back


def run(scenario: Callable[[], Any]) -> Any:
    """Run an async scenario from a sync test (ORM calls inside go through database_sync_to_async)."""
    return async_to_sync(scenario)()


def token_for(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def unique_product(**kwargs):
    # Redis pub/sub is shared by every database number: a unique SKU tells our messages apart.
    return ProductFactory(sku=f"LIVE-{uuid.uuid4().hex[:12]}", **kwargs)


def communicator(*, token: str | None = None, cookie: str | None = None, origin: str | None = ORIGIN):
    path = "/ws/inventory/" if token is None else f"/ws/inventory/?token={token}"
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def connected(**kwargs) -> WebsocketCommunicator:
    ws = communicator(**kwargs)
    ok, _ = await ws.connect(timeout=WAIT)
    assert ok, "the handshake was refused"
    return ws


async def request(ws: WebsocketCommunicator, frame: dict) -> dict:
    await ws.send_json_to(frame)
    return await ws.receive_json_from(timeout=WAIT)


def settled() -> int:
    """Wait until every stored event is final (below the feed's horizon); returns the newest id.

    A subscription starts at the newest *final* event: an event of the test's setup that is not final
    yet (any open transaction on the cluster holds the horizon back) would still count as new.
    """
    deadline = time.monotonic() + SETTLE
    while True:
        newest = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
        if feed.latest_final_id() >= newest:
            return newest
        assert time.monotonic() < deadline, f"event {newest} did not become final within {SETTLE}s"
        time.sleep(0.05)


def relayed(name: str = "redis") -> int:
    """Wait until the relay (thread or process) handled every stored event; returns the newest id."""
    newest = settled()
    deadline = time.monotonic() + SETTLE
    while (RelayCursor.objects.filter(name=name).values_list("position", flat=True).first() or 0) < newest:
        assert time.monotonic() < deadline, f"the relay did not reach event {newest} within {SETTLE}s"
        time.sleep(0.05)
    return newest


async def subscribe(ws: WebsocketCommunicator, kind: str, **fields: int) -> dict:
    """Subscribe (live from now: what the test did before is final first, so it is not sent)."""
    await database_sync_to_async(settled)()
    answer = await request(ws, {"type": f"subscribe:{kind}", **fields})
    assert answer["type"] == "subscribed", answer
    return answer


async def resume(ws: WebsocketCommunicator, kind: str, since: int, **fields: int) -> tuple[list[dict], dict]:
    """Subscribe with ``since``: the replayed messages (in the order received) and the ``subscribed`` answer."""
    await ws.send_json_to({"type": f"subscribe:{kind}", "since": since, **fields})
    replayed = []
    while True:
        message = await ws.receive_json_from(timeout=WAIT)
        if message["type"] == "subscribed":
            assert message["since"] == since and message["replayed"] == len(replayed), (message, replayed)
            return replayed, message
        assert message.get("replay") is True, message
        replayed.append(message)


# --- real servers ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def shared_test_database_url() -> str:
    """The database pytest-django made (``test_<name>``), for server processes to share it."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def serving(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 503 still means the server answers
    except OSError:
        return False


def rest_adjust(host: str, token: str, *, product_id: int, warehouse_id: int, change: int) -> dict:
    """``POST /api/v1/inventory/{id}/adjust`` over real HTTP."""
    body = {"warehouse_id": warehouse_id, "quantity_change": change, "transaction_type": "adjustment"}
    req = urllib.request.Request(
        f"http://{host}/api/v1/inventory/{product_id}/adjust",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=WAIT) as response:
        assert response.status == 200
        return json.loads(response.read())


# --- the seed's Redis pub/sub channel -------------------------------------------------------------


def stock_updates_subscriber():
    """A pub/sub connection to ``stock_updates``, returned once Redis confirmed the subscription."""
    subscriber = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    subscriber.subscribe(STOCK_UPDATES_CHANNEL)
    confirmation = subscriber.get_message(timeout=WAIT)
    assert confirmation is not None and confirmation["type"] == "subscribe", confirmation
    return subscriber


def wait_for_sku(subscriber, sku: str) -> dict:
    """The first message about ``sku`` (other test runs publish on the same channel)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        raw = subscriber.get_message(timeout=1.0)
        if raw and raw["type"] == "message":
            message = json.loads(raw["data"])
            if message.get("data", {}).get("sku") == sku:
                return message
    raise AssertionError(f"no stock_updates message for {sku}")
