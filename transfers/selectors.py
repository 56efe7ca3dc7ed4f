"""Reads about transfers that are more than a one-line query."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from inventory.exceptions import NotFound
from inventory.models import InventoryItem
from transfers.models import Transfer, TransferStatus


def parse_transfer_id(transfer_id: uuid.UUID | str) -> uuid.UUID:
    """The transfer id as a UUID; a malformed one is as unknown as a missing one (``NotFound``)."""
    if isinstance(transfer_id, uuid.UUID):
        return transfer_id
    try:
        return uuid.UUID(str(transfer_id))
    except ValueError:
        raise NotFound(f"Unknown transfer {transfer_id}.", transfer_id=str(transfer_id)) from None


def get_transfer(transfer_id: uuid.UUID | str) -> Transfer:
    """One transfer by id, or ``NotFound``."""
    pk = parse_transfer_id(transfer_id)
    transfer = Transfer.objects.filter(pk=pk).first()
    if transfer is None:
        raise NotFound(f"Unknown transfer {pk}.", transfer_id=str(pk))
    return transfer


def held_by_pending_transfers() -> dict[int, int]:
    """Units held at each source item by pending transfers, as ``{item_id: units}`` (one query)."""
    source_item = (
        InventoryItem.objects.filter(product_id=OuterRef("product_id"), warehouse_id=OuterRef("from_warehouse_id"))
        .order_by()
        .values("pk")[:1]
    )
    rows = (
        Transfer.objects.filter(status=TransferStatus.PENDING)
        .annotate(item_id=Subquery(source_item))
        .order_by()
        .values("item_id")
        .annotate(units=Sum("quantity"))
        .values_list("item_id", "units")
    )
    return dict(rows)


def in_transit_from_item() -> Coalesce:
    """An expression for ``InventoryItem`` querysets: units of its product in transit out of its warehouse."""
    units = (
        Transfer.objects.filter(
            status=TransferStatus.IN_TRANSIT,
            product_id=OuterRef("product_id"),
            from_warehouse_id=OuterRef("warehouse_id"),
        )
        .order_by()
        .values("product_id")
        .annotate(units=Sum("quantity"))
        .values("units")
    )
    return Coalesce(Subquery(units, output_field=IntegerField()), Value(0))


def transfer_list(*, status: str | None = None, warehouse_id: int | None = None) -> QuerySet[Transfer]:
    """Transfers newest first, optionally of one status or touching one warehouse (either side)."""
    transfers = Transfer.objects.order_by("-created_at", "-id")
    if status is not None:
        transfers = transfers.filter(status=status)
    if warehouse_id is not None:
        transfers = transfers.filter(Q(from_warehouse_id=warehouse_id) | Q(to_warehouse_id=warehouse_id))
    return transfers


@dataclass(frozen=True, kw_only=True)
class Surplus:
    """Units of a product a warehouse can give away: available above the item's own reorder point."""

    product_id: int
    warehouse_id: int
    warehouse_code: str
    units: int


def surpluses(product_ids: Iterable[int]) -> dict[int, list[Surplus]]:
    """Per product, the active warehouses with a surplus of it, the largest first (one query).

    Ties go to the warehouse allocated from first (lower priority number), then the lower code.
    """
    rows = (
        InventoryItem.objects.filter(
            product_id__in=set(product_ids),
            warehouse__is_active=True,
            available_quantity__gt=F("reorder_point"),
        )
        .annotate(surplus=F("available_quantity") - F("reorder_point"))
        .order_by("product_id", "-surplus", "warehouse__priority", "warehouse__code")
        .values_list("product_id", "warehouse_id", "warehouse__code", "surplus")
    )
    found: dict[int, list[Surplus]] = defaultdict(list)
    for product_id, warehouse_id, code, units in rows:
        found[product_id].append(
            Surplus(product_id=product_id, warehouse_id=warehouse_id, warehouse_code=code, units=units)
        )
    return dict(found)


def transfer_source(found: dict[int, list[Surplus]], *, product_id: int, to_warehouse_id: int) -> Surplus | None:
    """Where to move ``product_id`` from to refill ``to_warehouse_id``: the largest surplus elsewhere, if any."""
    return next((s for s in found.get(product_id, ()) if s.warehouse_id != to_warehouse_id), None)
