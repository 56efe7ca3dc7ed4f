"""Hostile or broken single requests are 4xx JSON errors with a stable code, and change nothing (issue 11 f)."""

import json
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory import services
from inventory.exceptions import InvalidInput
from inventory.models import IdempotencyKey, InventoryItem, InventoryTransaction, Product, Warehouse
from reservations.models import ReservationLine, StockReservation
from tests.factories import stocked_item
from transfers.models import Transfer

# Transactional: the after-commit cache refresh must run, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

MAX_COST = "99999999.99"  # the largest cost_per_unit (numeric(10, 2))


def _state() -> tuple:
    """Everything a refused request must leave untouched."""
    items = list(InventoryItem.objects.order_by("pk").values_list("pk", "available_quantity", "reserved_quantity"))
    counts = [
        m.objects.count() for m in (InventoryTransaction, StockReservation, ReservationLine, Transfer, IdempotencyKey)
    ]
    return items, counts, Product.objects.count(), Warehouse.objects.count()


def _post(api, url: str, body: str, **headers):
    return api.post(url, data=body, content_type="application/json", **headers)


def _error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and body["detail"]
    return body


@pytest.fixture
def item():
    return stocked_item(10)


def _adjust_url(item: InventoryItem) -> str:
    return f"/api/v1/inventory/{item.product_id}/adjust"


@pytest.mark.parametrize("endpoint", ["reserve", "adjust"])
def test_json_nested_deeper_than_the_decoder_can_go_is_a_malformed_request(warehouse_api, item, endpoint):
    url = "/api/v1/inventory/reserve" if endpoint == "reserve" else _adjust_url(item)
    before = _state()
    body = _error(_post(warehouse_api, url, "[" * 1100), 400, "malformed_request")
    assert "nested deeper than 64 levels" in body["detail"]
    assert _state() == before


def test_deep_nesting_inside_free_form_json_is_a_malformed_request(warehouse_api, item):
    attributes = "[" * 900 + "]" * 900  # parses, but rendering or storing it would exhaust the stack
    payload = f'{{"product_id": {item.product_id}, "quantity": 1, "product_attributes": {{"a": {attributes}}}}}'
    before = _state()
    _error(
        _post(warehouse_api, "/api/v1/inventory/reserve", payload, HTTP_IDEMPOTENCY_KEY="deep-1"),
        400,
        "malformed_request",
    )
    assert _state() == before


@pytest.mark.parametrize(("escape", "named"), [("\\u0000", "U+0000"), ("\\ud800", "U+D800")])
@pytest.mark.parametrize("where", ["value", "key"])
@pytest.mark.parametrize("shape", ["single", "items"])
def test_nul_or_a_lone_surrogate_in_product_attributes_is_invalid(storefront_api, item, escape, named, where, shape):
    attributes = f'{{"size": "M{escape}"}}' if where == "value" else f'{{"si{escape}ze": "M"}}'
    line = f'"product_id": {item.product_id}, "quantity": 2, "product_attributes": {attributes}'
    payload = f"{{{line}}}" if shape == "single" else f'{{"items": [{{{line}}}]}}'
    before = _state()
    body = _error(_post(storefront_api, "/api/v1/inventory/reserve", payload), 400, "invalid")
    path = "product_attributes" if shape == "single" else "items[0].product_attributes"
    if where == "value":
        assert body["errors"] == {f"{path}.size": [f"Must not contain the {_name(named)} {named}."]}
    else:
        assert body["errors"] == {path: [f"Keys must not contain the {_name(named)} {named}."]}
    assert body["detail"].startswith(f"Invalid input: {path}")
    assert _state() == before


def _name(code_point: str) -> str:
    return "null character" if code_point == "U+0000" else "unpaired surrogate"


@pytest.mark.parametrize("idempotency_key", [None, "checkout-surrogate"])
def test_a_lone_surrogate_that_a_validation_message_would_echo_is_invalid(storefront_api, item, idempotency_key):
    # DRF's choice error repeats the value; a lone surrogate cannot be encoded as UTF-8 for the response.
    payload = f'{{"product_id": {item.product_id}, "quantity": 1, "reservation_type": "\\udfff"}}'
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    before = _state()
    body = _error(_post(storefront_api, "/api/v1/inventory/reserve", payload, **headers), 400, "invalid")
    assert body["errors"] == {"reservation_type": ["Must not contain the unpaired surrogate U+DFFF."]}
    assert _state() == before


def test_a_valid_surrogate_pair_is_an_ordinary_character(storefront_api, item):
    payload = (
        f'{{"product_id": {item.product_id}, "quantity": 1, "product_attributes": {{"colour": "\\ud83d\\udfe5"}}}}'
    )
    response = _post(storefront_api, "/api/v1/inventory/reserve", payload)
    assert response.status_code == 201, response.json()
    assert response.json()["items"][0]["product_attributes"] == {"colour": "\U0001f7e5"}


def test_a_number_too_large_for_a_float_in_free_form_json_is_invalid(storefront_api, item):
    payload = f'{{"product_id": {item.product_id}, "quantity": 1, "product_attributes": {{"weight": 1e400}}}}'
    before = _state()
    body = _error(_post(storefront_api, "/api/v1/inventory/reserve", payload), 400, "invalid")
    assert body["errors"] == {"product_attributes.weight": ["Number out of range."]}
    assert _state() == before


@pytest.mark.parametrize(
    ("url", "payload", "field"),
    [
        ("/api/v1/products/", {"sku": "NUL-1", "name": "Mug\u0000"}, "name"),
        ("/api/v1/products/", {"sku": "NUL-2", "name": "Mug", "category": "Ho\u0000me"}, "category"),
        ("/api/v1/warehouses/", {"code": "NUL", "name": "North\u0000hub"}, "name"),
        ("adjust", {"quantity_change": 1, "transaction_type": "purchase", "reason": "PO\u0000"}, "reason"),
    ],
)
def test_a_null_character_in_a_text_field_is_invalid(warehouse_api, item, url, payload, field):
    if url == "adjust":
        url, payload = _adjust_url(item), {**payload, "warehouse_id": item.warehouse_id}
    before = _state()
    body = _error(_post(warehouse_api, url, json.dumps(payload)), 400, "invalid")
    assert body["errors"] == {field: ["Must not contain the null character U+0000."]}
    assert _state() == before


def test_a_barcode_with_a_null_character_is_not_found(storefront_api, item):
    body = _error(storefront_api.get("/api/v1/inventory/barcode/ab%00cd"), 404, "not_found")
    assert body["detail"] == "No product or item has barcode 'ab\\x00cd'."


def test_a_total_cost_the_ledger_cannot_hold_is_invalid_and_books_nothing(warehouse_api, item):
    def adjust(units: int):
        payload = {
            "warehouse_id": item.warehouse_id,
            "quantity_change": units,
            "transaction_type": "purchase",
            "cost_per_unit": MAX_COST,
        }
        return _post(warehouse_api, _adjust_url(item), json.dumps(payload))

    before = _state()
    body = _error(adjust(101), 400, "invalid")
    assert body["field"] == "cost_per_unit" and "cost_per_unit" in body["detail"]
    assert "9999999999.99" in body["detail"]
    assert _state() == before

    assert adjust(100).status_code == 200  # 9,999,999,999.00: the largest total that fits
    row = InventoryTransaction.objects.latest("id")
    assert (row.quantity_change, row.total_cost) == (100, Decimal("9999999999.00"))


def test_the_total_cost_limit_holds_for_every_caller_of_the_write_path(item, client, warehouse_user):
    before = _state()
    with pytest.raises(InvalidInput) as refused:
        services.receive_stock(
            product_id=item.product_id,
            warehouse_id=item.warehouse_id,
            quantity=2_000_000,
            details=services.LedgerDetails(cost_per_unit=Decimal("5000.00")),
        )
    assert refused.value.data == {"field": "cost_per_unit"}
    assert _state() == before

    client.force_login(warehouse_user)  # the admin's adjust form shows the refusal instead of a 500
    response = client.post(
        reverse("admin:inventory_inventoryitem_adjust", args=[item.pk]),
        {"quantity_change": "101", "transaction_type": "purchase", "cost_per_unit": MAX_COST},
    )
    assert response.status_code == 200
    assert "more than the ledger" in response.content.decode()
    assert _state() == before


def test_a_body_over_the_upload_limit_is_a_json_413(storefront_api, item):
    padding = "x" * 2_700_000  # DATA_UPLOAD_MAX_MEMORY_SIZE is 2.5 MB
    payload = json.dumps({"product_id": item.product_id, "quantity": 1, "order_id": "ORD-1", "notes": padding})
    before = _state()
    body = _error(_post(storefront_api, "/api/v1/inventory/reserve", payload), 413, "payload_too_large")
    assert "2621440 bytes" in body["detail"]
    assert _state() == before


@pytest.mark.parametrize(
    ("method", "url", "payload", "status", "code"),
    [
        ("get", f"/api/v1/inventory/{10**30}", None, 404, "not_found"),
        ("get", f"/api/v1/inventory/{2**63}/transactions", None, 404, "not_found"),
        ("put", f"/api/v1/inventory/{10**30}?warehouse_id=1", {"quantity": 1}, 404, "not_found"),
        ("get", f"/api/v1/products/{10**30}/", None, 404, "not_found"),
        ("get", "/api/v1/inventory/transfer/%00", None, 404, "not_found"),
        ("get", "/api/v1/inventory/1?warehouse_id=%00", None, 400, "invalid"),
        ("get", f"/api/v1/inventory/low-stock?threshold={10**30}", None, 400, "invalid"),
        ("get", "/api/v1/products/?search=%00", None, 400, "invalid"),
        ("get", "/api/v1/products/?sku=%00", None, 400, "invalid"),
        ("get", f"/api/v1/inventory/availability?product_ids=1,{10**30}", None, 400, "invalid"),
        ("get", f"/api/v1/inventory/transfer?warehouse_id={2**63}", None, 400, "invalid"),
        ("post", "/api/v1/inventory/reserve", {"product_id": 10**30, "quantity": 1}, 400, "invalid"),
        ("post", "/api/v1/inventory/reserve", {"product_id": 1, "quantity": 1, "order_id": "\u0000"}, 400, "invalid"),
        (
            "post",
            "/api/v1/inventory/transfer",
            {"product_id": 1, "from_warehouse_id": 1, "to_warehouse_id": 2**64, "quantity": 1},
            400,
            "invalid",
        ),
        ("post", "/api/v1/inventory/reserve", "9" * 5000, 400, "malformed_request"),
        ("post", "/api/v1/inventory/reserve", '{"product_id": NaN}', 400, "malformed_request"),
    ],
)
def test_out_of_range_ids_and_odd_parameters_are_4xx(warehouse_api, item, method, url, payload, status, code):
    before = _state()
    if payload is None:
        response = getattr(warehouse_api, method)(url)
    else:
        body = payload if isinstance(payload, str) else json.dumps(payload)
        response = getattr(warehouse_api, method)(url, data=body, content_type="application/json")
    _error(response, status, code)
    assert _state() == before
