"""The run is on the embedded default, not on a PostgreSQL or Redis that leaked in from the environment."""

import asyncio
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import connection

from inventory import feed, relay, services, stock_cache
from inventory.models import Event
from inventory_site.celery import app
from tests.factories import stocked_item

pytestmark = pytest.mark.django_db(transaction=True)


def test_sqlite_file_database_with_immediate_transactions_and_wal():
    assert connection.vendor == "sqlite"
    assert connection.transaction_mode == "IMMEDIATE"
    name = Path(connection.settings_dict["NAME"])
    # A file every thread's connection shares, in the test var dir: never the developer's var/db.sqlite3.
    assert name == Path(settings.DATABASES["default"]["TEST"]["NAME"])
    assert name.parent == settings.VAR_DIR and name.name == "test-db.sqlite3"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_local_memory_cache_in_memory_layer_and_filesystem_broker():
    assert isinstance(caches["default"], LocMemCache)
    assert isinstance(get_channel_layer(), InMemoryChannelLayer)
    assert settings.REDIS_URL == ""
    assert app.conf.broker_url == "filesystem://"
    assert Path(app.conf.broker_transport_options["data_folder_in"]) == settings.VAR_DIR / "celery-broker"


def test_a_committed_change_reaches_the_cache_and_the_in_memory_layer_through_the_in_process_relay():
    """What the web process runs on the embedded default (``inventory_site.asgi`` lifespan)."""
    item = stocked_item(5)
    layer = get_channel_layer()
    group = f"inventory.product.{item.product_id}"

    async def scenario() -> dict:
        before = await sync_to_async(feed.latest_final_id)()
        await sync_to_async(services.adjust_stock)(
            product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=2
        )
        cache.clear()  # only the relay can put the entry back now
        channel = await layer.new_channel()
        await layer.group_add(group, channel)
        stop = asyncio.Event()
        relay_task = asyncio.create_task(relay.run_in_process(stop, after=before))
        try:
            return await asyncio.wait_for(layer.receive(channel), 30)
        finally:
            await layer.group_discard(group, channel)
            stop.set()
            await asyncio.wait_for(relay_task, 30)

    message = async_to_sync(scenario)()
    assert message["type"] == "inventory.update"
    data = message["message"]["data"]
    assert (data["product_id"], data["available_quantity"], data["total_quantity"]) == (item.product_id, 7, 7)
    assert message["message"]["event_id"] == Event.objects.filter(item_id=item.pk).latest("id").id
    assert cache.get(stock_cache.item_key(item.product_id, item.warehouse_id))["available_quantity"] == 7
