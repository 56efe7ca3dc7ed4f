"""Holds: units between available and reserved (reservations and transfers call these)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import SimpleNamespace

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from inventory import alerts, events
from inventory.exceptions import (
    InsufficientStock,
    InvalidInput,
    InvalidState,
)
from inventory.locks import ItemKey, items_of, lock_items_by_id
from inventory.models import InventoryItem, InventoryTransaction
from inventory.services import lots
from inventory.services.ledger import (
    LedgerDetails,
    _ledger_row,
)
from inventory.services.movements import _save_quantities

# --- holds: available <-> reserved (reservations and transfers call these) ---------------------


def _sum_by_key(lines: Iterable[tuple[ItemKey, int]]) -> dict[ItemKey, int]:
    totals: dict[ItemKey, int] = defaultdict(int)
    for key, quantity in lines:
        if quantity <= 0:
            raise InvalidInput("quantity must be positive.", field="quantity")
        totals[key] += quantity
    return dict(totals)


def item_ids(keys: Iterable[ItemKey]) -> dict[ItemKey, int]:
    """Ids of the items of these (product_id, warehouse_id) pairs; items are never deleted, so no lock."""
    condition = items_of(keys)
    if condition is None:
        return {}
    rows = InventoryItem.objects.filter(condition).values_list("product_id", "warehouse_id", "pk")
    return {(p, w): pk for p, w, pk in rows}


def _shortage_error(wanted: dict[ItemKey, int], ids: dict[ItemKey, int], taken: dict[int, int]) -> InsufficientStock:
    """Name every line that cannot be met; ``taken`` is what this transaction already moved."""
    available = dict(InventoryItem.objects.filter(pk__in=ids.values()).values_list("pk", "available_quantity"))
    shortages = []
    for key, quantity in sorted(wanted.items()):
        item_id = ids.get(key)
        free = available.get(item_id, 0) + taken.get(item_id, 0) if item_id else 0
        if free < quantity:
            shortages.append(
                {"product_id": key[0], "warehouse_id": key[1], "requested": quantity, "available_quantity": free}
            )
    return InsufficientStock.for_shortages(shortages)


def shortage_error(lines: Iterable[tuple[ItemKey, int]]) -> InsufficientStock:
    """The refusal for holding these lines now (a one-statement hold that did nothing asks this)."""
    wanted = _sum_by_key(lines)
    return _shortage_error(wanted, item_ids(wanted), {})


@transaction.atomic
def hold_stock(
    lines: Iterable[tuple[ItemKey, int]], *, ids: dict[ItemKey, int] | None = None
) -> dict[ItemKey, InventoryItem]:
    """Move units from available to reserved for every line, or for none (see ``hold_stock_in_transaction``)."""
    return hold_stock_in_transaction(lines, ids=ids)


def hold_stock_in_transaction(
    lines: Iterable[tuple[ItemKey, int]], *, ids: dict[ItemKey, int] | None = None
) -> dict[ItemKey, InventoryItem]:
    """Move units from available to reserved for every line, or for none; call inside ``transaction.atomic()``
    (no savepoint of its own: on the hot path that saves two round trips; an error aborts the caller's transaction).

    One conditional ``UPDATE ... WHERE available_quantity >= n RETURNING ...`` per item, in
    ascending primary key (so crossing holds queue instead of deadlocking): the row lock is taken
    by the UPDATE itself and held only until commit. Lines for the same item claim units together.
    On shortage raises ``InsufficientStock`` whose ``shortages`` name every line that cannot be met.
    ``ids`` (from ``item_ids``) saves the lookup when the caller already has it.
    """
    wanted = _sum_by_key(lines)
    ids = ids if ids is not None else item_ids(wanted)
    if any(key not in ids for key in wanted):
        raise _shortage_error(wanted, ids, {})
    by_id = {ids[key]: (key, quantity) for key, quantity in wanted.items()}
    now = timezone.now()
    table = InventoryItem._meta.db_table
    held: dict[ItemKey, InventoryItem] = {}
    taken: dict[int, int] = {}
    for item_id in sorted(by_id):
        key, quantity = by_id[item_id]
        rows = list(
            InventoryItem.objects.raw(
                f"UPDATE {table} SET available_quantity = available_quantity - %s, "
                "reserved_quantity = reserved_quantity + %s, version = version + 1, updated_at = %s "
                "WHERE id = %s AND available_quantity >= %s RETURNING *",
                [quantity, quantity, now, item_id, quantity],
            )
        )
        if not rows:
            raise _shortage_error(wanted, ids, taken)
        item = rows[0]
        item.available_at_lock = item.available_quantity + quantity
        taken[item_id] = quantity
        held[key] = item
    alerts.sync_low_stock_alerts(held.values())
    events.items_changed(item.pk for item in held.values())
    return held


def hold_locked_items(holds: list[tuple[InventoryItem, int]]) -> None:
    """Move units from available to reserved on items the caller has already checked.

    Call inside ``transaction.atomic()`` while holding SELECT FOR UPDATE on every item
    (``inventory.locks``); the caller has verified that each item has the units.
    """
    for item, quantity in holds:
        item.available_quantity -= quantity
        item.reserved_quantity += quantity
    touched = {item.pk: item for item, _ in holds}
    _save_quantities(touched.values(), timezone.now(), moved=False)
    events.items_changed(touched)


@transaction.atomic
def release_held_stock(quantities: Mapping[int, int]) -> None:
    """Move held units (by item id) back from reserved to available."""
    if not quantities:
        return
    if connection.vendor == "postgresql":
        _release_set_based(quantities)
        return
    items = lock_items_by_id(quantities)
    for item_id, quantity in quantities.items():
        item = items[item_id]
        if item.reserved_quantity < quantity:
            raise InvalidState(f"Item {item_id} holds {item.reserved_quantity} reserved units, not {quantity}.")
        item.reserved_quantity -= quantity
        item.available_quantity += quantity
    _save_quantities(items.values(), timezone.now(), moved=False)
    events.items_changed(items)


def _release_set_based(quantities: Mapping[int, int]) -> None:
    """The same on PostgreSQL in two statements whatever the number of items (the expiry sweep
    releases a thousand at a time): lock the ids in key order, then one ``UPDATE ... FROM (VALUES)``."""
    table = InventoryItem._meta.db_table
    ids = sorted(quantities)
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(ids))
    params: list = [timezone.now()]
    for item_id in ids:
        params += [item_id, quantities[item_id]]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE", [ids])
        cursor.execute(
            f"UPDATE {table} AS i SET available_quantity = i.available_quantity + v.units, "
            "reserved_quantity = i.reserved_quantity - v.units, version = i.version + 1, updated_at = %s "
            f"FROM (VALUES {values}) AS v(id, units) WHERE i.id = v.id AND i.reserved_quantity >= v.units "
            "RETURNING i.id, i.available_quantity, i.reorder_point, v.units",
            params,
        )
        rows = cursor.fetchall()
    if len(rows) != len(ids):
        short = sorted(set(ids) - {row[0] for row in rows})
        raise InvalidState(f"Items {short} hold fewer reserved units than are being released.")
    alerts.sync_low_stock_alerts(
        SimpleNamespace(
            pk=item_id,
            available_quantity=available,
            reorder_point=reorder_point,
            is_low_stock=available <= reorder_point,
            available_at_lock=available - units,
        )
        for item_id, available, reorder_point, units in rows
    )
    events.items_changed(ids)


@transaction.atomic
def consume_held_stock(
    quantities: Mapping[int, int] | Iterable[tuple[int, int]],
    *,
    transaction_type: str,
    details: LedgerDetails,
    user: AbstractBaseUser | None = None,
) -> list[InventoryItem]:
    """Take held units off the shelf: reserved and on-hand go down.

    ``quantities`` maps item id to units, or lists (item id, units) pairs; each pair gets its
    own ledger row (a reservation writes one ``sale`` row per line).
    """
    pairs = list(quantities.items() if isinstance(quantities, Mapping) else quantities)
    items = lock_items_by_id(item_id for item_id, _ in pairs)
    tracked = lots.tracked_products(item.product_id for item in items.values())
    now = timezone.now()
    today = timezone.localdate(now)
    rows = []
    for item_id, quantity in pairs:
        item = items[item_id]
        if quantity <= 0 or item.reserved_quantity < quantity:
            raise InvalidState(f"Item {item_id} holds {item.reserved_quantity} reserved units, not {quantity}.")
        if item.product_id in tracked:
            # Held units are not tied to a lot until they leave: then first-expired-first-out, never expired.
            rows += lots.book_lot_change(
                item,
                field="reserved_quantity",
                change=-quantity,
                transaction_type=transaction_type,
                details=replace(details, batch_number=""),
                user=user,
                now=now,
                today=today,
                sellable_only=True,
            )
            continue
        item.reserved_quantity -= quantity
        rows.append(
            _ledger_row(item, change=-quantity, transaction_type=transaction_type, details=details, user=user, now=now)
        )
    lots.refresh_next_expiry(item for item in items.values() if item.product_id in tracked)
    _save_quantities(items.values(), now)
    InventoryTransaction.objects.bulk_create(rows)
    events.items_changed(items)
    return list(items.values())
