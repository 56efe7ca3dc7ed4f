"""Reads come from Redis, a committed write refreshes them at once, and a dead Redis only slows reads."""

import pytest
from django.core.cache import cache
from django.test import override_settings

from inventory.stock_cache import item_key, product_key
from inventory_site.authentication import forget_tokens
from tests.factories import ProductFactory, stocked_item

pytestmark = pytest.mark.django_db(transaction=True)

DEAD_REDIS = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
        "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
    }
}


def test_reads_are_cached_in_redis_under_the_seed_keys(storefront_api):
    item = stocked_item(9)
    storefront_api.get(f"/api/v1/inventory/{item.product_id}")
    assert cache.get(product_key(item.product_id))["items"][0]["available_quantity"] == 9
    assert cache.get(item_key(item.product_id, item.warehouse_id))["total_quantity"] == 9
    assert cache.ttl(product_key(item.product_id)) > 0


def test_a_read_right_after_a_write_returns_the_new_value(warehouse_api):
    item = stocked_item(10)
    url = f"/api/v1/inventory/{item.product_id}"
    for change in (5, -3, 7, -19):
        assert warehouse_api.get(f"{url}?warehouse_id={item.warehouse_id}").status_code == 200
        response = warehouse_api.post(
            f"{url}/adjust",
            {"warehouse_id": item.warehouse_id, "quantity_change": change, "transaction_type": "adjustment"},
            format="json",
        )
        expected = response.json()["available_quantity"]
        assert warehouse_api.get(f"{url}?warehouse_id={item.warehouse_id}").json()["available_quantity"] == expected
        assert warehouse_api.get(url).json()["available_quantity"] == expected
        ids = f"{item.product_id}"
        availability = warehouse_api.get(f"/api/v1/inventory/availability?product_ids={ids}").json()
        assert availability["results"][ids]["available_quantity"] == expected


def test_a_failed_write_leaves_the_cached_value(warehouse_api):
    item = stocked_item(4)
    url = f"/api/v1/inventory/{item.product_id}"
    warehouse_api.get(url)
    warehouse_api.post(
        f"{url}/adjust",
        {"warehouse_id": item.warehouse_id, "quantity_change": -9, "transaction_type": "adjustment"},
        format="json",
    )
    assert cache.get(product_key(item.product_id))["items"][0]["available_quantity"] == 4


def test_with_redis_down_reads_fall_back_to_the_database(storefront_api, caplog):
    item = stocked_item(6)
    product = ProductFactory()
    # override_settings(CACHES=...) makes Django rebuild its cache handlers: a real client, dead server.
    with override_settings(CACHES=DEAD_REDIS):
        response = storefront_api.get(f"/api/v1/inventory/{item.product_id}?warehouse_id={item.warehouse_id}")
        assert response.status_code == 200 and response.json()["available_quantity"] == 6
        ids = f"{item.product_id},{product.pk}"
        response = storefront_api.get(f"/api/v1/inventory/availability?product_ids={ids}")
        assert response.status_code == 200 and response.json()["results"][str(item.product_id)]["total_quantity"] == 6
    assert "stock cache unavailable" in caplog.text


def test_availability_query_count_does_not_grow_with_products(storefront_api, django_assert_max_num_queries):
    products = [ProductFactory() for _ in range(200)]
    for product in products[:50]:
        stocked_item(3, product=product)
    cache.clear()
    one = str(products[0].pk)
    many = ",".join(str(p.pk) for p in products)
    # Cold caches: token + groups (the token is then remembered for a second) + products + items,
    # whatever the number of products.
    forget_tokens()
    with django_assert_max_num_queries(4) as single:
        storefront_api.get(f"/api/v1/inventory/availability?product_ids={one}")
    cache.clear()
    forget_tokens()
    with django_assert_max_num_queries(len(single.captured_queries)) as bulk:
        response = storefront_api.get(f"/api/v1/inventory/availability?product_ids={many}")
    assert len(response.json()["results"]) == 200
    assert len(bulk.captured_queries) == len(single.captured_queries)


def test_a_slow_reader_cannot_put_an_older_state_back(warehouse_api):
    from inventory import services, stock_cache

    item = stocked_item(10)
    # A reader loads the entry from the database, then stalls before writing it to the cache...
    _, stale_writes = stock_cache._load_products([item.product_id])
    # ...meanwhile a write commits and its hook caches the new state...
    services.adjust_stock(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-4)
    # ...then the reader wakes up and writes what it loaded.
    stock_cache._store_versioned(stale_writes)
    body = warehouse_api.get(f"/api/v1/inventory/{item.product_id}?warehouse_id={item.warehouse_id}").json()
    assert body["available_quantity"] == 6
    assert warehouse_api.get(f"/api/v1/inventory/{item.product_id}").json()["available_quantity"] == 6


def test_editing_item_settings_in_the_admin_refreshes_the_cache(client, warehouse_user, storefront_api):
    from django.urls import reverse

    item = stocked_item(10)
    storefront_api.get(f"/api/v1/inventory/{item.product_id}")
    client.force_login(warehouse_user)
    response = client.post(
        reverse("admin:inventory_inventoryitem_change", args=[item.pk]),
        {"reorder_point": "7", "reorder_quantity": "50", "max_stock_level": "500", "barcode": ""},
    )
    assert response.status_code == 302
    assert storefront_api.get(f"/api/v1/inventory/{item.product_id}").json()["items"][0]["reorder_point"] == 7
