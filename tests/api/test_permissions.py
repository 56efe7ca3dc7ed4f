"""Who may call what: anonymous 401, no role 403, storefront reads, warehouse does everything."""

import pytest

from tests.factories import stocked_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def item():
    return stocked_item(50)


def _endpoints(item):
    p, w = item.product_id, item.warehouse_id
    adjust = {"warehouse_id": w, "quantity_change": 1, "transaction_type": "purchase"}
    return {
        "list warehouses": ("get", "/api/v1/warehouses/", None),
        "read warehouse": ("get", f"/api/v1/warehouses/{w}/", None),
        "create warehouse": ("post", "/api/v1/warehouses/", {"code": "NEW", "name": "New"}),
        "update warehouse": ("patch", f"/api/v1/warehouses/{w}/", {"name": "Renamed"}),
        "list products": ("get", "/api/v1/products/", None),
        "read product": ("get", f"/api/v1/products/{p}/", None),
        "create product": ("post", "/api/v1/products/", {"sku": "NEW-1", "name": "New"}),
        "update product": ("patch", f"/api/v1/products/{p}/", {"name": "Renamed"}),
        "read stock": ("get", f"/api/v1/inventory/{p}", None),
        "read barcode": ("get", "/api/v1/inventory/barcode/0000000000000", None),
        "low stock": ("get", "/api/v1/inventory/low-stock", None),
        "availability": ("get", f"/api/v1/inventory/availability?product_ids={p}", None),
        "count stock": ("put", f"/api/v1/inventory/{p}?warehouse_id={w}", {"quantity": 50}),
        "adjust stock": ("post", f"/api/v1/inventory/{p}/adjust", adjust),
        "ledger": ("get", f"/api/v1/inventory/{p}/transactions", None),
    }


STOREFRONT_ALLOWED = {
    "list warehouses",
    "read warehouse",
    "list products",
    "read product",
    "read stock",
    "read barcode",
    "low stock",
    "availability",
}


def _call(client, method, url, body):
    return getattr(client, method)(url, body, format="json") if body is not None else getattr(client, method)(url)


@pytest.mark.parametrize(
    "name",
    [
        "list warehouses",
        "read warehouse",
        "create warehouse",
        "update warehouse",
        "list products",
        "read product",
        "create product",
        "update product",
        "read stock",
        "read barcode",
        "low stock",
        "availability",
        "count stock",
        "adjust stock",
        "ledger",
    ],
)
def test_role_matrix(name, item, anon_api, plain_api, storefront_api, warehouse_api):
    method, url, body = _endpoints(item)[name]

    response = _call(anon_api, method, url, body)
    assert response.status_code == 401, name
    assert response.json()["code"] == "not_authenticated"

    response = _call(plain_api, method, url, body)
    assert response.status_code == 403, name
    assert response.json()["code"] == "permission_denied"

    response = _call(storefront_api, method, url, body)
    if name in STOREFRONT_ALLOWED:
        assert response.status_code in (200, 404), (name, response.json())
    else:
        assert response.status_code == 403, name

    response = _call(warehouse_api, method, url, body)
    assert response.status_code in (200, 201, 404), (name, response.json())
    assert response.status_code != 403


def test_a_bad_token_is_401(anon_api):
    anon_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anon_api.get("/api/v1/warehouses/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_superusers_act_as_warehouse_staff(client, item):
    from tests.factories import UserFactory

    client.force_login(UserFactory(is_superuser=True, is_staff=True))
    response = client.post(
        f"/api/v1/inventory/{item.product_id}/adjust",
        {"warehouse_id": item.warehouse_id, "quantity_change": 2, "transaction_type": "purchase"},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response.json()["total_quantity"] == 52
