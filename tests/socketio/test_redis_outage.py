"""A Redis outage under ``/socket.io/``, through a real uvicorn and relay on a redis-server of the test's own
(killed, then started again on the same port; the shared Redis is never touched).

The real socket.io-client (npm), over WebSocket and over long-polling: its connection is closed at the
transport level, so it reconnects by itself; every handshake during the outage is refused with 503; once
Redis answers it is connected and subscribed again and gets the next change; the server logs no traceback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from inventory.ws_layer_outage import CLOSE_REASON
from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import WAIT, rest_adjust, settled, token_for, unique_product
from tests.processes import own_redis
from tests.security.ws_support import stack
from tests.socketio.support import NodeScript

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.usefixtures("socketio_client_js"),
]


def _handshake(host: str) -> tuple[int, str | None, dict | None]:
    """An Engine.IO handshake (the first request of every client): status, Retry-After, JSON error body."""
    try:
        with urllib.request.urlopen(f"http://{host}/socket.io/?EIO=4&transport=polling", timeout=WAIT) as answer:
            return answer.status, None, None
    except urllib.error.HTTPError as refused:
        return refused.code, refused.headers.get("Retry-After"), json.loads(refused.read())


# A long-running client as the README advises: it subscribes again on every (re)connection.
RECONNECTING = """
import { io } from 'socket.io-client';

const socket = io('URL', { auth: { token: 'TOKEN' }, transports: TRANSPORTS });
socket.on('connect', () => {
  socket.emit('subscribe:inventory', { product_id: 'PRODUCT' }, (ack) => console.log('ack', ack.ok));
});
socket.on('disconnect', (reason) => console.log('disconnect', reason));
socket.on('connect_error', (err) => console.log('connect_error', err.message));
socket.on('inventory:update', (item) => console.log('update', item.available_quantity));
"""


def _client(host: str, token: str, product_id: int, transports: list[str], tmp_path, name: str) -> NodeScript:
    script = RECONNECTING
    for name_in_script, value in (
        ("URL", f"http://{host}"),
        ("TOKEN", token),
        ("PRODUCT", str(product_id)),
        ("TRANSPORTS", json.dumps(transports)),
    ):
        script = script.replace(name_in_script, value)
    return NodeScript(script, tmp_path, name)


def test_a_redis_outage_closes_connections_refuses_handshakes_and_recovers(tmp_path, storefront_user, warehouse_user):
    item = stocked_item(50, product=unique_product(), warehouse=WarehouseFactory())
    reader, writer = token_for(storefront_user), token_for(warehouse_user)
    settled()
    server_log = tmp_path / "server.log"

    with (
        own_redis() as redis_server,
        stack(tmp_path, redis_server.url(), f"hs-{uuid.uuid4().hex[:6]}", DB_POOL_SIZE="4") as base_url,
    ):
        host = base_url.removeprefix("http://")
        with (
            _client(host, reader, item.product_id, ["polling", "websocket"], tmp_path, "upgraded") as upgraded,
            _client(host, reader, item.product_id, ["polling"], tmp_path, "polling") as polling,
        ):
            clients = (upgraded, polling)
            for client in clients:
                client.wait_for(lambda out: "ack true" in out)
            log_start = len(server_log.read_text())

            redis_server.kill()
            # Closed by the server at the transport level: socket.io-client reconnects by itself.
            for client in clients:
                client.wait_for(lambda out: "disconnect transport close" in out)
            during = [_handshake(host) for _ in range(3)]

            redis_server.start()  # the same port, empty
            for client in clients:  # back: connected and subscribed again, by itself
                client.wait_for(lambda out: out.count("ack true") == 2)
            body = rest_adjust(host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=-5)
            outputs = [client.wait_for(lambda out: "update 45" in out) for client in clients]
        log = server_log.read_text()[log_start:]

    assert during == [(503, "5", {"code": "service_unavailable", "detail": CLOSE_REASON})] * 3
    assert body["available_quantity"] == 45
    for output in outputs:
        # Subscribed, closed, (its attempts while Redis was down refused: "connect_error xhr poll error"),
        # subscribed again by itself, and the change.
        lines = [line for line in output.splitlines() if not line.startswith("connect_error")]
        assert lines == ["ack true", "disconnect transport close", "ack true", "update 45"], output
    assert "Traceback" not in log
    assert "closing 2 connection(s): the channel layer (Redis) does not answer" in log
