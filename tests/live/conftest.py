"""Helpers for the live feed tests: WebSocket communicators on the real ASGI app, and real uvicorn servers."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from inventory_site.asgi import application
from tests.factories import ProductFactory

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "http://testserver"
UVICORN = [sys.executable, "-m", "uvicorn", "inventory_site.asgi:application"]
WAIT = 20  # seconds: generous; only ever reached when something is broken


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


async def subscribe(ws: WebsocketCommunicator, kind: str, **fields: int) -> dict:
    answer = await request(ws, {"type": f"subscribe:{kind}", **fields})
    assert answer["type"] == "subscribed", answer
    return answer


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


def _serving(base_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base_url}/health", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True  # 503 still means the server answers
    except OSError:
        return False


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[[], str]]:
    """Start ``uvicorn inventory_site.asgi:application`` on a free port; returns ``host:port``."""
    processes: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test",
        "DATABASE_URL": shared_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.KEY_PREFIX,
        "DB_CONN_MAX_AGE": "0",
    }

    def start() -> str:
        for attempt in range(3):
            port = free_port()
            log = tmp_path / f"uvicorn-{len(processes)}-{attempt}.log"
            process = subprocess.Popen(
                [*UVICORN, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while process.poll() is None and time.monotonic() < deadline:
                if _serving(base_url):
                    return f"127.0.0.1:{port}"
                time.sleep(0.2)
            if process.poll() is None:
                break  # running but never answered: no point in another port
        raise AssertionError(f"uvicorn did not start:\n{log.read_text()[-3000:]}")

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)


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
