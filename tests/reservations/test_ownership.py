"""Reservation ownership: a storefront sees and acts only on the reservations it created.

Another storefront's reservation answers exactly like an unknown id (404 ``not_found``) and nothing
changes; the owner and warehouse staff succeed. The change feed shows a storefront only its own
``reservation.*`` events, and the reservation admin is for warehouse staff only.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.models import Event, InventoryItem, InventoryTransaction
from inventory.roles import STOREFRONT_GROUP, sync_roles
from inventory.selectors import ledger_drift
from reservations.models import StockReservation
from tests.events.support import Api
from tests.factories import UserFactory, stocked_item
from tests.processes import service_env, serving_asgi

pytestmark = pytest.mark.django_db(transaction=True)

RESERVE = "/api/v1/inventory/reserve"
# action -> (HTTP method, path suffix, body)
ACTIONS = {
    "get": ("get", "", None),
    "confirm": ("post", "/confirm", None),
    "release": ("post", "/release", None),
    "extend": ("post", "/extend", {"expires_in": 3600}),
}


def _storefront_user(**kwargs):
    sync_roles(django_apps)  # transactional tests flush the groups too
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=STOREFRONT_GROUP))
    return user


def _client(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def owner():
    return _storefront_user()


@pytest.fixture
def owner_api(owner) -> APIClient:
    return _client(owner)


@pytest.fixture
def other_api() -> APIClient:
    """A second storefront, with a token of its own."""
    return _client(_storefront_user())


def _reserve(client, item, quantity: int = 3, **extra) -> str:
    body = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": quantity, **extra}
    response = client.post(RESERVE, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def _act(client, action: str, reservation_id: str, **headers):
    method, suffix, body = ACTIONS[action]
    url = f"{RESERVE}/{reservation_id}{suffix}"
    if method == "get":
        return client.get(url, **headers)
    return client.post(url, body, format="json", **headers)


def _state(reservation_id: str, item) -> dict:
    """Everything an action could change: stock, the reservation, the ledger and the event log."""
    item = InventoryItem.objects.get(pk=item.pk)
    reservation = StockReservation.objects.get(pk=reservation_id)
    return {
        "stock": (item.available_quantity, item.reserved_quantity, item.total_quantity),
        "reservation": (reservation.status, reservation.expires_at, reservation.released_at, reservation.fulfilled_at),
        "ledger": InventoryTransaction.objects.count(),
        "events": Event.objects.count(),
    }


def _not_found(reservation_id: str) -> dict:
    return {"code": "not_found", "detail": f"Unknown reservation {reservation_id}.", "reservation_id": reservation_id}


@pytest.mark.parametrize("with_key", [False, True], ids=["no-key", "idempotency-key"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_another_storefront_gets_404_and_nothing_changes(owner_api, other_api, action, with_key):
    item = stocked_item(10)
    rid = _reserve(owner_api, item)
    before = _state(rid, item)
    headers = {"HTTP_IDEMPOTENCY_KEY": f"{action}-1"} if with_key else {}

    response = _act(other_api, action, rid, **headers)
    assert response.status_code == 404
    assert response.json() == _not_found(rid)
    # Exactly what an id that does not exist answers: the two cannot be told apart.
    unknown = str(uuid.uuid4())
    assert _act(other_api, action, unknown).json() == _not_found(unknown)
    if with_key:
        retry = _act(other_api, action, rid, **headers)
        assert (retry.status_code, retry.json()) == (404, _not_found(rid))
    assert _state(rid, item) == before

    # The owner's reservation is intact and still works, even with the same key (keys are per user).
    response = _act(owner_api, action, rid, **headers)
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == rid
    assert ledger_drift() == []


@pytest.mark.parametrize("actor", ["owner", "warehouse"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_owner_and_warehouse_staff_act_on_it(owner_api, warehouse_api, action, actor):
    client = owner_api if actor == "owner" else warehouse_api
    item = stocked_item(10)
    rid = _reserve(owner_api, item, quantity=3)
    expires_at = StockReservation.objects.get(pk=rid).expires_at

    response = _act(client, action, rid)
    assert response.status_code == 200, response.json()
    body = response.json()
    reservation = StockReservation.objects.get(pk=rid)
    stock = _state(rid, item)["stock"]
    if action == "get":
        assert body["status"] == "active" and stock == (7, 3, 10)
    elif action == "confirm":
        assert body["status"] == reservation.status == "fulfilled" and stock == (7, 0, 7)
    elif action == "release":
        assert body["status"] == reservation.status == "released" and stock == (10, 0, 10)
    else:
        assert body["status"] == "active" and reservation.expires_at > expires_at and stock == (7, 3, 10)
    assert ledger_drift() == []


def test_another_storefront_cannot_expire_an_overdue_reservation(owner_api, other_api):
    """Reading or confirming an overdue hold expires it on the spot, but only for who may see it."""
    item = stocked_item(10)
    rid = _reserve(owner_api, item, quantity=4)
    now = timezone.now()
    StockReservation.objects.filter(pk=rid).update(
        created_at=now - timedelta(minutes=5), expires_at=now - timedelta(seconds=1)
    )
    before = _state(rid, item)
    for action in ACTIONS:
        assert _act(other_api, action, rid).status_code == 404
    assert _state(rid, item) == before
    assert before["reservation"][0] == "active" and before["stock"] == (6, 4, 10)

    assert owner_api.get(f"{RESERVE}/{rid}").json()["status"] == "expired"
    assert _state(rid, item)["stock"] == (10, 0, 10)


def test_the_feed_shows_a_storefront_only_its_own_reservation_events(owner, owner_api, other_api, warehouse_api):
    item = stocked_item(20, reorder_point=0)
    start = Event.objects.order_by("-id").values_list("id", flat=True).first() or 0
    mine = _reserve(owner_api, item, quantity=1, order_id="ORD-MINE")
    theirs = _reserve(other_api, item, quantity=2, order_id="ORD-THEIRS")
    assert other_api.post(f"{RESERVE}/{theirs}/release").status_code == 200
    assert owner_api.post(f"{RESERVE}/{mine}/confirm").status_code == 200

    def reservation_events(client, **params) -> list[tuple[str, str]]:
        body = client.get("/api/v1/events", {"after": start, "type": "reservation.*", **params}).json()
        return [(e["type"], e["data"]["order_id"]) for e in body["results"]]

    assert reservation_events(owner_api) == [("reservation.created", "ORD-MINE"), ("reservation.confirmed", "ORD-MINE")]
    assert reservation_events(other_api) == [
        ("reservation.created", "ORD-THEIRS"),
        ("reservation.released", "ORD-THEIRS"),
    ]
    assert len(reservation_events(warehouse_api)) == 4
    # A page that opens with history counts only what the reader may see.
    tail = owner_api.get("/api/v1/events", {"tail": 1, "type": "reservation.*"}).json()["results"]
    assert [(e["type"], e["data"]["id"], e["data"]["created_by"]) for e in tail] == [
        ("reservation.confirmed", mine, owner.pk)
    ]
    # Stock changes are everyone's: the other storefront sees the item move with the owner's hold.
    everything = other_api.get("/api/v1/events", {"after": start, "product_id": item.product_id}).json()["results"]
    levels = [e["data"]["available_quantity"] for e in everything if e["type"] == "inventory.updated"]
    assert levels == [19, 17, 19, 19]


def test_the_reservation_admin_is_for_warehouse_staff_only(client, owner_api, warehouse_user):
    item = stocked_item(10)
    rid = _reserve(owner_api, item, quantity=2, order_id="ORD-ADMIN")
    changelist = reverse("admin:reservations_stockreservation_changelist")
    change = reverse("admin:reservations_stockreservation_change", args=[rid])

    # A storefront account that can log into the admin still sees no reservations there.
    client.force_login(_storefront_user(is_staff=True))
    assert client.get(changelist).status_code == 403
    assert client.get(change).status_code == 403
    assert client.post(changelist, {"action": "release_selected", "_selected_action": [rid]}).status_code == 403
    assert changelist not in client.get(reverse("admin:index")).content.decode()
    assert StockReservation.objects.get(pk=rid).status == "active"

    client.force_login(warehouse_user)
    assert "ORD-ADMIN" in client.get(changelist).content.decode()


@pytest.mark.slow
def test_through_the_real_server_another_storefront_gets_404(tmp_path):
    item = stocked_item(10)
    token_a = Token.objects.create(user=_storefront_user()).key
    token_b = Token.objects.create(user=_storefront_user()).key
    with serving_asgi(service_env(CACHE_KEY_PREFIX=settings.KEY_PREFIX), tmp_path / "server.log") as base_url:
        a, b = Api(base_url, token_a), Api(base_url, token_b)
        held = a.post(RESERVE, {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "quantity": 2})
        assert held.status == 201, held
        rid = held.body["id"]

        answers = [
            b.get(f"{RESERVE}/{rid}"),
            b.post(f"{RESERVE}/{rid}/confirm"),
            b.post(f"{RESERVE}/{rid}/release"),
            b.post(f"{RESERVE}/{rid}/extend", {"expires_in": 60}),
        ]
        assert [(answer.status, answer.body) for answer in answers] == [(404, _not_found(rid))] * 4
        assert a.get(f"{RESERVE}/{rid}").body["status"] == "active"
        assert a.get(f"/api/v1/inventory/{item.product_id}").body["available_quantity"] == 8
        confirmed = a.post(f"{RESERVE}/{rid}/confirm")
        assert (confirmed.status, confirmed.body["status"]) == (200, "fulfilled")
