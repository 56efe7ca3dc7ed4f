"""Reads that are more than a one-line query."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import F, IntegerField, OuterRef, Q, Subquery, Sum, Value, Window
from django.db.models.functions import Coalesce, Lag
from django.utils import timezone

from inventory.models import NOT_FOR_SALE, InventoryItem, InventoryTransaction, StockLot, StockStateMove, state_field

# Callables returning {item_id: units held}. Apps that hold stock (reservations, transfers)
# register one, so the ledger check can verify reserved_quantity without importing them.
HoldSource = Callable[[], dict[int, int]]
HOLD_SOURCES: dict[str, HoldSource] = {}


def register_hold_source(name: str, source: HoldSource) -> None:
    HOLD_SOURCES[name] = source


def lots_of(product_id: int, warehouse_id: int | None = None, *, today: date | None = None) -> list[dict[str, Any]]:
    """The lots of a product holding units (in one warehouse, or all), in the order outbound units take
    them (``StockLot.Meta.ordering``); ``expired`` as of ``today`` (``StockLot.is_expired``)."""
    today = today or timezone.localdate()
    lots = StockLot.objects.filter(item__product_id=product_id, quantity__gt=0).select_related("item")
    if warehouse_id is not None:
        lots = lots.filter(item__warehouse_id=warehouse_id)
    return [
        {
            "id": lot.pk,
            "batch_number": lot.batch_number,
            "expiry_date": lot.expiry_date,
            "received_date": lot.received_date,
            "supplier_id": lot.supplier_id,
            "quantity": lot.quantity,
            "warehouse_id": lot.item.warehouse_id,
            "expired": lot.is_expired(today),
        }
        for lot in lots.only(
            "batch_number", "expiry_date", "received_date", "supplier_id", "quantity", "item__warehouse_id"
        )
    ]


@dataclass(frozen=True)
class Drift:
    item_id: int
    product_id: int
    warehouse_id: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return (
            f"item {self.item_id} (product {self.product_id}, warehouse {self.warehouse_id}) {self.kind}: {self.detail}"
        )


def ledger_drift() -> list[Drift]:
    """Every way the ledger and the stock rows disagree; empty when the books balance."""
    drifts: list[Drift] = []

    ledger_sum = (
        InventoryTransaction.objects.filter(product_id=OuterRef("product_id"), warehouse_id=OuterRef("warehouse_id"))
        .order_by()
        .values("product_id", "warehouse_id")
        .annotate(total=Sum("quantity_change"))
        .values("total")
    )
    unbalanced = (
        InventoryItem.objects.annotate(
            ledger_total=Coalesce(Subquery(ledger_sum, output_field=IntegerField()), Value(0))
        )
        .exclude(ledger_total=F("total_quantity"))
        .values_list("pk", "product_id", "warehouse_id", "total_quantity", "ledger_total")
    )
    for pk, product_id, warehouse_id, total, ledger_total in unbalanced:
        drifts.append(
            Drift(pk, product_id, warehouse_id, "sum", f"on hand is {total} but the ledger sums to {ledger_total}")
        )

    # Each row must start where the item's previous row ended (the first one at zero).
    broken_links = (
        InventoryTransaction.objects.annotate(
            before=Window(
                Lag("new_quantity"), partition_by=[F("product_id"), F("warehouse_id")], order_by=F("id").asc()
            )
        )
        .filter(
            (Q(before__isnull=True) & ~Q(previous_quantity=0))
            | (Q(before__isnull=False) & ~Q(previous_quantity=F("before")))
        )
        .values_list("transaction_number", "product_id", "warehouse_id", "previous_quantity", "before")
    )
    broken = list(broken_links)
    items: dict[tuple[int, int], int] = {}
    if broken:
        items = {(p, w): pk for pk, p, w in InventoryItem.objects.values_list("pk", "product_id", "warehouse_id")}
    for number, product_id, warehouse_id, previous, before in broken:
        drifts.append(
            Drift(
                items.get((product_id, warehouse_id), 0),
                product_id,
                warehouse_id,
                "chain",
                f"{number} starts at {previous} but the row before ended at {before or 0}",
            )
        )

    held: dict[int, int] = {}
    for source in HOLD_SOURCES.values():
        for item_id, quantity in source().items():
            held[item_id] = held.get(item_id, 0) + quantity
    reserved = InventoryItem.objects.exclude(reserved_quantity=0).values_list(
        "pk", "product_id", "warehouse_id", "reserved_quantity"
    )
    seen = set()
    for pk, product_id, warehouse_id, quantity in reserved:
        seen.add(pk)
        if held.get(pk, 0) != quantity:
            drifts.append(
                Drift(
                    pk,
                    product_id,
                    warehouse_id,
                    "reserved",
                    f"{quantity} reserved but holds add up to {held.get(pk, 0)}",
                )
            )
    for pk in set(held) - seen:
        if held[pk]:
            item = InventoryItem.objects.get(pk=pk)
            drifts.append(
                Drift(pk, item.product_id, item.warehouse_id, "reserved", f"0 reserved but holds add up to {held[pk]}")
            )
    drifts += _lot_drift()
    drifts += _state_drift()
    return drifts


def _lot_drift() -> list[Drift]:
    """A lot-tracked item's lots add up to its on hand; an untracked item has no units in lots."""
    lot_sum = (
        StockLot.objects.filter(item_id=OuterRef("pk"))
        .order_by()
        .values("item_id")
        .annotate(t=Sum("quantity"))
        .values("t")
    )
    rows = (
        InventoryItem.objects.annotate(in_lots=Coalesce(Subquery(lot_sum, output_field=IntegerField()), Value(0)))
        .filter(
            Q(product__track_lots=True) & ~Q(in_lots=F("total_quantity")) | Q(product__track_lots=False, in_lots__gt=0)
        )
        .values_list("pk", "product_id", "warehouse_id", "total_quantity", "in_lots", "product__track_lots")
    )
    return [
        Drift(
            pk,
            product_id,
            warehouse_id,
            "lots",
            f"on hand is {total} but its lots hold {in_lots}"
            if tracked
            else f"the product is not lot-tracked but its lots hold {in_lots}",
        )
        for pk, product_id, warehouse_id, total, in_lots, tracked in rows
    ]


def _state_drift() -> list[Drift]:
    """Each not-for-sale state's units equal what moved into it, less what moved out, plus its ledger rows
    (receipts into it, disposals from it); so available + reserved is proven too, by the on-hand sum."""
    drifts = []
    for state in NOT_FOR_SALE:
        column = state_field(state)

        def moved(direction: str, state: str = state) -> Subquery:
            moves = (
                StockStateMove.objects.filter(item_id=OuterRef("pk"), **{direction: state})
                .order_by()
                .values("item_id")
                .annotate(t=Sum("quantity"))
                .values("t")
            )
            return Coalesce(Subquery(moves, output_field=IntegerField()), Value(0))

        booked = (
            InventoryTransaction.objects.filter(
                product_id=OuterRef("product_id"), warehouse_id=OuterRef("warehouse_id"), stock_state=state
            )
            .order_by()
            .values("product_id")
            .annotate(t=Sum("quantity_change"))
            .values("t")
        )
        rows = (
            InventoryItem.objects.annotate(
                expected=moved("to_state")
                - moved("from_state")
                + Coalesce(Subquery(booked, output_field=IntegerField()), Value(0))
            )
            .exclude(expected=F(column))
            .values_list("pk", "product_id", "warehouse_id", column, "expected")
        )
        drifts += [
            Drift(pk, product_id, warehouse_id, state, f"{actual} {state} but moves and ledger say {expected}")
            for pk, product_id, warehouse_id, actual, expected in rows
        ]
    return drifts
