"""Lots of lot-tracked items: which lot inbound units join, and which lots outbound units leave.

Every function here runs under the item's row lock (``inventory.locks``), which is what serialises
lot changes: a lot is only ever written by whoever holds its item. Outbound units leave
first-expired-first-out: earliest expiry first, undated lots last, then the oldest received, so the
lot that spoils first is the one that ships (not the smallest one, a known failure elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from inventory.exceptions import (
    BatchRequired,
    ExpiryRequired,
    InsufficientStock,
    LotExpired,
    LotExpiryMismatch,
    LotNotFound,
)
from inventory.models import InventoryItem, InventoryTransaction, Product, StockLot, StockState
from inventory.services.ledger import LedgerDetails, _ledger_row


def tracked_products(product_ids: Iterable[int], *, lock: bool = False) -> dict[int, bool]:
    """{product id: requires_expiry} for the lot-tracked ones among ``product_ids``.

    ``lock``: hold the products' rows FOR SHARE until commit, so that switching lot tracking
    (``services.set_lot_tracking``, which locks the product row for update) waits for this movement
    and this movement for it. Take it before locking items, in the order a catalog update locks them
    (product, then its items), so the two never wait on each other in a cycle. Movements that can
    create units from nothing take it; one that consumes held units need not: while units are held
    the product has stock, and a switch is refused.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return {}
    if lock and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, track_lots, requires_expiry FROM {Product._meta.db_table} "
                "WHERE id = ANY(%s) ORDER BY id FOR SHARE",
                [ids],
            )
            return {pk: requires for pk, tracked, requires in cursor.fetchall() if tracked}
    return dict(Product.objects.filter(pk__in=ids, track_lots=True).values_list("pk", "requires_expiry"))


def check_inbound(details: LedgerDetails, *, requires_expiry: bool) -> None:
    """An inbound movement of a tracked product must name its lot (and its expiry when required)."""
    if not details.batch_number.strip():
        raise BatchRequired(
            "This product is lot-tracked: inbound stock must name its batch (batch_number).", field="batch_number"
        )
    if requires_expiry and details.expiry_date is None:
        raise _expiry_required()


def _expiry_required() -> ExpiryRequired:
    return ExpiryRequired("This product needs an expiry date on every lot (expiry_date).", field="expiry_date")


def lot_details(details: LedgerDetails, lot: StockLot) -> LedgerDetails:
    """The ledger details of a movement, with the lot it touched filled in."""
    return replace(
        details,
        batch_number=lot.batch_number,
        expiry_date=lot.expiry_date,
        received_date=lot.received_date,
        supplier_id=lot.supplier_id if lot.supplier_id is not None else details.supplier_id,
    )


def find_lot(item: InventoryItem, batch_number: str) -> StockLot | None:
    return StockLot.objects.filter(item=item, batch_number=batch_number.strip()).first()


def _unknown_lot(item: InventoryItem, batch_number: str) -> LotNotFound:
    return LotNotFound(
        f"Product {item.product_id} has no batch {batch_number!r} in warehouse {item.warehouse_id}.",
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        batch_number=batch_number,
    )


def lot_for_inbound(
    item: InventoryItem, details: LedgerDetails, *, today: date, requires_expiry: bool = False
) -> StockLot:
    """The lot named by ``details`` (created empty when new); an expiry that contradicts the lot's is refused.

    ``requires_expiry``: a new lot (or one recorded without a date) must get its expiry now; units added
    to a lot that has one may leave it out."""
    batch = details.batch_number.strip()
    lot = find_lot(item, batch)
    if requires_expiry and details.expiry_date is None and (lot is None or lot.expiry_date is None):
        raise _expiry_required()
    if lot is None:
        lot = StockLot(
            item=item,
            batch_number=batch,
            expiry_date=details.expiry_date,
            received_date=details.received_date or today,
            supplier_id=details.supplier_id,
            quantity=0,
        )
        lot.save(force_insert=True)
        return lot
    if details.expiry_date is not None and lot.expiry_date not in (None, details.expiry_date):
        raise LotExpiryMismatch(
            f"Batch {batch!r} expires on {lot.expiry_date.isoformat()}, not {details.expiry_date.isoformat()}.",
            field="expiry_date",
            batch_number=batch,
            expiry_date=lot.expiry_date.isoformat(),
        )
    if lot.expiry_date is None and details.expiry_date is not None:
        lot.expiry_date = details.expiry_date
    return lot


def pick_lots(
    item: InventoryItem, *, quantity: int, today: date, batch_number: str = "", sellable_only: bool = False
) -> list[tuple[StockLot, int]]:
    """The lots ``quantity`` outbound units come from, and how many from each (first-expired-first-out,
    or the named batch). ``sellable_only``: a sale or transfer never takes units past their expiry."""
    if batch_number.strip():
        lot = find_lot(item, batch_number)
        if lot is None:
            raise _unknown_lot(item, batch_number)
        if sellable_only and lot.is_expired(today):
            raise LotExpired(
                f"Batch {lot.batch_number!r} expired on {lot.expiry_date.isoformat()}; it cannot be sold or shipped.",
                batch_number=lot.batch_number,
            )
        if lot.quantity < quantity:
            raise InsufficientStock(
                f"Batch {lot.batch_number!r} of product {item.product_id} holds {lot.quantity}; "
                f"cannot remove {quantity}.",
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                batch_number=lot.batch_number,
                available_quantity=lot.quantity,
                requested=quantity,
            )
        return [(lot, quantity)]
    picked: list[tuple[StockLot, int]] = []
    left = quantity
    expired = 0
    for lot in StockLot.objects.filter(item=item, quantity__gt=0):  # Meta.ordering is FEFO
        if sellable_only and lot.is_expired(today):
            expired += lot.quantity
            continue
        take = min(left, lot.quantity)
        picked.append((lot, take))
        left -= take
        if not left:
            return picked
    if expired:
        raise LotExpired(
            f"Only {quantity - left} unexpired units of product {item.product_id} are left in warehouse "
            f"{item.warehouse_id}; {expired} more are past their expiry date and cannot be sold or shipped.",
            product_id=item.product_id,
            warehouse_id=item.warehouse_id,
            unexpired_quantity=quantity - left,
            expired_quantity=expired,
            requested=quantity,
        )
    # Lots always add up to on hand (check_ledger proves it), so this means the books drifted.
    raise InsufficientStock(
        f"The lots of product {item.product_id} in warehouse {item.warehouse_id} hold {quantity - left} units, "
        f"not {quantity}.",
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        available_quantity=quantity - left,
        requested=quantity,
    )


def book_lot_change(
    item: InventoryItem,
    *,
    field: str,
    change: int,
    transaction_type: str,
    details: LedgerDetails,
    user: AbstractBaseUser | None,
    now: datetime,
    today: date,
    state: str = StockState.AVAILABLE,
    requires_expiry: bool = False,
    sellable_only: bool = False,
) -> list[InventoryTransaction]:
    """Apply an on-hand change of a tracked item: the item's ``field`` and its lots, in memory for the
    item and saved for the lots; returns one ledger row per lot touched (chained in that order)."""
    if change > 0:
        check_inbound(details, requires_expiry=False)
        lot = lot_for_inbound(item, details, today=today, requires_expiry=requires_expiry)
        parts = [(lot, change)]
    else:
        picked = pick_lots(
            item, quantity=-change, today=today, batch_number=details.batch_number, sellable_only=sellable_only
        )
        parts = [(lot, -taken) for lot, taken in picked]
    rows = []
    for lot, part in parts:
        lot.quantity += part
        lot.updated_at = now
        setattr(item, field, getattr(item, field) + part)
        rows.append(
            _ledger_row(
                item,
                change=part,
                transaction_type=transaction_type,
                details=lot_details(details, lot),
                user=user,
                now=now,
                state=state,
            )
        )
    StockLot.objects.bulk_update([lot for lot, _ in parts], ["quantity", "expiry_date", "updated_at"])
    return rows


def refresh_next_expiry(items: Iterable[InventoryItem]) -> None:
    """Write each item's ``next_expiry_date`` (earliest expiry among its lots with units), on the rows and
    the instances; call under the items' locks, before their events are recorded."""
    by_id = {item.pk: item for item in items}
    if not by_id:
        return
    table = InventoryItem._meta.db_table
    lots = StockLot._meta.db_table
    marks = ", ".join(["%s"] * len(by_id))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET next_expiry_date = (SELECT min(l.expiry_date) FROM {lots} l "
            f"WHERE l.item_id = {table}.id AND l.quantity > 0) WHERE id IN ({marks})",
            list(by_id),
        )
    for pk, expiry in InventoryItem.objects.filter(pk__in=by_id).values_list("pk", "next_expiry_date"):
        by_id[pk].next_expiry_date = expiry
