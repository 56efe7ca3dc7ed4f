"""Every row lock on stock is taken here, so the lock order is fixed in one place.

Rows are always locked in ascending primary key: two transactions that touch the same items
in a different order then queue instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from inventory.models import InventoryItem

ItemKey = tuple[int, int]  # (product_id, warehouse_id)


def locked(queryset: QuerySet) -> list:
    """Lock the rows of ``queryset`` in primary-key order (a no-op on SQLite, which serialises writers).

    FOR NO KEY UPDATE: exclusive against other writers, but rows that merely reference the locked
    one (a reservation line's foreign key) can still be inserted meanwhile.
    """
    return list(queryset.order_by("pk").select_for_update(of=("self",), no_key=True))


def _remember_available(items: list[InventoryItem]) -> list[InventoryItem]:
    # What the row held when locked: lets the alert check skip items that stayed above their point.
    for item in items:
        item.available_at_lock = item.available_quantity
    return items


def items_of(keys: Iterable[ItemKey]) -> Q | None:
    """The filter for the items of these (product_id, warehouse_id) pairs; None when there are none."""
    condition = Q()
    for product_id, warehouse_id in set(keys):
        condition |= Q(product_id=product_id, warehouse_id=warehouse_id)
    return condition or None


def lock_items(keys: Iterable[ItemKey]) -> dict[ItemKey, InventoryItem]:
    """Lock the items of the given (product_id, warehouse_id) pairs; missing pairs are absent."""
    condition = items_of(keys)
    if condition is None:
        return {}
    items = _remember_available(locked(InventoryItem.objects.filter(condition)))
    return {(i.product_id, i.warehouse_id): i for i in items}


def lock_items_by_id(item_ids: Iterable[int]) -> dict[int, InventoryItem]:
    ids = set(item_ids)
    if not ids:
        return {}
    return {i.pk: i for i in _remember_available(locked(InventoryItem.objects.filter(pk__in=ids)))}


def lock_candidates(queryset: QuerySet) -> list[InventoryItem]:
    """Lock the items of an arbitrary item queryset (e.g. every warehouse of a product)."""
    return _remember_available(locked(queryset))
