"""WebSocket tickets (``POST /api/v1/ws-tickets``, ``/ws/inventory/?ticket=``) and credentials kept out of logs.

Through the ASGI app with channels' communicator on the real Redis cache and channel layer, and end to end
through real uvicorn processes with their access log on, whose whole output is searched for secrets.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from asgiref.sync import async_to_sync
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from inventory.roles import STOREFRONT_GROUP
from inventory.ws_auth import TokenAuthMiddlewareStack
from inventory.ws_tickets import issue_ticket, redeem_ticket, ticket_key
from inventory_site.asgi import application
from inventory_site.log_redaction import REDACTED
from tests.factories import WarehouseFactory
from tests.live.support import ORIGIN, WAIT, run, session_cookie, settled, token_for
from tests.processes import free_port, http_answers, running, service_env, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

TICKETS = "/api/v1/ws-tickets"
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _ticket(client: APIClient) -> str:
    response = client.post(TICKETS)
    assert response.status_code == 201, response.content
    return response.json()["ticket"]


def _communicator(query: str, app=application, cookie: str | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", ORIGIN.encode())]
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(app, f"/ws/inventory/?{query}", headers=headers)


async def _handshake(query: str, **kwargs) -> tuple[bool, object]:
    """Connect, note whether the handshake was accepted (and the close code if not), disconnect."""
    ws = _communicator(query, **kwargs)
    result = await ws.connect(timeout=WAIT)
    await ws.disconnect()
    return result


class WhoAmI(AsyncJsonWebsocketConsumer):
    """Answers the username the auth middleware put in the scope (the live feed does not show it)."""

    async def connect(self) -> None:
        await self.accept()
        user = self.scope["user"]
        await self.send_json({"user": user.get_username() if user.is_authenticated else None})


WHO_AM_I = TokenAuthMiddlewareStack(WhoAmI.as_asgi())


async def _handshakes(queries: list[str]) -> list[tuple[bool, object]]:
    return [await _handshake(query) for query in queries]


def handshakes(*queries: str) -> list[tuple[bool, object]]:
    """Handshakes one after the other, on one event loop (as one server process sees them)."""
    return async_to_sync(_handshakes)(list(queries))


async def _user_of(query: str, cookie: str | None = None) -> str | None:
    ws = _communicator(query, app=WHO_AM_I, cookie=cookie)
    ok, _ = await ws.connect(timeout=WAIT)
    assert ok
    answer = await ws.receive_json_from(timeout=WAIT)
    await ws.disconnect()
    return answer["user"]


# --- the endpoint ----------------------------------------------------------------------------------


def test_a_role_gets_a_ticket_with_token_or_session(storefront_api, warehouse_user):
    response = storefront_api.post(TICKETS)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"ticket", "expires_in"}
    assert body["expires_in"] == 30
    assert len(body["ticket"]) >= 32

    session = APIClient()
    session.force_login(warehouse_user)
    other = _ticket(session)
    assert other != body["ticket"]
    # Stored under a hash: whoever reads the cache finds no usable ticket.
    assert cache.get(ticket_key(other)) == warehouse_user.pk
    raw_keys = redis.Redis.from_url(settings.REDIS_URL).keys(f"*{settings.KEY_PREFIX}*")
    assert raw_keys and not any(other.encode() in key or body["ticket"].encode() in key for key in raw_keys)


def test_anonymous_gets_401_and_a_user_without_role_403(anon_api, plain_api):
    anonymous = anon_api.post(TICKETS)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    no_role = plain_api.post(TICKETS)
    assert no_role.status_code == 403
    assert no_role.json()["code"] == "permission_denied"


def test_a_ticket_is_no_api_credential(storefront_api):
    ticket = _ticket(storefront_api)
    as_token = APIClient().get("/api/v1/warehouses/", HTTP_AUTHORIZATION=f"Token {ticket}")
    assert as_token.status_code == 401
    assert APIClient().get(f"/api/v1/warehouses/?ticket={ticket}").status_code == 401


# --- connecting with a ticket ---------------------------------------------------------------------


def test_a_ticket_connects_and_subscribes(storefront_api):
    warehouse = WarehouseFactory()
    ticket = _ticket(storefront_api)

    async def scenario() -> dict:
        ws = _communicator(f"ticket={ticket}")
        ok, _ = await ws.connect(timeout=WAIT)
        assert ok, "the ticket's handshake was refused"
        await ws.send_json_to({"type": "subscribe:warehouse", "warehouse_id": warehouse.pk})
        answer = await ws.receive_json_from(timeout=WAIT)
        await ws.disconnect()
        return answer

    settled()
    answer = run(scenario)
    assert answer["type"] == "subscribed"
    assert answer["warehouse_id"] == warehouse.pk


def test_a_ticket_opens_one_connection_only(storefront_api):
    ticket = _ticket(storefront_api)
    bad_token, first, again, unknown = handshakes(
        "token=not-a-token", f"ticket={ticket}", f"ticket={ticket}", "ticket=never-issued"
    )
    assert bad_token[0] is False
    assert first == (True, None)
    # Used: refused exactly as a bad token is (the handshake answers 403, the same close code).
    assert again == bad_token
    assert unknown == bad_token


def test_concurrent_handshakes_with_one_ticket_let_exactly_one_in(storefront_api):
    ticket = _ticket(storefront_api)

    async def scenario() -> list[bool]:
        results = await asyncio.gather(*(_handshake(f"ticket={ticket}") for _ in range(8)))
        return [ok for ok, _ in results]

    assert sorted(run(scenario)) == [False] * 7 + [True]


def test_concurrent_redemptions_on_redis_succeed_once(storefront_user):
    for _ in range(5):
        ticket = issue_ticket(storefront_user)
        barrier = threading.Barrier(12)
        results: list[int | None] = []

        def redeem(ticket: str = ticket, barrier: threading.Barrier = barrier, results: list = results) -> None:
            barrier.wait()
            results.append(redeem_ticket(ticket))

        threads = [threading.Thread(target=redeem) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT)
        assert sorted(results, key=lambda r: r is None) == [storefront_user.pk] + [None] * 11


def test_an_expired_ticket_is_refused(storefront_user):
    with override_settings(WS_TICKET_TTL=0.3):
        expiring = issue_ticket(storefront_user)
    fresh = issue_ticket(storefront_user)
    wait_until(lambda: cache.get(ticket_key(expiring)) is None, timeout=WAIT, interval=0.05, message="expiry")

    expired, valid = handshakes(f"ticket={expiring}", f"ticket={fresh}")
    assert expired[0] is False
    assert valid == (True, None)


def test_the_connection_is_the_tickets_user(storefront_api, storefront_user, warehouse_user):
    ticket, other = _ticket(storefront_api), _ticket(storefront_api)
    cookie = session_cookie(warehouse_user)
    token = token_for(warehouse_user)

    async def scenario() -> list[str | None]:
        return [
            await _user_of(f"ticket={ticket}", cookie=cookie),
            await _user_of(f"ticket={ticket}", cookie=cookie),
            await _user_of(f"token={token}&ticket={other}"),
        ]

    with_session, used, with_token = run(scenario)
    # A storefront ticket is the storefront user, even beside a warehouse user's session cookie.
    assert with_session == storefront_user.username
    # A used ticket does not fall back to the session: the connection is anonymous.
    assert used is None
    # The ticket wins over a token given with it.
    assert with_token == storefront_user.username


def test_a_ticket_is_checked_against_the_user_when_used(storefront_api, storefront_user):
    lost_role = _ticket(storefront_api)
    deactivated = _ticket(storefront_api)

    storefront_user.groups.remove(Group.objects.get(name=STOREFRONT_GROUP))
    assert handshakes(f"ticket={lost_role}")[0][0] is False

    storefront_user.groups.add(Group.objects.get(name=STOREFRONT_GROUP))
    storefront_user.is_active = False
    storefront_user.save(update_fields=["is_active"])
    assert handshakes(f"ticket={deactivated}")[0][0] is False


# --- through a real server: no secret in any log line -----------------------------------------------


@contextmanager
def _uvicorn(log: Path, *extra: str) -> Iterator[str]:
    """A real uvicorn with its default logging (access log on, level info); stopped on exit."""
    port = free_port()
    env = service_env(CACHE_KEY_PREFIX=settings.KEY_PREFIX)
    args = ["uvicorn", "inventory_site.asgi:application", "--host", "127.0.0.1", "--port", str(port), *extra]
    with running(args, env, log) as process:
        base_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, f"uvicorn exited:\n{log.read_text()[-3000:]}"
            return http_answers(base_url)

        wait_until(up, timeout=90, message=f"uvicorn to answer (log: {log})")
        yield f"127.0.0.1:{port}"


def _http(url: str, *, method: str = "GET", token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    request = urllib.request.Request(url, method=method, headers=headers, data=b"" if method == "POST" else None)
    try:
        with _LOCAL.open(request, timeout=WAIT) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _subscribed(url: str, warehouse_id: int) -> dict:
    with connect(url, open_timeout=WAIT) as ws:
        ws.send(json.dumps({"type": "subscribe:warehouse", "warehouse_id": warehouse_id}))
        return json.loads(ws.recv(timeout=WAIT))


def _refused(url: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=WAIT).close()
    return refused.value.response.status_code


@pytest.mark.slow
@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "two-workers"])
def test_no_token_or_ticket_reaches_the_server_log(tmp_path, storefront_user, workers):
    token = token_for(storefront_user)
    warehouse = WarehouseFactory()
    from_this_process = issue_ticket(storefront_user)  # issued here, redeemed by the server: a shared store
    log = tmp_path / "uvicorn.log"
    secrets = [token, from_this_process]

    with _uvicorn(log, *workers) as host:
        assert _http(f"http://{host}/health?token={token}")[0] == 200
        assert _http(f"http://{host}/api/v1/warehouses/?token={token}", token=token)[0] == 200
        assert _http(f"http://{host}/api/v1/no-such-thing?token={token}&x=1", token=token)[0] == 404
        assert _http(f"http://{host}/api/v1/warehouses/?token={token}")[0] == 401
        status, body = _http(f"http://{host}{TICKETS}?token={token}", method="POST", token=token)
        assert status == 201
        ticket = body["ticket"]
        secrets.append(ticket)

        ws = f"ws://{host}/ws/inventory/"
        assert _subscribed(f"{ws}?token={token}", warehouse.pk)["type"] == "subscribed"
        assert _subscribed(f"{ws}?ticket={ticket}", warehouse.pk)["type"] == "subscribed"
        assert _subscribed(f"{ws}?ticket={from_this_process}", warehouse.pk)["type"] == "subscribed"
        assert _refused(f"{ws}?ticket={ticket}") == 403  # used
        assert _refused(f"{ws}?token={token}x") == 403
        secrets.append(f"{token}x")

    text = log.read_text()
    for secret in secrets:
        assert secret not in text
    # The lines are there, redacted: the test would see a leak.
    assert f'"GET /health?token={REDACTED} HTTP/1.1" 200' in text
    assert f'"GET /api/v1/no-such-thing?token={REDACTED}&x=1 HTTP/1.1" 404' in text
    assert f'"POST {TICKETS}?token={REDACTED} HTTP/1.1" 201' in text
    assert f'"WebSocket /ws/inventory/?token={REDACTED}" [accepted]' in text
    assert text.count(f'"WebSocket /ws/inventory/?ticket={REDACTED}" [accepted]') == 2
    assert f'"WebSocket /ws/inventory/?ticket={REDACTED}" 403' in text
    assert f'"WebSocket /ws/inventory/?token={REDACTED}" 403' in text
