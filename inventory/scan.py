"""The scan station's work: what a scanned code names, the four bookings, and the lists to undo from.

Bookings go through the services like every other stock change; their ledger rows carry
``reference_type = "scan"``, so the station lists a person's latest bookings from the ledger itself
(they survive a reload or a new session) and can tell which were undone (``services.REVERSAL``).
Moves between stock states change no on-hand, so they have no ledger row: their own audit rows
(``StockStateMove``) are the list, and undoing one moves the units back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from inventory import services
from inventory.exceptions import InvalidState
from inventory.models import (
    InventoryItem,
    InventoryTransaction,
    Product,
    StockLot,
    StockState,
    StockStateMove,
    TransactionType,
    Warehouse,
)

SCAN_REFERENCE = "scan"  # reference_type of the station's ledger rows
RECENT_BOOKINGS = 10
_MAX_CODE = 128


class Mode(models.TextChoices):
    RECEIVE = "receive", "Receive"
    COUNT = "count", "Count"
    DAMAGED = "damaged", "Move out as damaged"
    MOVE_STATE = "move_state", "Move state"


class ScanError(Exception):
    """A code that names nothing, or more than one thing, or an item of another warehouse."""


@dataclass(frozen=True)
class Target:
    """What a code names in the station's warehouse; ``item`` is None when it was never stocked there."""

    product: Product
    warehouse: Warehouse
    item: InventoryItem | None
    matched: str  # "GTIN", "item barcode" or "SKU"
    lots: tuple[StockLot, ...] = ()  # a lot-tracked item's lots with units, earliest expiry first

    @property
    def tracked(self) -> bool:
        return self.product.track_lots

    @property
    def on_hand(self) -> int:
        return self.item.total_quantity if self.item else 0

    @property
    def not_for_sale(self) -> list[tuple[str, int]]:
        """(state label, units) of the item's damaged, quality control and safety stock units, where any."""
        return self.item.units_not_for_sale() if self.item is not None else []

    @property
    def available(self) -> int:
        return self.item.available_quantity if self.item else 0

    @property
    def reserved(self) -> int:
        return self.item.reserved_quantity if self.item else 0


@dataclass(frozen=True, kw_only=True)
class Receipt:
    """What a delivery line records besides its quantity."""

    cost_per_unit: Decimal | None = None
    supplier_id: int | None = None
    batch_number: str = ""
    expiry_date: date | None = None
    reference_id: str = ""


def _gtin_forms(code: str) -> list[str]:
    """A GTIN as EAN-8, UPC-A (12), EAN-13 or GTIN-14: scanners add or drop leading zeros (a UPC-A read
    as EAN-13 gains one), so every zero-padded length of the same number is the same article."""
    if not code.isdigit() or len(code) > 14:
        return [code]
    digits = code.lstrip("0") or "0"
    return sorted({code, *(digits.zfill(n) for n in (8, 12, 13, 14) if len(digits) <= n)})


def resolve_code(code: str, *, warehouse: Warehouse) -> Target:
    """The product (and its item in ``warehouse``) named by a GTIN, an item barcode or a SKU."""
    code = code.strip()
    if not code:
        raise ScanError("Scan or type a code (GTIN, item barcode or SKU).")
    if len(code) > _MAX_CODE or "\x00" in code:
        raise ScanError("That is not a code this station knows: no GTIN, item barcode or SKU is that long.")
    named: dict[int, list[str]] = {}
    labelled = InventoryItem.objects.select_related("warehouse").filter(barcode=code).first()
    if labelled is not None:
        if labelled.warehouse_id != warehouse.pk:
            raise ScanError(
                f"Barcode {code} labels a shelf in {labelled.warehouse.code}, not in {warehouse.code}. "
                "Scan the product's GTIN or type its SKU, or switch the station's warehouse."
            )
        named.setdefault(labelled.product_id, []).append("item barcode")
    exact = Product.objects.filter(Q(sku=code) | Q(barcode__in=_gtin_forms(code)))
    for product in exact.only("pk", "sku", "barcode"):
        named.setdefault(product.pk, []).append("SKU" if product.sku == code else "GTIN")
    if not named:
        # A SKU typed by hand in the wrong case; only when nothing matched exactly.
        for pk in Product.objects.filter(sku__iexact=code).values_list("pk", flat=True)[:5]:
            named.setdefault(pk, []).append("SKU")
    if not named:
        raise ScanError(f"Unknown code {code}: no product GTIN, item barcode or SKU matches it.")
    products = {p.pk: p for p in Product.objects.filter(pk__in=named)}
    if len(named) > 1:
        which = "; ".join(f"{' and '.join(kinds)} of {products[pk].sku}" for pk, kinds in sorted(named.items()))
        raise ScanError(
            f"Code {code} is ambiguous: it is the {which}. Scan the shelf's item barcode or type the exact SKU."
        )
    ((product_id, kinds),) = named.items()
    item = InventoryItem.objects.filter(product_id=product_id, warehouse_id=warehouse.pk).first()
    product = products[product_id]
    lots = tuple(lots_with_units(item)) if product.track_lots else ()
    return Target(product=product, warehouse=warehouse, item=item, matched=kinds[0], lots=lots)


def lots_with_units(item: InventoryItem | None) -> list[StockLot]:
    """An item's lots that hold units, earliest expiry first (the order outbound units leave in)."""
    if item is None or item.pk is None:
        return []
    return list(StockLot.objects.filter(item=item, quantity__gt=0))


def lot_quantities(item: InventoryItem | None) -> dict[str, int]:
    """{batch: units} of every lot of the item, empty ones too (what a count of a batch is checked against)."""
    if item is None or item.pk is None:
        return {}
    return dict(StockLot.objects.filter(item=item).values_list("batch_number", "quantity"))


def known_expiry(item: InventoryItem | None, batch_number: str, typed: date | None) -> date | None:
    """The expiry of units booked into ``batch_number``, as the confirmation shows it: the one typed, else the
    batch's own (units added to a dated batch keep its date: ``services.lots.lot_for_inbound``)."""
    if typed is not None or item is None or item.pk is None or not batch_number.strip():
        return typed
    return (
        StockLot.objects.filter(item=item, batch_number=batch_number.strip())
        .values_list("expiry_date", flat=True)
        .first()
    )


def book_scan(
    *,
    mode: str,
    target: Target,
    quantity: int,
    user: AbstractBaseUser,
    expected_on_hand: int | None = None,
    receipt: Receipt | None = None,
    reason: str = "",
    batch_number: str = "",
    expiry_date: date | None = None,
    from_state: str = StockState.AVAILABLE,
    to_state: str = StockState.DAMAGED,
) -> InventoryItem:
    """Book one scan through the services: a receipt, a count (refused if the on-hand, or for a lot-tracked
    product the counted batch's units, is no longer ``expected_on_hand``), units moved out as damaged
    (a lot-tracked product's from ``batch_number``, or earliest expiry first), or units moved between states."""
    product_id, warehouse_id = target.product.pk, target.warehouse.pk
    if mode == Mode.RECEIVE:
        receipt = receipt or Receipt()
        return services.receive_stock(
            product_id=product_id,
            warehouse_id=warehouse_id,
            quantity=quantity,
            details=services.LedgerDetails(
                reason=reason or "Received at the scan station",
                reference_type=SCAN_REFERENCE,
                reference_id=receipt.reference_id,
                cost_per_unit=receipt.cost_per_unit,
                batch_number=receipt.batch_number,
                supplier_id=receipt.supplier_id,
                received_date=timezone.localdate(),
                expiry_date=receipt.expiry_date,
            ),
            user=user,
        )
    if mode == Mode.COUNT:
        item, _ = services.set_stock_count(
            product_id=product_id,
            warehouse_id=warehouse_id,
            counted_quantity=quantity,
            expected_quantity=expected_on_hand,
            details=services.LedgerDetails(
                reason=reason or "Counted at the scan station",
                reference_type=SCAN_REFERENCE,
                batch_number=batch_number,
                expiry_date=expiry_date,
            ),
            user=user,
        )
        return item
    if mode == Mode.DAMAGED:
        return services.adjust_stock(
            product_id=product_id,
            warehouse_id=warehouse_id,
            quantity_change=-quantity,
            transaction_type=TransactionType.DAMAGE,
            details=services.LedgerDetails(
                reason=reason or "Damaged", reference_type=SCAN_REFERENCE, batch_number=batch_number
            ),
            user=user,
        )
    if mode == Mode.MOVE_STATE:
        item, _ = services.move_stock_state(
            product_id=product_id,
            warehouse_id=warehouse_id,
            quantity=quantity,
            from_state=from_state,
            to_state=to_state,
            reason=reason,
            user=user,
        )
        return item
    raise ValueError(f"unknown scan mode {mode!r}")


@dataclass(frozen=True)
class Booking:
    """A ledger row booked at the station, and the row that undid it if any."""

    row: InventoryTransaction
    undone_by: InventoryTransaction | None


def recent_bookings(user: AbstractBaseUser, *, limit: int = RECENT_BOOKINGS) -> list[Booking]:
    """This person's latest station bookings, newest first (two queries)."""
    rows = list(
        InventoryTransaction.objects.filter(created_by=user, reference_type=SCAN_REFERENCE)
        .select_related("product", "warehouse")
        .order_by("-id")[:limit]
    )
    undos = {
        r.reference_id: r
        for r in InventoryTransaction.objects.filter(
            reference_type=services.REVERSAL, reference_id__in=[r.transaction_number for r in rows]
        )
    }
    return [Booking(row=r, undone_by=undos.get(r.transaction_number)) for r in rows]


def own_booking(user: AbstractBaseUser, transaction_id: int) -> InventoryTransaction | None:
    """The station booking ``transaction_id`` if this person made it (only those can be undone here)."""
    return (
        InventoryTransaction.objects.filter(pk=transaction_id, created_by=user, reference_type=SCAN_REFERENCE)
        .select_related("product", "warehouse")
        .first()
    )


UNDO_MOVE_REASON = "Undo of state move #{}"  # the reason of the move that undid move {} (one undo per move)


@dataclass(frozen=True)
class StateMove:
    """A state move made by a person, and the move that undid it if any."""

    move: StockStateMove
    undone_by: StockStateMove | None

    @property
    def is_undo(self) -> bool:
        return self.move.reason.startswith(UNDO_MOVE_REASON.format(""))

    @property
    def from_label(self) -> str:
        return StockState(self.move.from_state).label

    @property
    def to_label(self) -> str:
        return StockState(self.move.to_state).label


def recent_state_moves(user: AbstractBaseUser, *, limit: int = RECENT_BOOKINGS) -> list[StateMove]:
    """This person's latest moves between stock states (station or item page), newest first (two queries)."""
    moves = list(
        StockStateMove.objects.filter(created_by=user)
        .select_related("item__product", "item__warehouse")
        .order_by("-id")[:limit]
    )
    reasons = {UNDO_MOVE_REASON.format(m.pk): m.pk for m in moves}
    undos = {reasons[m.reason]: m for m in StockStateMove.objects.filter(reason__in=reasons)}
    return [StateMove(move=m, undone_by=undos.get(m.pk)) for m in moves]


@transaction.atomic
def undo_state_move(*, user: AbstractBaseUser, move_id: int) -> tuple[InventoryItem, StockStateMove] | None:
    """Move the units of this person's state move ``move_id`` back, once; None if it is not theirs."""
    # The audit row's lock serialises two undos of the same move: the second sees the first's move.
    move = StockStateMove.objects.select_for_update().filter(pk=move_id, created_by=user).first()
    if move is None:
        return None
    if move.reason.startswith(UNDO_MOVE_REASON.format("")):
        raise InvalidState("That move is itself an undo; move the units again instead.")
    reason = UNDO_MOVE_REASON.format(move.pk)
    if done := StockStateMove.objects.filter(item_id=move.item_id, reason=reason).first():
        raise InvalidState(f"That move was already undone (at {timezone.localtime(done.created_at):%H:%M:%S}).")
    item = InventoryItem.objects.get(pk=move.item_id)
    return services.move_stock_state(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity=move.quantity,
        from_state=move.to_state,
        to_state=move.from_state,
        reason=reason,
        user=user,
    )
