"""Socket.IO on the embedded default (``make run`` without Redis): one uvicorn process on SQLite, with the
in-memory channel layer and the relay inside the web process. The README's seed example, run by the real
``socket.io-client`` from npm, prints the update of a REST change and the alert it raises: the fan-out is
in-process, from the relay through the in-memory layer to the Socket.IO bridge."""

from __future__ import annotations

import os
import re
import subprocess
import time

import pytest
from django.db import connection

from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import ROOT, UVICORN, WAIT, free_port, rest_adjust, serving, token_for, unique_product
from tests.socketio.support import NodeScript, ensure_client_installed, seed_example

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Nothing may point the server at PostgreSQL or Redis: it runs on the embedded default.
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD")
SERVICE_VARS += ("REDIS_HOST", "REDIS_PORT", "REDIS_DB", "RELAY_IN_PROCESS", "DJANGO_SETTINGS_MODULE")


def test_the_seed_example_gets_updates_and_alerts_in_process(tmp_path, warehouse_user, storefront_user):
    ensure_client_installed()
    item = stocked_item(100, product=unique_product(), warehouse=WarehouseFactory(), reorder_point=10)
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env |= {
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings",
        "SQLITE_PATH": str(connection.settings_dict["NAME"]),  # the test database file this test writes to
        "VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "true",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    host = f"127.0.0.1:{port}"
    log = tmp_path / "uvicorn.log"
    command = [*UVICORN, "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    available = [item.available_quantity]

    def adjust(change: int) -> None:
        body = rest_adjust(host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=change)
        available[0] = body["available_quantity"]

    def raise_alert() -> None:
        if available[0] <= 10:
            adjust(100 - available[0])  # resolve an alert raised before the client listened, to raise a new one
        adjust(5 - available[0])

    try:
        deadline = time.monotonic() + WAIT
        while not serving(f"http://{host}"):
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        assert "relay: running inside this web process" in log.read_text()
        script = seed_example(
            url=f"http://{host}", token=reader, product_id=item.product_id, warehouse_id=item.warehouse_id
        )
        with NodeScript(script, tmp_path) as node:
            node.until(lambda out: "Inventory updated:" in out, action=lambda: adjust(-1), every=1.0)
            output = node.until(lambda out: "Low stock alert:" in out, action=raise_alert, every=2.0)
    finally:
        server.terminate()
        server.wait(timeout=WAIT)

    update = output[output.index("Inventory updated:") :]
    assert f"sku: '{item.product.sku}'" in update and re.search(r"available_quantity: 9\d,", update), output
    alert = output[output.index("Low stock alert:") :]
    assert "current_quantity: 5," in alert and "reorder_point: 10," in alert, output
    assert re.search(r"alert_id: \d+,", alert) and re.search(r"event_id: \d+", alert), output
