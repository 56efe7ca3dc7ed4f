"""Many counts and movements booked in one transaction, in order: the CSV import's write.

``apply_movements`` and ``set_stock_count`` called once per line would book the same rows, but at
about 10 ms a line (lock, update, alert check, event, ledger insert each on their own) a 10,000-line
file took minutes (measured); here every step is done once for all lines. The rules are the same as
theirs, line by line: the sign of each type, never below what is reserved, an optional expected
on-hand (compare-and-set), one ledger row per on-hand change, ``last_count_date`` for counts, alerts,
and ``inventory.updated`` events in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from inventory import events
from inventory.exceptions import (
    DomainError,
    InvalidInput,
    QuantityBelowReserved,
    QuantityMismatch,
)
from inventory.locks import ItemKey, lock_candidates
from inventory.models import InventoryItem, InventoryTransaction, TransactionType
from inventory.services import lots
from inventory.services.ledger import MAX_QUANTITY, LedgerDetails, Movement, _check_sign
from inventory.services.movements import _ensure_items, _save_quantities, book_movement

_LEDGER_COLUMNS = [f for f in InventoryTransaction._meta.concrete_fields if not f.primary_key]


@dataclass(frozen=True, kw_only=True)
class Count:
    """A cycle count of one item: ``counted_quantity`` units on hand (of the batch ``details.batch_number``
    when the product is lot-tracked)."""

    product_id: int
    warehouse_id: int
    counted_quantity: int
    expected_quantity: int | None = None
    details: LedgerDetails = field(default_factory=LedgerDetails)

    @property
    def key(self) -> ItemKey:
        return (self.product_id, self.warehouse_id)


StockLine = Movement | Count


def items_filter(keys: Iterable[ItemKey]) -> Q:
    """The items of these pairs, one product list per warehouse: a flat filter that stays cheap to build
    for thousands of pairs (an OR per pair does not) and fits SQLite's expression depth. On PostgreSQL
    each list is one array parameter (``= ANY``): psycopg spends seconds splitting a query with 10,000
    placeholders."""
    by_warehouse: dict[int, set[int]] = defaultdict(set)
    for product_id, warehouse_id in keys:
        by_warehouse[warehouse_id].add(product_id)
    condition = Q(pk__in=[])
    for warehouse_id, product_ids in sorted(by_warehouse.items()):
        if connection.vendor == "postgresql":
            products = RawSQL("SELECT unnest(%s::bigint[])", [sorted(product_ids)])
        else:
            products = sorted(product_ids)
        condition |= Q(warehouse_id=warehouse_id, product_id__in=products)
    return condition


def _insert_ledger_rows(rows: list[InventoryTransaction]) -> None:
    """Append the ledger rows: COPY on PostgreSQL (bulk_create spends seconds building a 10,000-row INSERT)."""
    if connection.vendor != "postgresql":
        InventoryTransaction.objects.bulk_create(rows, batch_size=500)
        return
    table = connection.ops.quote_name(InventoryTransaction._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in _LEDGER_COLUMNS)
    names = [f.attname for f in _LEDGER_COLUMNS]
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([getattr(row, name) for name in names])


def _book(
    line: StockLine, item: InventoryItem, *, tracked: dict[int, bool], user: AbstractBaseUser | None, now, today
) -> list[InventoryTransaction]:
    """Apply one line to the locked ``item`` in memory; returns its ledger rows (none: a count that changed nothing)."""
    if isinstance(line, Movement):
        if line.expected_quantity is not None and line.expected_quantity != item.on_hand:
            raise _moved_meanwhile(item, line.expected_quantity, item.on_hand)
        return book_movement(item, line, tracked=tracked, user=user, now=now, today=today)
    is_tracked = item.product_id in tracked
    if is_tracked:
        # A lot-tracked item is counted lot by lot: the line's batch is what was counted.
        lots.check_inbound(line.details, requires_expiry=False)
        lot = lots.find_lot(item, line.details.batch_number)
        before = lot.quantity if lot is not None else 0
    else:
        before = item.on_hand
    if line.expected_quantity is not None and line.expected_quantity != before:
        raise _moved_meanwhile(item, line.expected_quantity, before)
    change = line.counted_quantity - before
    if item.available_quantity + change < 0:
        raise QuantityBelowReserved(
            f"Counted {line.counted_quantity} but {item.on_hand - item.available_quantity} are reserved "
            "or not for sale; release reservations or transfers first.",
            reserved_quantity=item.reserved_quantity,
            counted_quantity=line.counted_quantity,
        )
    if not change:
        return []
    movement = Movement(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity_change=change,
        transaction_type=TransactionType.COUNT,
        details=line.details,
    )
    return book_movement(item, movement, tracked=tracked, user=user, now=now, today=today)


def _moved_meanwhile(item: InventoryItem, expected: int, actual: int) -> QuantityMismatch:
    return QuantityMismatch(
        f"Stock moved meanwhile: {actual} on hand, not {expected}.",
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        expected_quantity=expected,
        actual_quantity=actual,
    )


def _check(line: StockLine) -> None:
    if isinstance(line, Count):
        if not 0 <= line.counted_quantity <= MAX_QUANTITY:
            raise InvalidInput(f"counted_quantity must be between 0 and {MAX_QUANTITY}.", field="counted_quantity")
    else:
        _check_sign(line)


@transaction.atomic
def apply_stock_lines(lines: Sequence[StockLine], *, user: AbstractBaseUser | None = None) -> list[InventoryItem]:
    """Book counts and movements in order, all or nothing; returns the items touched, in key order.

    A ``Movement`` is booked as ``apply_movements`` books it, a ``Count`` as ``set_stock_count`` does.
    Items missing for a line are created with zero stock first (a receipt or a count starts stocking a
    product there). A refusal names its line: ``exc.data["line"]`` is the line's index in ``lines``.
    """
    if not lines:
        return []
    for index, line in enumerate(lines):
        try:
            _check(line)
        except DomainError as exc:
            exc.data["line"] = index
            raise
    keys = {line.key for line in lines}
    tracked = lots.tracked_products((key[0] for key in keys), lock=True)
    found = set(InventoryItem.objects.filter(items_filter(keys)).values_list("product_id", "warehouse_id"))
    if missing := keys - found:
        _ensure_items(missing)
    locked = lock_candidates(InventoryItem.objects.filter(items_filter(keys)))
    items = {(i.product_id, i.warehouse_id): i for i in locked}
    now = timezone.now()
    today = timezone.localdate(now)
    rows: list[InventoryTransaction] = []
    moved: set[ItemKey] = set()
    counted: set[ItemKey] = set()
    for index, line in enumerate(lines):
        item = items[line.key]
        try:
            booked = _book(line, item, tracked=tracked, user=user, now=now, today=today)
        except DomainError as exc:
            exc.data["line"] = index
            raise
        if booked:
            rows += booked
            moved.add(line.key)
        if isinstance(line, Count):
            counted.add(line.key)
            item.last_count_date = today
    touched = sorted(items.values(), key=lambda i: i.pk)
    lots.refresh_next_expiry(items[key] for key in moved if key[0] in tracked)
    _save_quantities([items[key] for key in moved], now)
    _save_quantities([items[key] for key in keys - moved], now, moved=False)
    if counted:
        # Under the locks taken above, and before the events, which carry last_count_date.
        InventoryItem.objects.filter(pk__in=[items[key].pk for key in counted]).update(last_count_date=today)
    _insert_ledger_rows(rows)
    events.items_changed(i.pk for i in touched)
    return touched
