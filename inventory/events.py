"""What happens after a stock change commits: cache refresh, live broadcast, metrics.

Services call ``stock_changed`` inside their transaction; the work runs only if it commits,
so a rolled-back change leaves no trace anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction

from inventory import broadcast, stock_cache
from inventory.models import InventoryItem

logger = logging.getLogger(__name__)


def stock_changed(item_ids: Iterable[int]) -> None:
    """Register the after-commit side effects for the given items."""
    ids = tuple(sorted(set(item_ids)))
    if ids:
        # partial, not a lambda: binds the ids now (ruff B023).
        transaction.on_commit(partial(publish_stock_changes, ids))


def products_changed(product_ids: Iterable[int]) -> None:
    """A product's own fields (its SKU) changed: refresh what the cache says about its stock."""
    ids = tuple(sorted(set(product_ids)))
    if ids:
        transaction.on_commit(partial(stock_cache.replace_products, ids))


def publish_stock_changes(item_ids: tuple[int, ...]) -> None:
    """Run after commit. Never raises: a failed side effect must not fail a write that committed.

    One query loads every item of the touched products (with its product's SKU): the cache
    needs the whole product, the broadcast the touched items.
    """
    try:
        touched_products = InventoryItem.objects.filter(pk__in=item_ids).values("product_id")
        items = stock_cache.item_rows(InventoryItem.objects.filter(product_id__in=touched_products))
    except Exception:
        logger.exception("loading changed items %s failed", item_ids)
        return
    try:
        stock_cache.cache_product_items(items)
    except Exception:
        logger.exception("refreshing the stock cache failed for items %s", item_ids)
    try:
        wanted = set(item_ids)
        broadcast.broadcast_items(item for item in items if item.pk in wanted)
    except Exception:
        logger.exception("broadcasting the stock changes failed for items %s", item_ids)
