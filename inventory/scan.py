"""The scan station's work: what a scanned code names, the three bookings, and the list to undo from.

Bookings go through the services like every other stock change; their ledger rows carry
``reference_type = "scan"``, so the station lists a person's latest bookings from the ledger itself
(they survive a reload or a new session) and can tell which were undone (``services.REVERSAL``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.db import models
from django.db.models import Q
from django.utils import timezone

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction, Product, TransactionType, Warehouse

SCAN_REFERENCE = "scan"  # reference_type of the station's ledger rows
RECENT_BOOKINGS = 10
_MAX_CODE = 128


class Mode(models.TextChoices):
    RECEIVE = "receive", "Receive"
    COUNT = "count", "Count"
    DAMAGED = "damaged", "Move out as damaged"


class ScanError(Exception):
    """A code that names nothing, or more than one thing, or an item of another warehouse."""


@dataclass(frozen=True)
class Target:
    """What a code names in the station's warehouse; ``item`` is None when it was never stocked there."""

    product: Product
    warehouse: Warehouse
    item: InventoryItem | None
    matched: str  # "GTIN", "item barcode" or "SKU"

    @property
    def on_hand(self) -> int:
        return self.item.total_quantity if self.item else 0

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
    return Target(product=products[product_id], warehouse=warehouse, item=item, matched=kinds[0])


def book_scan(
    *,
    mode: str,
    target: Target,
    quantity: int,
    user: AbstractBaseUser,
    expected_on_hand: int | None = None,
    receipt: Receipt | None = None,
    reason: str = "",
) -> InventoryItem:
    """Book one scan through the services: a receipt, a count (refused if the on-hand is no longer
    ``expected_on_hand``), or units moved out as damaged."""
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
                reason=reason or "Counted at the scan station", reference_type=SCAN_REFERENCE
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
            details=services.LedgerDetails(reason=reason or "Damaged", reference_type=SCAN_REFERENCE),
            user=user,
        )
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
