"""``inventory_stock_state_levels`` on a real scrape: every state of the items ``inventory_stock_levels`` exports."""

from __future__ import annotations

import pytest

from inventory import services
from tests.factories import CategoryFactory, ProductFactory, WarehouseFactory, stocked_item
from tests.metrics.support import parse, promtool_problems, series

pytestmark = pytest.mark.django_db

STATES = ("available", "reserved", "damaged", "quality_control", "safety_stock")


@pytest.fixture(autouse=True)
def _uncached_metrics(settings):
    settings.METRICS_CACHE_SECONDS = 0


def _scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def _move(item, quantity: int, to_state: str) -> None:
    services.move_stock_state(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity=quantity,
        from_state="available",
        to_state=to_state,
        reason="metrics test",
    )


def test_each_item_reports_every_state(anon_api):
    tools = CategoryFactory(name="Tools")
    warehouse = WarehouseFactory()
    drill = stocked_item(30, product=ProductFactory(category=tools), warehouse=warehouse)
    loose = stocked_item(4, product=ProductFactory(category=None), warehouse=warehouse)
    services.hold_stock([((drill.product_id, drill.warehouse_id), 2)])
    _move(drill, 5, "damaged")
    _move(drill, 3, "quality_control")
    _move(drill, 6, "safety_stock")
    # Disposing of two damaged units: on hand and the damaged state go down, available does not.
    services.adjust_stock(
        product_id=drill.product_id,
        warehouse_id=drill.warehouse_id,
        quantity_change=-2,
        transaction_type="damage",
        state="damaged",
    )

    samples = parse(_scrape(anon_api))
    labels = ("product_id", "warehouse_id", "product_category", "state")
    drill_key = (str(drill.product_id), str(warehouse.pk), "Tools")
    loose_key = (str(loose.product_id), str(warehouse.pk), "uncategorized")
    assert series(samples, "inventory_stock_state_levels", *labels) == {
        (*drill_key, "available"): 14,
        (*drill_key, "reserved"): 2,
        (*drill_key, "damaged"): 3,
        (*drill_key, "quality_control"): 3,
        (*drill_key, "safety_stock"): 6,
        # States without units are reported as 0, so a state that empties goes to 0 rather than vanishing.
        **{(*loose_key, state): 4 if state == "available" else 0 for state in STATES},
    }
    # The existing gauge keeps its labels and its meaning: available units.
    levels = samples["inventory_stock_levels"]
    assert {name for key in levels for name, _ in key} == {"product_id", "warehouse_id", "product_category"}
    assert series(samples, "inventory_stock_levels", "product_id", "warehouse_id", "product_category") == {
        drill_key: 14,
        loose_key: 4,
    }


def test_the_series_cap_applies_to_the_state_levels_too(anon_api, settings):
    warehouse = WarehouseFactory()
    low, mid, high = (stocked_item(quantity, warehouse=warehouse) for quantity in (3, 9, 40))
    _move(high, 38, "damaged")  # 2 available now: the lowest

    settings.METRICS_STOCK_LEVELS_MAX_SERIES = 2
    samples = parse(_scrape(anon_api))
    exported = series(samples, "inventory_stock_state_levels", "product_id", "state")
    assert set(exported) == {(str(item.product_id), state) for item in (high, low) for state in STATES}
    assert exported[(str(high.product_id), "damaged")] == 38
    assert series(samples, "inventory_stock_levels_dropped_series") == {(): 1}
    assert str(mid.product_id) not in {product for product, _ in exported}

    settings.METRICS_STOCK_LEVELS_MAX_SERIES = 0
    samples = parse(_scrape(anon_api))
    assert "inventory_stock_state_levels" not in samples
    assert series(samples, "inventory_stock_levels_dropped_series") == {(): 3}


def test_promtool_accepts_the_state_levels(anon_api):
    item = stocked_item(6)
    _move(item, 1, "quality_control")
    text = _scrape(anon_api)
    assert "inventory_stock_state_levels{" in text
    assert "# TYPE inventory_stock_state_levels gauge" in text
    assert promtool_problems(text) == []
