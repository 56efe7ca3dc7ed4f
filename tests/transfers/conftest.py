"""A product with 20 units in a source warehouse, and a destination warehouse that never stocked it.

``setup`` does not request ``db``: each module marks its tests (some need ``transaction=True``).
"""

from __future__ import annotations

import pytest

from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from tests.transfers.support import START_QUANTITY, Setup


@pytest.fixture
def setup() -> Setup:
    product = ProductFactory()
    source = stocked_item(START_QUANTITY, product=product).warehouse
    return Setup(product=product, source=source, destination=WarehouseFactory())
