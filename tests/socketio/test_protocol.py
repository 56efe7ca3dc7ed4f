"""The Socket.IO protocol through python-socketio's client, against real uvicorn servers and a real relay
process: credentials and refusals, subscribe / unsubscribe with acknowledgements, bad events that leave the
connection open, both transports, ``since``, the subscription limit, and two server processes over Redis."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import pytest
import socketio

from inventory.consumers import MAX_SUBSCRIPTIONS
from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import WAIT, rest_adjust, session_cookie, settled, token_for, unique_product
from tests.socketio.support import Client, connected

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _adjust(host: str, token: str, item, change: int) -> dict:
    return rest_adjust(host, token, product_id=item.product_id, warehouse_id=item.warehouse_id, change=change)


def _handshake(host: str, headers: dict[str, str]) -> tuple[int, str]:
    """An Engine.IO handshake over plain HTTP: its status and body."""
    request = urllib.request.Request(f"http://{host}/socket.io/?EIO=4&transport=polling", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


async def _refusal(host: str, **kwargs) -> dict:
    client = Client()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(host, **kwargs)
    return client.refusal


def test_refused_handshakes_get_connect_error_with_a_clear_message(start_server, plain_user):
    host = start_server()
    no_role = token_for(plain_user)

    async def scenario() -> list[dict]:
        return [
            await _refusal(host, auth={"token": "not-a-token"}),
            await _refusal(host),
            await _refusal(host, auth={"token": no_role}),
            await _refusal(host, auth={"ticket": 12}),
        ]

    bad_token, nothing, no_role_refusal, bad_auth = asyncio.run(scenario())
    detail = "Invalid token (unknown, or its user is inactive)."
    assert bad_token == {"message": detail, "data": {"code": "authentication_failed", "detail": detail}}
    assert nothing["data"]["code"] == "not_authenticated"
    assert nothing["message"].startswith("Authentication required")
    assert no_role_refusal["data"] == {
        "code": "permission_denied",
        "detail": "Your account has no inventory role (storefront or warehouse).",
    }
    assert bad_auth["data"]["code"] == "invalid_auth"


def test_a_ticket_opens_one_connection_and_the_session_cookie_works(start_server, storefront_user, warehouse_user):
    host = start_server()
    headers = {"Authorization": f"Token {token_for(storefront_user)}"}
    request = urllib.request.Request(f"http://{host}/api/v1/ws-tickets", method="POST", headers=headers)
    with urllib.request.urlopen(request, timeout=WAIT) as response:
        ticket = json.load(response)["ticket"]
    cookie = session_cookie(warehouse_user)

    async def scenario() -> tuple[dict, dict, dict, dict]:
        by_ticket = await Client().connect(host, auth={"ticket": ticket})
        ticket_ack = await by_ticket.call("subscribe:low-stock", {})
        await by_ticket.close()
        used_again = await _refusal(host, auth={"ticket": ticket})
        by_session = await Client().connect(host, headers={"Cookie": cookie})
        session_ack = await by_session.call("subscribe:low-stock", {"warehouse_id": "3"})
        await by_session.close()
        # A page of another site cannot use the cookie: its handshake is refused for its origin.
        other_site = await asyncio.to_thread(_handshake, host, {"Cookie": cookie, "Origin": "http://evil.example"})
        return ticket_ack, used_again, session_ack, other_site

    ticket_ack, used_again, session_ack, other_site = asyncio.run(scenario())
    assert ticket_ack["ok"] is True and ticket_ack["room"] == "inventory.low_stock"
    assert used_again["data"] == {
        "code": "authentication_failed",
        "detail": "Invalid ticket (unknown, expired or already used).",
    }
    assert session_ack["ok"] is True and session_ack["room"] == "inventory.low_stock.3"
    assert session_ack["warehouse_id"] == 3
    assert other_site == (400, '"http://evil.example is not an accepted origin."')


def test_a_bad_subscription_answers_error_and_the_connection_stays_open(start_server, warehouse_user, storefront_user):
    item = stocked_item(10, product=unique_product(), warehouse=WarehouseFactory())
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host = start_server()
    settled()

    async def scenario():
        client = await connected(host, reader)
        try:
            refused = await client.call("subscribe:inventory", {"product_id": "abc"})
            error = await client.next()
            not_an_object = await client.call("subscribe:low-stock", "12")
            unknown = await client.call("subscribe:everything", {})
            ack = await client.call(
                "subscribe:inventory", {"product_id": str(item.product_id), "warehouse_id": str(item.warehouse_id)}
            )
            body = await asyncio.to_thread(_adjust, host, writer, item, -4)
            update = await client.next_of("inventory:update")
        finally:
            await client.close()
        return refused, error, not_an_object, unknown, ack, body, update

    refused, error, not_an_object, unknown, ack, body, update = asyncio.run(scenario())
    assert refused == {
        "ok": False,
        "code": "invalid_field",
        "detail": 'product_id must be a positive integer, got "abc".',
        "event": "subscribe:inventory",
    }
    assert error == ("error", refused)  # the error event too, for clients that pass no callback
    assert (not_an_object["code"], unknown["code"]) == ("invalid_message", "unknown_event")
    assert ack["ok"] is True
    assert ack["room"] == f"inventory.product.{item.product_id}.warehouse.{item.warehouse_id}"
    assert (ack["product_id"], ack["warehouse_id"]) == (item.product_id, item.warehouse_id)  # the strings as ids
    assert isinstance(ack["last_event_id"], int)
    assert body["available_quantity"] == 6
    event_id = update.pop("event_id")
    assert update == body  # the item JSON exactly as the API returns it, plus event_id
    assert event_id > ack["last_event_id"]


@pytest.mark.parametrize("transport", ["polling", "websocket"])
def test_updates_and_alerts_reach_each_transport(start_server, warehouse_user, storefront_user, transport):
    here = WarehouseFactory()
    item = stocked_item(20, product=unique_product(), warehouse=here, reorder_point=10)
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host = start_server()
    settled()

    async def scenario():
        client = await connected(host, reader, transports=[transport])
        try:
            assert client.sio.transport() == transport
            await client.call("subscribe:inventory", {"product_id": item.product_id})
            await client.call("subscribe:low-stock", {"warehouse_id": here.pk})
            body = await asyncio.to_thread(_adjust, host, writer, item, -13)  # 7: at or below the reorder point
            heard: dict[str, dict] = {}
            while len(heard) < 2:
                event, data = await client.next()
                heard[event] = data
        finally:
            await client.close()
        return body, heard

    body, heard = asyncio.run(scenario())
    update, alert = heard["inventory:update"], heard["low-stock:alert"]
    assert {k: v for k, v in update.items() if k != "event_id"} == body
    assert {k: alert[k] for k in ("product_id", "warehouse_id", "current_quantity", "reorder_point", "sku")} == {
        "product_id": item.product_id,
        "warehouse_id": here.pk,
        "current_quantity": 7,
        "reorder_point": 10,
        "sku": item.product.sku,
    }
    assert isinstance(alert["alert_id"], int) and isinstance(alert["event_id"], int)


def test_since_replays_what_a_client_missed_then_goes_live(start_server, warehouse_user, storefront_user):
    here = WarehouseFactory()
    item = stocked_item(30, product=unique_product(), warehouse=here)
    other = stocked_item(30, product=unique_product(), warehouse=here)
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host = start_server()
    settled()

    async def scenario():
        client = await connected(host, reader)
        await client.call("subscribe:warehouse", {"warehouse_id": here.pk})
        await asyncio.to_thread(_adjust, host, writer, item, -1)
        first = await client.next_of("inventory:update")
        await client.close()
        # Disconnected: two changes happen.
        missed = [await asyncio.to_thread(_adjust, host, writer, i, c) for i, c in ((other, -2), (item, -3))]
        await asyncio.to_thread(settled)
        client = await connected(host, reader)
        try:
            resume = {"warehouse_id": str(here.pk), "since": str(first["event_id"])}  # strings, as the seed sends
            ack = await client.call("subscribe:warehouse", resume)
            replayed = [await client.next(), await client.next()]
            live_body = await asyncio.to_thread(_adjust, host, writer, other, -5)
            live = await client.next_of("inventory:update")
        finally:
            await client.close()
        return first, missed, ack, replayed, live_body, live

    first, missed, ack, replayed, live_body, live = asyncio.run(scenario())
    assert [name for name, _ in replayed] == ["inventory:update", "inventory:update"]
    assert [{k: v for k, v in data.items() if k not in ("event_id", "replay")} for _, data in replayed] == missed
    assert all(data["replay"] is True for _, data in replayed)
    assert (ack["ok"], ack["since"], ack["replayed"]) == (True, first["event_id"], 2)
    assert first["event_id"] < replayed[0][1]["event_id"] < replayed[1][1]["event_id"] <= ack["last_event_id"]
    assert live["available_quantity"] == live_body["available_quantity"] == 23
    assert "replay" not in live and live["event_id"] > ack["last_event_id"]


def test_unsubscribe_stops_updates_and_subscriptions_are_limited(start_server, warehouse_user, storefront_user):
    here = WarehouseFactory()
    left = stocked_item(10, product=unique_product(), warehouse=here)
    kept = stocked_item(10, product=unique_product(), warehouse=here)
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host = start_server()
    settled()

    async def scenario():
        client = await connected(host, reader)
        try:
            await client.call("subscribe:inventory", {"product_id": left.product_id})
            await client.call("subscribe:inventory", {"product_id": kept.product_id})
            gone = await client.call("unsubscribe:inventory", {"product_id": str(left.product_id)})
            await asyncio.to_thread(_adjust, host, writer, left, -1)
            await asyncio.to_thread(_adjust, host, writer, kept, -2)
            # The change of the product left comes first in the feed: had it been sent, it would be first here.
            first = await client.next_of("inventory:update")
            acks = [await client.call("subscribe:warehouse", {"warehouse_id": n}) for n in range(1, MAX_SUBSCRIPTIONS)]
            over = await client.call("subscribe:warehouse", {"warehouse_id": MAX_SUBSCRIPTIONS})
        finally:
            await client.close()
        return gone, first, acks, over

    gone, first, acks, over = asyncio.run(scenario())
    assert gone == {"ok": True, "room": f"inventory.product.{left.product_id}", "product_id": left.product_id}
    assert (first["product_id"], first["available_quantity"]) == (kept.product_id, 8)
    assert all(ack["ok"] for ack in acks)
    assert over["code"] == "too_many_subscriptions"


def test_a_change_made_through_one_server_reaches_a_client_of_another(start_server, warehouse_user, storefront_user):
    item = stocked_item(10, product=unique_product())
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    host_a, host_b = start_server(), start_server()
    settled()

    async def scenario():
        client = await connected(host_a, reader)
        try:
            await client.call("subscribe:inventory", {"product_id": item.product_id})
            body = await asyncio.to_thread(_adjust, host_b, writer, item, 5)
            return body, await client.next_of("inventory:update")
        finally:
            await client.close()

    body, update = asyncio.run(scenario())
    assert (update["id"], update["available_quantity"]) == (item.pk, 15)
    assert {k: v for k, v in update.items() if k != "event_id"} == body
