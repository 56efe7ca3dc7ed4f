"""Undoing a booking: the reverse movement, booked as an adjustment that names the row it reverses."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from inventory.exceptions import InsufficientStock, InvalidState, NotFound
from inventory.locks import lock_items
from inventory.models import InventoryItem, InventoryTransaction, TransactionType
from inventory.services import lots
from inventory.services.ledger import ADJUSTABLE_TYPES, LedgerDetails
from inventory.services.movements import adjust_stock

REVERSAL = "reversal"  # reference_type of a reversing row; its reference_id is the reversed row's number
REVERSIBLE_TYPES = frozenset({*ADJUSTABLE_TYPES, TransactionType.COUNT})


@transaction.atomic
def reverse_transaction(
    *, transaction_id: int, user: AbstractBaseUser | None = None
) -> tuple[InventoryItem, InventoryTransaction]:
    """Book the opposite of ledger row ``transaction_id`` once; returns (item, the reversing row).

    The reverse of a count is its difference taken back (with nothing moved since, the on-hand before
    the count again; with a sale since, the sale stays booked). Sales and transfers have their own
    flows (release, cancel) and are refused, as is a second reversal of the same row.
    """
    row = InventoryTransaction.objects.filter(pk=transaction_id).first()
    if row is None:
        raise NotFound(f"Unknown ledger row {transaction_id}.", transaction_id=transaction_id)
    if row.reference_type == REVERSAL:
        raise InvalidState(f"{row.transaction_number} is itself an undo; book a new movement instead.")
    if row.transaction_type not in REVERSIBLE_TYPES:
        raise InvalidState(f"A {row.get_transaction_type_display().lower()} row is undone through its own flow.")
    # The item's lock first (after its product's, the order every movement takes): a second undo of the
    # same row waits here, then sees the first one's row.
    lots.tracked_products([row.product_id], lock=True)
    lock_items([(row.product_id, row.warehouse_id)])
    earlier = InventoryTransaction.objects.filter(reference_type=REVERSAL, reference_id=row.transaction_number)
    if done := earlier.first():
        raise InvalidState(f"{row.transaction_number} was already undone ({done.transaction_number}).")
    try:
        item = adjust_stock(
            product_id=row.product_id,
            warehouse_id=row.warehouse_id,
            quantity_change=-row.quantity_change,
            transaction_type=TransactionType.ADJUSTMENT,
            details=LedgerDetails(
                reason=f"Undo of {row.transaction_number}",
                reference_type=REVERSAL,
                reference_id=row.transaction_number,
                cost_per_unit=row.cost_per_unit,
                # The same lot (and state) the row changed: an undo puts back or takes out exactly those units.
                batch_number=row.batch_number,
                expiry_date=row.expiry_date,
                received_date=row.received_date,
                supplier_id=row.supplier_id,
            ),
            state=row.stock_state,
            user=user,
        )
    except InsufficientStock as exc:
        raise InsufficientStock(
            f"Cannot undo {row.transaction_number}: it would take {row.quantity_change} units out, "
            f"but only {exc.data['available_quantity']} are available now (the rest were sold, reserved or moved).",
            **exc.data,
        ) from exc
    reversing = InventoryTransaction.objects.filter(reference_type=REVERSAL, reference_id=row.transaction_number).get()
    return item, reversing
