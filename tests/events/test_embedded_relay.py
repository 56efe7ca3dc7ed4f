"""The embedded default (``make run``: SQLite, no Redis), end to end: the stack ``runstack`` starts.

The Celery worker (with beat, filesystem broker) expires a reservation; the web process's own cache and
in-memory channel layer must learn of it, through the relay that runs inside the web process, so API
reads show the units available again and a WebSocket client gets the ``inventory:update``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.events.support import WAIT, Api, WebSocketClient, report
from tests.processes import ROOT, free_port, http_answers, running, wait_until

pytestmark = pytest.mark.slow

SERVICE_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
    "SQLITE_PATH",
    "DJANGO_SETTINGS_MODULE",
    "RELAY_IN_PROCESS",
)

# In the stack's settings: a warehouse user with a token, and one item stocked through the write path.
SETUP = """
from django.apps import apps
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token
from inventory import services
from inventory.models import Product, Warehouse
from inventory.roles import WAREHOUSE_GROUP, sync_roles
sync_roles(apps)
user = User.objects.create_user("embedded", password="unused-password-1", is_staff=True)
user.groups.add(Group.objects.get(name=WAREHOUSE_GROUP))
warehouse = Warehouse.objects.create(code="EMB", name="Embedded")
product = Product.objects.create(sku="EMB-1", name="Embedded widget")
services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=10)
print(Token.objects.create(user=user).key, warehouse.pk, product.pk)
"""


def _embedded_env(var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(
        {
            "DEBUG": "true",
            "VAR_DIR": str(var_dir),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "inventory_site.settings",
            **extra,
        }
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}: {done.stderr[-3000:]}"
    return done.stdout


def _when(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_a_worker_side_expiry_reaches_api_reads_and_the_live_feed(tmp_path):
    env = _embedded_env(tmp_path / "var", RESERVATION_SWEEP_SECONDS="1")
    _manage(env, "migrate", "--noinput", "-v0")
    token, warehouse_id, product_id = _manage(env, "shell", "-c", SETUP).split()[-3:]
    warehouse_id, product_id = int(warehouse_id), int(product_id)
    port = free_port()
    log = tmp_path / "runstack.log"

    with running(["django", "runstack", "--port", str(port)], env, log) as stack:
        base_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert stack.poll() is None, f"runstack exited:\n{log.read_text()[-3000:]}"
            return http_answers(base_url) and "beat: Starting" in log.read_text()

        wait_until(up, timeout=WAIT, message=f"the web server and the worker with beat (log: {log})")
        api = Api(base_url, token)
        stock = f"/api/v1/inventory/{product_id}"
        assert api.get(stock).body["available_quantity"] == 10  # now in the web process's cache

        with WebSocketClient(base_url, token) as ws:
            ws.subscribe("inventory", product_id=product_id)
            held = api.post("/api/v1/inventory/reserve", {"product_id": product_id, "quantity": 4, "expires_in": 1})
            assert held.status == 201, held
            read = api.get(stock).body  # the writer's own read sees its write
            assert (read["available_quantity"], read["reserved_quantity"]) == (6, 4)

            # Nothing here reads the reservation (a read would expire it on the spot): only the worker's sweep may.
            def available_again() -> float | None:
                body = api.get(stock).body
                if (body["available_quantity"], body["reserved_quantity"]) == (10, 0):
                    return time.time()
                return None

            read_at = wait_until(available_again, timeout=WAIT, interval=0.01, message="API reads to show 10 / 0")

            def ws_update() -> float | None:
                for frame in ws.updates():
                    data = frame.message["data"]
                    if (data["available_quantity"], data["reserved_quantity"]) == (10, 0):
                        return frame.at
                return None

            ws_at = wait_until(ws_update, timeout=WAIT, interval=0.01, message="the live inventory:update")
            versions = [frame.message["data"]["version"] for frame in ws.updates()]
            assert versions == sorted(set(versions))  # the reserve, then the expiry, each once

        expired = [
            e
            for e in api.events_after(0, type="reservation.expired")
            if e["data"]["id"] == held.body["id"]  # the expiry, as the worker committed it
        ]
        assert len(expired) == 1, expired
        assert expired[0]["data"]["status"] == "expired"
        updated = [
            e
            for e in api.events_after(0, type="inventory.updated", product_id=product_id)
            if e["data"]["available_quantity"] == 10 and e["data"]["reserved_quantity"] == 0
        ]
        assert updated, "the expiry's inventory.updated"
        assert "expire_reservations_task" in log.read_text()

    committed = _when(expired[0]["created_at"])
    released = _when(expired[0]["data"]["released_at"])
    expires = _when(expired[0]["data"]["expires_at"])
    ledger = _manage(env, "check_ledger")
    assert "Ledger balanced" in ledger
    report(
        f"embedded: expiry committed {committed - expires:.2f} s after expires_at (beat interval 1 s); "
        f"from the expiry's event (released_at {(released - committed) * 1e3:+.0f} ms): "
        f"API read {(read_at - committed) * 1e3:.0f} ms, WebSocket {(ws_at - committed) * 1e3:.0f} ms"
    )
