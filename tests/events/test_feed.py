"""``GET /api/v1/events``: oldest first, resumable, never a gap or a repeat, even out of commit order."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from inventory import services
from inventory.events import purge_events
from inventory.models import Event
from reservations import services as reservations
from reservations.services import LineRequest
from tests.factories import WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/events"


def _newest() -> int:
    return Event.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _adjust(item, change: int) -> None:
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=change)


def _drain(client, after: int, **params) -> tuple[list[dict], int]:
    """Follow ``next_after`` until a page comes back empty."""
    seen: list[dict] = []
    while True:
        body = client.get(URL, {"after": after, **params}).json()
        seen += body["results"]
        if not body["results"]:
            return seen, body["next_after"]
        after = body["next_after"]


def test_both_roles_read_the_feed_oldest_first_and_page_with_next_after(storefront_api, warehouse_api):
    item = stocked_item(50, reorder_point=0)
    start = _newest()
    for _ in range(5):
        _adjust(item, -1)
    first = storefront_api.get(URL, {"after": start, "limit": 2}).json()
    assert [e["data"]["available_quantity"] for e in first["results"]] == [49, 48]
    assert first["next_after"] == first["results"][-1]["id"]
    rest, _ = _drain(warehouse_api, first["next_after"])
    assert [e["data"]["available_quantity"] for e in rest] == [47, 46, 45]
    event = rest[0]
    assert set(event) == {"id", "type", "created_at", "product_id", "warehouse_id", "data"}
    assert (event["type"], event["product_id"], event["warehouse_id"]) == (
        "inventory.updated",
        item.product_id,
        item.warehouse_id,
    )
    ids = [e["id"] for e in first["results"] + rest]
    assert ids == sorted(ids) and len(set(ids)) == 5


def test_filters_by_type_family_product_and_warehouse(storefront_api, storefront_user):
    a, b = WarehouseFactory(), WarehouseFactory()
    item = stocked_item(10, warehouse=a, reorder_point=0)
    other = stocked_item(10, warehouse=b, reorder_point=0)
    start = _newest()
    # The storefront's own reservation: it sees only its own reservation.* events.
    line = LineRequest(product_id=item.product_id, warehouse_id=a.pk, quantity=2)
    rid = reservations.reserve_stock(lines=[line], user=storefront_user).pk
    reservations.release_reservation(reservation_id=rid)
    _adjust(other, -1)

    def types(**params):
        return [e["type"] for e in _drain(storefront_api, start, **params)[0]]

    assert types(type="reservation.*") == ["reservation.created", "reservation.released"]
    assert types(type=["reservation.released", "inventory.updated"], warehouse_id=b.pk) == ["inventory.updated"]
    assert types(product_id=item.product_id) == [
        "inventory.updated",
        "reservation.created",
        "inventory.updated",
        "reservation.released",
    ]
    assert len(types(type="*")) == 5
    # A filtered reader still moves past what it skipped.
    _, next_after = _drain(storefront_api, start, type="transfer.*")
    assert next_after == _newest()


@pytest.mark.parametrize(
    "params",
    [{"limit": 0}, {"limit": 1001}, {"after": -1}, {"type": "nope"}, {"type": "inventory.*x"}, {"product_id": "x"}],
)
def test_bad_parameters_are_a_400(storefront_api, params):
    response = storefront_api.get(URL, params)
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_the_feed_needs_a_role(anon_api, plain_api):
    assert anon_api.get(URL).status_code == 401
    assert plain_api.get(URL).status_code == 403


def test_tail_opens_with_the_latest_matching_events(storefront_api):
    item = stocked_item(20, reorder_point=0)
    for _ in range(4):
        _adjust(item, -1)
    body = storefront_api.get(URL, {"tail": 2, "type": "inventory.updated", "product_id": item.product_id}).json()
    assert [e["data"]["available_quantity"] for e in body["results"]] == [17, 16]


def test_two_transactions_committing_out_of_id_order_are_read_once_each_and_none_skipped(storefront_api):
    """T1 writes first (smaller id) but commits last: a reader in between must not move past T1's event."""
    early, late = stocked_item(10, reorder_point=0), stocked_item(10, reorder_point=0)
    start = _newest()
    t1_wrote, t2_committed, release_t1 = threading.Event(), threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def t1() -> None:
        try:
            with transaction.atomic():
                _adjust(early, -1)
                t1_wrote.set()
                release_t1.wait(30)
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def t2() -> None:
        try:
            t1_wrote.wait(30)
            _adjust(late, -2)
            t2_committed.set()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=t1), threading.Thread(target=t2)]
    for thread in threads:
        thread.start()
    assert t2_committed.wait(30)
    committed = Event.objects.get(id__gt=start, item_id=late.pk)
    # T2 committed, but T1 (which took an earlier id) is still open: the reader gets neither yet.
    page = storefront_api.get(URL, {"after": start}).json()
    assert page["results"] == [] and page["next_after"] == start
    release_t1.set()
    for thread in threads:
        thread.join(30)
    assert not errors
    seen, _ = _drain(storefront_api, page["next_after"])
    assert [(e["data"]["id"], e["data"]["available_quantity"]) for e in seen] == [(early.pk, 9), (late.pk, 8)]
    assert seen[1]["id"] == committed.id and seen[0]["id"] < seen[1]["id"]


def test_concurrent_writers_and_a_polling_reader_see_every_event_exactly_once(storefront_api):
    items = [stocked_item(1000, reorder_point=0) for _ in range(4)]
    start = _newest()
    done = threading.Event()
    seen: list[int] = []

    def writer(item) -> None:
        try:
            for _ in range(25):
                _adjust(item, -1)
        finally:
            connection.close()

    def reader() -> None:
        after = start
        try:
            while True:
                finished = done.is_set()
                body = storefront_api.get(URL, {"after": after, "limit": 7}).json()
                seen.extend(e["id"] for e in body["results"])
                after = body["next_after"]
                if finished and not body["results"]:
                    return
        finally:
            connection.close()

    writers = [threading.Thread(target=writer, args=(item,)) for item in items]
    poller = threading.Thread(target=reader)
    poller.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join(60)
    done.set()
    poller.join(60)
    expected = list(Event.objects.filter(id__gt=start).order_by("id").values_list("id", flat=True))
    assert len(expected) == 100
    assert seen == expected  # every event, once, in order


def test_purged_events_answer_410_to_a_reader_left_behind(storefront_api):
    item = stocked_item(10, reorder_point=0)
    start = _newest()
    _adjust(item, -1)
    _adjust(item, -1)
    old = Event.objects.filter(id__gt=start).order_by("id")
    first = old[0].id
    Event.objects.filter(id=first).update(created_at=timezone.now() - timedelta(days=8))
    assert purge_events(older_than_days=7) >= 1
    response = storefront_api.get(URL, {"after": start})
    assert response.status_code == 410 and response.json()["code"] == "events_expired"
    # A reader that already had the purged event carries on.
    assert [e["data"]["available_quantity"] for e in storefront_api.get(URL, {"after": first}).json()["results"]] == [8]
