"""The transfers API: paths, fields, status codes, roles, idempotency; nothing changes on error."""

import uuid

import pytest

from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from tests.transfers.support import ledger, quantities, snapshot
from transfers import services
from transfers.models import Transfer

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/transfer"
FIELDS = {
    "id",
    "product_id",
    "from_warehouse_id",
    "to_warehouse_id",
    "quantity",
    "status",
    "notes",
    "requested_by",
    "created_at",
    "started_at",
    "completed_at",
    "cancelled_at",
}


def _body(setup, quantity=5, **extra) -> dict:
    return {
        "product_id": setup.product.pk,
        "from_warehouse_id": setup.source.pk,
        "to_warehouse_id": setup.destination.pk,
        "quantity": quantity,
        **extra,
    }


def test_create_read_and_walk_a_transfer_through_its_states(warehouse_api, warehouse_user, setup):
    response = warehouse_api.post(URL, _body(setup, 5, requested_by="Store 12", notes="Weekend"), format="json")
    assert response.status_code == 201, response.json()
    created = response.json()
    assert set(created) == FIELDS
    assert created["status"] == "pending" and created["quantity"] == 5
    assert (created["product_id"], created["from_warehouse_id"], created["to_warehouse_id"]) == (
        setup.product.pk,
        setup.source.pk,
        setup.destination.pk,
    )
    assert (created["requested_by"], created["notes"]) == ("Store 12", "Weekend")
    assert created["started_at"] is None and created["completed_at"] is None and created["cancelled_at"] is None
    assert Transfer.objects.get(pk=created["id"]).created_by == warehouse_user
    assert quantities(setup.product, setup.source) == (15, 5, 20)

    detail = warehouse_api.get(f"{URL}/{created['id']}")
    assert detail.status_code == 200 and detail.json() == created

    started = warehouse_api.post(f"{URL}/{created['id']}/start")
    assert started.status_code == 200 and started.json()["status"] == "in_transit"
    assert started.json()["started_at"] is not None
    assert quantities(setup.product, setup.source) == (15, 0, 15)

    completed = warehouse_api.post(f"{URL}/{created['id']}/complete")
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    assert quantities(setup.product, setup.destination) == (5, 0, 5)
    assert ledger(setup.product, setup.destination) == [("transfer", 5, 0, 5, "transfer", created["id"])]
    assert ledger_drift() == []


def test_cancel_through_the_api(warehouse_api, setup):
    transfer = services.create_transfer(**setup.create_kwargs(4))
    response = warehouse_api.post(f"{URL}/{transfer.pk}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    assert response.json()["cancelled_at"] is not None
    assert quantities(setup.product, setup.source) == (20, 0, 20)
    assert ledger_drift() == []


@pytest.mark.parametrize(
    ("history", "attempt"),
    [([], "complete"), (["cancel"], "start"), (["start", "complete"], "cancel"), (["start"], "start")],
)
def test_forbidden_transitions_are_409_and_change_nothing(warehouse_api, setup, history, attempt):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    for step in history:
        assert warehouse_api.post(f"{URL}/{transfer.pk}/{step}").status_code == 200
    before = snapshot()
    response = warehouse_api.post(f"{URL}/{transfer.pk}/{attempt}")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "invalid_transition" and body["detail"] and body["transfer_id"] == str(transfer.pk)
    assert snapshot() == before


@pytest.mark.parametrize(
    "change",
    [
        {"to_warehouse_id": "same"},
        {"quantity": 0},
        {"quantity": -1},
        {"quantity": "x"},
        {"quantity": 1.5},
        {"quantity": 2**31},
        {"quantity": None},
        {"product_id": "abc"},
        {"from_warehouse_id": 0},
        {"notes": "n" * 5001},
        {"drop": "quantity"},
        {"drop": "product_id"},
    ],
)
def test_invalid_bodies_are_400_and_hold_nothing(warehouse_api, setup, change):
    body = _body(setup)
    if change.get("to_warehouse_id") == "same":
        change = {"to_warehouse_id": setup.source.pk}
    if "drop" in change:
        body.pop(change.pop("drop"))
    before = snapshot()
    response = warehouse_api.post(URL, {**body, **change}, format="json")
    assert response.status_code == 400, response.json()
    payload = response.json()
    assert payload["code"] == "invalid" and payload["errors"]
    assert snapshot() == before


def test_a_json_list_or_broken_json_is_400(warehouse_api, setup):
    assert warehouse_api.post(URL, "[1]", content_type="application/json").status_code == 400
    response = warehouse_api.post(URL, "{nope", content_type="application/json")
    assert response.status_code == 400 and response.json()["code"] == "malformed_request"


@pytest.mark.parametrize("field", ["product_id", "from_warehouse_id", "to_warehouse_id"])
def test_unknown_product_or_warehouse_is_404(warehouse_api, setup, field):
    before = snapshot()
    response = warehouse_api.post(URL, {**_body(setup), field: 999_999_999}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert snapshot() == before


def test_not_enough_stock_is_409_and_holds_nothing(warehouse_api, setup):
    before = snapshot()
    response = warehouse_api.post(URL, _body(setup, 21), format="json")
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert snapshot() == before
    # A source that never stocked the product has 0 available.
    response = warehouse_api.post(URL, _body(setup, 1, from_warehouse_id=WarehouseFactory().pk), format="json")
    assert response.status_code == 409 and response.json()["code"] == "insufficient_stock"
    assert Transfer.objects.count() == 0


@pytest.mark.parametrize("transfer_id", [str(uuid.uuid4()), "not-a-uuid", "123"])
def test_unknown_or_malformed_ids_are_404_json(warehouse_api, setup, transfer_id):
    response = warehouse_api.get(f"{URL}/{transfer_id}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    for step in ("start", "complete", "cancel"):
        response = warehouse_api.post(f"{URL}/{transfer_id}/{step}")
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_list_newest_first_filtered_by_status_and_either_warehouse(warehouse_api, setup):
    first = services.create_transfer(**setup.create_kwargs(1))
    second = services.create_transfer(**setup.create_kwargs(2))
    services.start_transfer(transfer_id=second.pk)
    elsewhere_product = ProductFactory()
    elsewhere = stocked_item(5, product=elsewhere_product)
    other_destination = WarehouseFactory()
    third = services.create_transfer(
        product_id=elsewhere_product.pk,
        from_warehouse_id=elsewhere.warehouse_id,
        to_warehouse_id=other_destination.pk,
        quantity=1,
    )

    body = warehouse_api.get(URL).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert [t["id"] for t in body["results"]] == [str(third.pk), str(second.pk), str(first.pk)]
    assert set(body["results"][0]) == FIELDS

    pending = warehouse_api.get(f"{URL}?status=pending").json()
    assert [t["id"] for t in pending["results"]] == [str(third.pk), str(first.pk)]
    as_source = warehouse_api.get(f"{URL}?warehouse_id={setup.source.pk}").json()
    assert [t["id"] for t in as_source["results"]] == [str(second.pk), str(first.pk)]
    as_destination = warehouse_api.get(f"{URL}?warehouse_id={other_destination.pk}&status=pending").json()
    assert [t["id"] for t in as_destination["results"]] == [str(third.pk)]
    assert warehouse_api.get(f"{URL}?status=completed").json()["count"] == 0

    page = warehouse_api.get(f"{URL}?page_size=2").json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"]


@pytest.mark.parametrize("query", ["status=shipped", "warehouse_id=abc", "warehouse_id=0", "page=9"])
def test_bad_list_queries(warehouse_api, setup, query):
    response = warehouse_api.get(f"{URL}?{query}")
    expected = 404 if query.startswith("page") else 400
    assert response.status_code == expected and response.json()["code"] in {"invalid", "not_found"}


def test_list_query_count_does_not_grow_with_rows(warehouse_api, setup, django_assert_max_num_queries):
    for _ in range(10):
        services.create_transfer(**setup.create_kwargs(1))
    with django_assert_max_num_queries(5):
        assert warehouse_api.get(URL).json()["count"] == 10


def _endpoints(transfer_id: str) -> list[tuple[str, str]]:
    return [
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}/{transfer_id}"),
        ("post", f"{URL}/{transfer_id}/start"),
        ("post", f"{URL}/{transfer_id}/complete"),
        ("post", f"{URL}/{transfer_id}/cancel"),
    ]


def test_only_warehouse_staff_may_use_transfers(storefront_api, anon_api, plain_api, setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    before = snapshot()
    for method, url in _endpoints(str(transfer.pk)):
        body = _body(setup) if url == URL and method == "post" else None
        for client, status, code in (
            (storefront_api, 403, "permission_denied"),
            (plain_api, 403, "permission_denied"),
            (anon_api, 401, "not_authenticated"),
        ):
            response = getattr(client, method)(url, body, format="json")
            assert (response.status_code, response.json()["code"]) == (status, code), (method, url)
    assert snapshot() == before


def test_idempotent_create_holds_once(warehouse_api, setup):
    first = warehouse_api.post(URL, _body(setup, 5), format="json", HTTP_IDEMPOTENCY_KEY="transfer-1")
    second = warehouse_api.post(URL, _body(setup, 5), format="json", HTTP_IDEMPOTENCY_KEY="transfer-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json() and second["Idempotent-Replayed"] == "true"
    assert Transfer.objects.count() == 1
    assert quantities(setup.product, setup.source) == (15, 5, 20)
    reused = warehouse_api.post(URL, _body(setup, 6), format="json", HTTP_IDEMPOTENCY_KEY="transfer-1")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert ledger_drift() == []


def test_a_retried_transition_replays_instead_of_conflicting(warehouse_api, setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    url = f"{URL}/{transfer.pk}/start"
    first = warehouse_api.post(url, HTTP_IDEMPOTENCY_KEY="start-1")
    again = warehouse_api.post(url, HTTP_IDEMPOTENCY_KEY="start-1")
    assert first.status_code == again.status_code == 200 and first.json() == again.json()
    assert warehouse_api.post(url).status_code == 409  # without the key it is a second start
    assert quantities(setup.product, setup.source) == (15, 0, 15)


def test_the_schema_documents_every_transfer_endpoint(client):
    spec = client.get("/api/schema/?format=json").json()
    paths = spec["paths"]
    create = paths["/api/v1/inventory/transfer"]["post"]
    assert {"201", "400", "401", "403", "404", "409"} <= set(create["responses"])
    assert {"200", "400", "401", "403"} <= set(paths["/api/v1/inventory/transfer"]["get"]["responses"])
    assert {"200", "404"} <= set(paths["/api/v1/inventory/transfer/{transfer_id}"]["get"]["responses"])
    for step in ("start", "complete", "cancel"):
        responses = paths[f"/api/v1/inventory/transfer/{{transfer_id}}/{step}"]["post"]["responses"]
        assert {"200", "400", "401", "403", "404", "409"} <= set(responses)
