"""What a ledger row records, and the rules every on-hand movement follows."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser

from inventory.exceptions import (
    InvalidInput,
)
from inventory.locks import ItemKey
from inventory.models import InventoryItem, InventoryTransaction, StockState, TransactionType

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
    """A change of on-hand quantity for one (product, warehouse).

    ``state``: which units change (``available`` by default; disposing of damaged stock is an outbound
    movement of ``damaged`` units). For a lot-tracked product ``details.batch_number`` names the lot:
    required inbound, optional outbound (first-expired-first-out when empty).
    """

    product_id: int
    warehouse_id: int
    quantity_change: int
    transaction_type: str
    expected_quantity: int | None = None
    details: LedgerDetails = field(default_factory=LedgerDetails)
    state: str = StockState.AVAILABLE

    @property
    def key(self) -> ItemKey:
        return (self.product_id, self.warehouse_id)


def new_transaction_number(now: datetime) -> str:
    """A human-readable, unique ledger number such as ``TX-20261121-4K7Q2M9XPA``."""
    # One urandom call per number (not one per character: bulk bookings make thousands); 256 is a
    # multiple of the alphabet's 32 letters, so ``byte % 32`` keeps every letter equally likely.
    return f"TX-{now:%Y%m%d}-" + "".join(_TX_ALPHABET[b % 32] for b in secrets.token_bytes(10))


def _check_sign(movement: Movement) -> None:
    if movement.quantity_change == 0:
        raise InvalidInput("quantity_change must not be zero.", field="quantity_change")
    if movement.transaction_type in INBOUND_ONLY and movement.quantity_change < 0:
        raise InvalidInput(f"A {movement.transaction_type} adds stock: quantity_change must be positive.")
    if movement.transaction_type in OUTBOUND_ONLY and movement.quantity_change > 0:
        raise InvalidInput(f"A {movement.transaction_type} removes stock: quantity_change must be negative.")
    if movement.transaction_type not in TransactionType.values:
        raise InvalidInput(f"Unknown transaction type {movement.transaction_type!r}.")
    if movement.state not in StockState.values:
        raise InvalidInput(f"Unknown stock state {movement.state!r}.", field="state")


def _ledger_row(
    item: InventoryItem,
    *,
    change: int,
    transaction_type: str,
    details: LedgerDetails,
    user: AbstractBaseUser | None,
    now: datetime,
    state: str = StockState.AVAILABLE,
) -> InventoryTransaction:
    """The ledger row of ``change`` on ``item``, whose quantities already include the change."""
    previous = item.on_hand - change
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
        stock_state=state,
    )
