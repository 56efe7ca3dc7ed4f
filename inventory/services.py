"""The one write path for stock quantities.

Every function here runs in ``transaction.atomic()``, locks the items it touches through
``inventory.locks`` (ascending primary key), writes one ledger row per on-hand change and the
change's events in the same transaction (``inventory.events``; the relay does the rest). Nothing
else in the project writes ``available_quantity`` or ``reserved_quantity``.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from inventory import alerts, events
from inventory.exceptions import (
    Conflict,
    DuplicateBarcode,
    InsufficientStock,
    InvalidInput,
    InvalidState,
    NotFound,
    QuantityBelowReserved,
    QuantityMismatch,
)
from inventory.locks import ItemKey, items_of, lock_items, lock_items_by_id
from inventory.models import InventoryItem, InventoryTransaction, Product, TransactionType, Warehouse

MAX_QUANTITY = 2**31 - 1
_TOTAL_COST = InventoryTransaction._meta.get_field("total_cost")
MAX_TOTAL_COST = (Decimal(10) ** _TOTAL_COST.max_digits - 1).scaleb(-_TOTAL_COST.decimal_places)  # 9999999999.99
INBOUND_ONLY = frozenset({TransactionType.PURCHASE, TransactionType.RETURN})
# What staff may book by hand (admin form, adjust endpoint): sales, transfers and counts have their own flows.
ADJUSTABLE_TYPES = [
    TransactionType.PURCHASE,
    TransactionType.RETURN,
    TransactionType.ADJUSTMENT,
    TransactionType.DAMAGE,
    TransactionType.THEFT,
    TransactionType.EXPIRED,
]
OUTBOUND_ONLY = frozenset(
    {TransactionType.SALE, TransactionType.DAMAGE, TransactionType.THEFT, TransactionType.EXPIRED}
)
_TX_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U


@dataclass(frozen=True, kw_only=True)
class LedgerDetails:
    """What a ledger row records besides the quantities."""

    reason: str = ""
    notes: str = ""
    reference_type: str = ""
    reference_id: str = ""
    cost_per_unit: Decimal | None = None
    batch_number: str = ""
    supplier_id: int | None = None
    received_date: date | None = None
    expiry_date: date | None = None


@dataclass(frozen=True, kw_only=True)
class Movement:
    """A change of on-hand quantity for one (product, warehouse)."""

    product_id: int
    warehouse_id: int
    quantity_change: int
    transaction_type: str
    expected_quantity: int | None = None
    details: LedgerDetails = field(default_factory=LedgerDetails)

    @property
    def key(self) -> ItemKey:
        return (self.product_id, self.warehouse_id)


def new_transaction_number(now: datetime) -> str:
    """A human-readable, unique ledger number such as ``TX-20261121-4K7Q2M9XPA``."""
    return f"TX-{now:%Y%m%d}-" + "".join(secrets.choice(_TX_ALPHABET) for _ in range(10))


def _check_sign(movement: Movement) -> None:
    if movement.quantity_change == 0:
        raise InvalidInput("quantity_change must not be zero.", field="quantity_change")
    if movement.transaction_type in INBOUND_ONLY and movement.quantity_change < 0:
        raise InvalidInput(f"A {movement.transaction_type} adds stock: quantity_change must be positive.")
    if movement.transaction_type in OUTBOUND_ONLY and movement.quantity_change > 0:
        raise InvalidInput(f"A {movement.transaction_type} removes stock: quantity_change must be negative.")
    if movement.transaction_type not in TransactionType.values:
        raise InvalidInput(f"Unknown transaction type {movement.transaction_type!r}.")


def _ledger_row(
    item: InventoryItem,
    *,
    change: int,
    transaction_type: str,
    details: LedgerDetails,
    user: AbstractBaseUser | None,
    now: datetime,
) -> InventoryTransaction:
    previous = item.available_quantity + item.reserved_quantity - change
    cost = details.cost_per_unit
    total_cost = cost * abs(change) if cost is not None else None
    if total_cost is not None and abs(total_cost) > MAX_TOTAL_COST:
        # Checked here, the one place ledger rows are built: the column would overflow (a 500) for every caller.
        raise InvalidInput(
            f"cost_per_unit × {abs(change)} units = {total_cost}, more than the ledger's largest total cost "
            f"({MAX_TOTAL_COST}); book the units in smaller batches.",
            field="cost_per_unit",
        )
    return InventoryTransaction(
        transaction_number=new_transaction_number(now),
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        transaction_type=transaction_type,
        quantity_change=change,
        previous_quantity=previous,
        new_quantity=previous + change,
        reference_type=details.reference_type,
        reference_id=details.reference_id,
        reason=details.reason,
        notes=details.notes,
        cost_per_unit=cost,
        total_cost=total_cost,
        created_by=user if user is not None and user.is_authenticated else None,
        created_at=now,
        batch_number=details.batch_number,
        supplier_id=details.supplier_id,
        received_date=details.received_date,
        expiry_date=details.expiry_date,
    )


def _save_quantities(items: Iterable[InventoryItem], now: datetime, *, moved: bool = True) -> None:
    items = list(items)
    fields = ["available_quantity", "reserved_quantity", "updated_at", "version"]
    for item in items:
        item.updated_at = now
        item.version += 1
        if moved:
            item.last_movement_at = now
        # total_quantity is generated by the database; keep the instance in step with it.
        item.total_quantity = item.available_quantity + item.reserved_quantity
    if moved:
        fields.append("last_movement_at")
    if connection.vendor == "postgresql":
        _update_from_values(items, now, moved)
    else:
        InventoryItem.objects.bulk_update(items, fields)
    alerts.sync_low_stock_alerts(items)


def _update_from_values(items: list[InventoryItem], now: datetime, moved: bool) -> None:
    """One ``UPDATE ... FROM (VALUES ...)`` for any number of items (bulk_update's CASE per column
    costs far more to build in Python once a sweep touches hundreds of rows)."""
    table = InventoryItem._meta.db_table
    for start in range(0, len(items), 5000):
        chunk = items[start : start + 5000]
        values = ", ".join(["(%s::bigint, %s::integer, %s::integer, %s::bigint)"] * len(chunk))
        params: list = [now, now] if moved else [now]
        for item in chunk:
            params += [item.pk, item.available_quantity, item.reserved_quantity, item.version]
        moved_sql = ", last_movement_at = %s" if moved else ""
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS i SET available_quantity = v.available, reserved_quantity = v.reserved, "
                f"version = v.version, updated_at = %s{moved_sql} "
                f"FROM (VALUES {values}) AS v(id, available, reserved, version) WHERE i.id = v.id",
                params,
            )


def _ensure_items(keys: Iterable[ItemKey]) -> None:
    """Create missing items (zero stock). Concurrent creators do not collide."""
    keys = set(keys)
    product_ids = {p for p, _ in keys}
    warehouse_ids = {w for _, w in keys}
    found_products = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
    found_warehouses = set(Warehouse.objects.filter(pk__in=warehouse_ids).values_list("pk", flat=True))
    if missing := product_ids - found_products:
        raise NotFound(f"Unknown product {min(missing)}.", product_id=min(missing))
    if missing := warehouse_ids - found_warehouses:
        raise NotFound(f"Unknown warehouse {min(missing)}.", warehouse_id=min(missing))
    InventoryItem.objects.bulk_create(
        [InventoryItem(product_id=p, warehouse_id=w) for p, w in sorted(keys)], ignore_conflicts=True
    )


def _missing_item(key: ItemKey) -> NotFound:
    return NotFound(
        f"Product {key[0]} has no stock record in warehouse {key[1]}.", product_id=key[0], warehouse_id=key[1]
    )


@transaction.atomic
def apply_movements(
    movements: list[Movement],
    *,
    user: AbstractBaseUser | None = None,
    create_missing: bool = False,
    occurred_at: datetime | None = None,
) -> list[InventoryItem]:
    """Apply on-hand changes to one or more items atomically: all of them, or none.

    ``available_quantity`` takes the change (reserved units are never touched here), so an
    item cannot go below what is reserved. ``occurred_at`` back-dates the ledger (imports only).
    """
    if not movements:
        return []
    for movement in movements:
        _check_sign(movement)
    if create_missing:
        _ensure_items(m.key for m in movements)
    items = lock_items(m.key for m in movements)
    now = occurred_at or timezone.now()
    rows: list[InventoryTransaction] = []
    for movement in movements:
        item = items.get(movement.key)
        if item is None:
            raise _missing_item(movement.key)
        on_hand = item.available_quantity + item.reserved_quantity
        if movement.expected_quantity is not None and movement.expected_quantity != on_hand:
            raise QuantityMismatch(
                f"Expected {movement.expected_quantity} on hand but there are {on_hand}.",
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                expected_quantity=movement.expected_quantity,
                actual_quantity=on_hand,
            )
        new_available = item.available_quantity + movement.quantity_change
        if new_available < 0:
            raise InsufficientStock(
                f"Only {item.available_quantity} available for product {item.product_id} "
                f"in warehouse {item.warehouse_id}; cannot remove {-movement.quantity_change}.",
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                available_quantity=item.available_quantity,
                requested=-movement.quantity_change,
            )
        if new_available + item.reserved_quantity > MAX_QUANTITY:
            raise InvalidInput(f"On-hand quantity would exceed {MAX_QUANTITY}.", field="quantity_change")
        item.available_quantity = new_available
        rows.append(
            _ledger_row(
                item,
                change=movement.quantity_change,
                transaction_type=movement.transaction_type,
                details=movement.details,
                user=user,
                now=now,
            )
        )
    touched = {m.key: items[m.key] for m in movements}
    _save_quantities(touched.values(), now)
    InventoryTransaction.objects.bulk_create(rows)
    events.items_changed(item.pk for item in touched.values())
    return [items[m.key] for m in movements]


def adjust_stock(
    *,
    product_id: int,
    warehouse_id: int,
    quantity_change: int,
    transaction_type: str = TransactionType.ADJUSTMENT,
    expected_quantity: int | None = None,
    details: LedgerDetails | None = None,
    user: AbstractBaseUser | None = None,
    create_missing: bool = False,
    occurred_at: datetime | None = None,
) -> InventoryItem:
    """Change one item's on-hand quantity by ``quantity_change`` and record it in the ledger."""
    movement = Movement(
        product_id=product_id,
        warehouse_id=warehouse_id,
        quantity_change=quantity_change,
        transaction_type=transaction_type,
        expected_quantity=expected_quantity,
        details=details or LedgerDetails(),
    )
    (item,) = apply_movements([movement], user=user, create_missing=create_missing, occurred_at=occurred_at)
    return item


def receive_stock(
    *,
    product_id: int,
    warehouse_id: int,
    quantity: int,
    details: LedgerDetails | None = None,
    user: AbstractBaseUser | None = None,
    occurred_at: datetime | None = None,
) -> InventoryItem:
    """Book goods in (a ``purchase``), creating the item if the warehouse never stocked it."""
    if quantity <= 0:
        raise InvalidInput("quantity must be positive.", field="quantity")
    return adjust_stock(
        product_id=product_id,
        warehouse_id=warehouse_id,
        quantity_change=quantity,
        transaction_type=TransactionType.PURCHASE,
        details=details,
        user=user,
        create_missing=True,
        occurred_at=occurred_at,
    )


ITEM_SETTINGS = (
    "barcode",
    "reorder_point",
    "reorder_quantity",
    "max_stock_level",
    "location_zone",
    "location_aisle",
    "location_shelf",
)


@transaction.atomic
def update_item_settings(*, item_id: int, changes: Mapping[str, Any]) -> InventoryItem:
    """Change an item's settings (barcode, reorder levels, location); quantities never change here.

    The version bump orders cached reads, a new reorder point may raise or resolve an alert, and the
    cache and live feed get the new settings after commit.
    """
    if unknown := set(changes) - set(ITEM_SETTINGS):
        raise InvalidInput(f"Unknown item settings: {', '.join(sorted(unknown))}.")
    item = lock_items_by_id([item_id]).get(item_id)
    if item is None:
        raise NotFound(f"Unknown inventory item {item_id}.", item_id=item_id)
    barcode = changes.get("barcode")
    if barcode and InventoryItem.objects.filter(barcode=barcode).exclude(pk=item.pk).exists():
        raise DuplicateBarcode(f"Barcode {barcode!r} is already used by another item.")
    for name, value in changes.items():
        setattr(item, name, value)
    item.version += 1
    item.updated_at = timezone.now()
    try:
        with transaction.atomic():
            item.save(update_fields=[*changes, "version", "updated_at"])
    except IntegrityError as exc:  # a concurrent writer took the barcode between check and save
        raise DuplicateBarcode("Barcode is already used by another item.") from exc
    item.available_at_lock = -1  # the reorder point may have moved: always check the alert
    alerts.sync_low_stock_alerts([item])
    events.items_changed([item.pk])
    return item


@transaction.atomic
def create_item(*, item: InventoryItem) -> InventoryItem:
    """Start stocking a product in a warehouse with zero units and the given settings."""
    if item.available_quantity or item.reserved_quantity:
        raise InvalidInput("A new item starts with zero units; receive stock to add some.")
    try:
        with transaction.atomic():
            item.save(force_insert=True)
    except IntegrityError as exc:
        raise Conflict("This product already has an item in that warehouse, or its barcode is taken.") from exc
    item.refresh_from_db()  # total_quantity is generated by the database
    item.available_at_lock = -1
    alerts.sync_low_stock_alerts([item])
    events.items_changed([item.pk])
    return item


@transaction.atomic
def set_stock_count(
    *,
    product_id: int,
    warehouse_id: int,
    counted_quantity: int,
    expected_quantity: int | None = None,
    details: LedgerDetails | None = None,
    user: AbstractBaseUser | None = None,
    item_settings: Mapping[str, Any] | None = None,
) -> tuple[InventoryItem, bool]:
    """Record a cycle count of on-hand units; returns (item, created).

    Writes a ``count`` ledger row for the difference, sets ``last_count_date``, and applies
    optional item settings (barcode, reorder levels, location) in the same transaction.
    """
    if not 0 <= counted_quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between 0 and {MAX_QUANTITY}.", field="quantity")
    settings_ = dict(item_settings or {})
    if unknown := set(settings_) - set(ITEM_SETTINGS):
        raise InvalidInput(f"Unknown item settings: {', '.join(sorted(unknown))}.")
    key = (product_id, warehouse_id)
    items = lock_items([key])
    created = key not in items
    if created:
        _ensure_items([key])
        items = lock_items([key])
    item = items[key]
    on_hand = item.available_quantity + item.reserved_quantity
    if expected_quantity is not None and expected_quantity != on_hand:
        raise QuantityMismatch(
            f"Stock moved since the count started: {on_hand} on hand, not {expected_quantity}.",
            expected_quantity=expected_quantity,
            actual_quantity=on_hand,
        )
    if counted_quantity < item.reserved_quantity:
        raise QuantityBelowReserved(
            f"Counted {counted_quantity} but {item.reserved_quantity} are reserved; "
            "release reservations or transfers first.",
            reserved_quantity=item.reserved_quantity,
            counted_quantity=counted_quantity,
        )
    barcode = settings_.get("barcode")
    if barcode and InventoryItem.objects.filter(barcode=barcode).exclude(pk=item.pk).exists():
        raise DuplicateBarcode(f"Barcode {barcode!r} is already used by another item.")
    now = timezone.now()
    change = counted_quantity - on_hand
    item.available_quantity = counted_quantity - item.reserved_quantity
    for name, value in settings_.items():
        setattr(item, name, value)
    item.last_count_date = timezone.localdate()
    item.updated_at = now
    item.version += 1
    if change:
        item.last_movement_at = now
    try:
        with transaction.atomic():
            item.save()
    except IntegrityError as exc:  # a concurrent writer took the barcode between check and save
        raise DuplicateBarcode("Barcode is already used by another item.") from exc
    item.available_at_lock = -1  # the reorder point may have moved too: always check the alert
    alerts.sync_low_stock_alerts([item])
    item.total_quantity = counted_quantity
    if change:
        row = _ledger_row(
            item,
            change=change,
            transaction_type=TransactionType.COUNT,
            details=details or LedgerDetails(),
            user=user,
            now=now,
        )
        row.save()
    events.items_changed([item.pk])
    return item, created


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
    now = timezone.now()
    rows = []
    for item_id, quantity in pairs:
        item = items[item_id]
        if quantity <= 0 or item.reserved_quantity < quantity:
            raise InvalidState(f"Item {item_id} holds {item.reserved_quantity} reserved units, not {quantity}.")
        item.reserved_quantity -= quantity
        rows.append(
            _ledger_row(item, change=-quantity, transaction_type=transaction_type, details=details, user=user, now=now)
        )
    _save_quantities(items.values(), now)
    InventoryTransaction.objects.bulk_create(rows)
    events.items_changed(items)
    return list(items.values())
