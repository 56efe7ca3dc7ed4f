"""Everything that changes a transfer, and through ``inventory.services`` the stock it moves.

Each transition runs in one transaction: it locks the transfer row first, checks the move is
allowed from the current status, then changes stock through the inventory write path (which locks
the items in ascending primary key). Concurrent calls on one transfer therefore queue on its row
and apply exactly one valid sequence; the losers get ``InvalidTransition``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from inventory import events
from inventory import services as stock
from inventory.event_models import EventType
from inventory.exceptions import InvalidInput, InvalidTransition, NotFound
from inventory.locks import locked
from inventory.models import InventoryItem, InventoryTransaction, Product, TransactionType, Warehouse
from transfers.models import Transfer, TransferStatus
from transfers.selectors import parse_transfer_id

REFERENCE_TYPE = "transfer"

# status -> the statuses it may move to
ALLOWED: dict[str, frozenset[str]] = {
    TransferStatus.PENDING: frozenset({TransferStatus.IN_TRANSIT, TransferStatus.CANCELLED}),
    TransferStatus.IN_TRANSIT: frozenset({TransferStatus.COMPLETED, TransferStatus.CANCELLED}),
    TransferStatus.COMPLETED: frozenset(),
    TransferStatus.CANCELLED: frozenset(),
}
_VERBS = {
    TransferStatus.IN_TRANSIT: "started",
    TransferStatus.COMPLETED: "completed",
    TransferStatus.CANCELLED: "cancelled",
}


def _actor(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None


def _lock_transfer(transfer_id: uuid.UUID | str) -> Transfer:
    """Lock and return the transfer row; call inside ``transaction.atomic()`` before touching stock."""
    pk = parse_transfer_id(transfer_id)
    rows = locked(Transfer.objects.filter(pk=pk))
    if not rows:
        raise NotFound(f"Unknown transfer {pk}.", transfer_id=str(pk))
    return rows[0]


def _check_transition(transfer: Transfer, target: str) -> None:
    if target not in ALLOWED[transfer.status]:
        raise InvalidTransition(
            f"Transfer {transfer.pk} is {transfer.status}; it cannot be {_VERBS[target]}.",
            transfer_id=str(transfer.pk),
            status=transfer.status,
        )


def _source_item_id(transfer: Transfer) -> int:
    # The hold was taken on this item at creation, and items are never deleted.
    return InventoryItem.objects.values_list("pk", flat=True).get(
        product_id=transfer.product_id, warehouse_id=transfer.from_warehouse_id
    )


def _details(transfer: Transfer, reason: str) -> stock.LedgerDetails:
    return stock.LedgerDetails(reason=reason, reference_type=REFERENCE_TYPE, reference_id=str(transfer.pk))


def _movements(transfer: Transfer, *, warehouse_id: int, reason: str) -> list[stock.Movement]:
    """The units of an in-transit transfer going on a shelf: for a lot-tracked product one movement per
    lot that left the source (its ledger rows say which), so the same lots arrive."""
    left = (
        InventoryTransaction.objects.filter(
            reference_type=REFERENCE_TYPE,
            reference_id=str(transfer.pk),
            product_id=transfer.product_id,
            warehouse_id=transfer.from_warehouse_id,
            quantity_change__lt=0,
        )
        .exclude(batch_number="")
        .order_by("id")
    )
    details = _details(transfer, reason)
    parts = [
        (
            -row.quantity_change,
            replace(
                details,
                batch_number=row.batch_number,
                expiry_date=row.expiry_date,
                received_date=row.received_date,
                supplier_id=row.supplier_id,
            ),
        )
        for row in left
    ] or [(transfer.quantity, details)]
    return [
        stock.Movement(
            product_id=transfer.product_id,
            warehouse_id=warehouse_id,
            quantity_change=quantity,
            transaction_type=TransactionType.TRANSFER,
            details=lot_details,
        )
        for quantity, lot_details in parts
    ]


def _record(transfer: Transfer, status: str, step: str, user: AbstractBaseUser | None, now: datetime) -> None:
    transfer.status = status
    setattr(transfer, f"{step}_at", now)
    setattr(transfer, f"{step}_by", _actor(user))
    transfer.save(update_fields=["status", f"{step}_at", f"{step}_by"])
    _record_event(transfer, f"transfer.{step}")


def transfer_json(transfer: Transfer) -> dict[str, Any]:
    """The transfer as the API shows it (the ``data`` of ``transfer.*`` events)."""
    return {
        "id": str(transfer.pk),
        "product_id": transfer.product_id,
        "from_warehouse_id": transfer.from_warehouse_id,
        "to_warehouse_id": transfer.to_warehouse_id,
        "quantity": transfer.quantity,
        "status": transfer.status,
        "notes": transfer.notes,
        "requested_by": transfer.requested_by,
        "created_at": transfer.created_at,
        "started_at": transfer.started_at,
        "completed_at": transfer.completed_at,
        "cancelled_at": transfer.cancelled_at,
    }


def _record_event(transfer: Transfer, event_type: str) -> None:
    # The warehouse the step happens at: the destination receives, the source does everything else.
    at = transfer.to_warehouse_id if event_type == EventType.TRANSFER_COMPLETED else transfer.from_warehouse_id
    events.record(
        [
            events.NewEvent(
                type=event_type, product_id=transfer.product_id, warehouse_id=at, data=transfer_json(transfer)
            )
        ]
    )


def create_transfer(
    *,
    product_id: int,
    from_warehouse_id: int,
    to_warehouse_id: int,
    quantity: int,
    requested_by: str = "",
    notes: str = "",
    user: AbstractBaseUser | None = None,
) -> Transfer:
    """Create a pending transfer and hold its units at the source so they cannot be sold meanwhile."""
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= stock.MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between 1 and {stock.MAX_QUANTITY}.", field="quantity")
    if from_warehouse_id == to_warehouse_id:
        raise InvalidInput("The source and destination warehouses must differ.", field="to_warehouse_id")
    if not Product.objects.filter(pk=product_id).exists():
        raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
    found = set(Warehouse.objects.filter(pk__in=[from_warehouse_id, to_warehouse_id]).values_list("pk", flat=True))
    for warehouse_id in (from_warehouse_id, to_warehouse_id):
        if warehouse_id not in found:
            raise NotFound(f"Unknown warehouse {warehouse_id}.", warehouse_id=warehouse_id)
    with transaction.atomic():
        stock.hold_stock([((product_id, from_warehouse_id), quantity)])
        transfer = Transfer.objects.create(
            product_id=product_id,
            from_warehouse_id=from_warehouse_id,
            to_warehouse_id=to_warehouse_id,
            quantity=quantity,
            requested_by=requested_by,
            notes=notes,
            created_by=_actor(user),
        )
        _record_event(transfer, EventType.TRANSFER_CREATED)
        return transfer


@transaction.atomic
def start_transfer(*, transfer_id: uuid.UUID | str, user: AbstractBaseUser | None = None) -> Transfer:
    """Ship a pending transfer: the held units leave the source (reserved and on-hand go down)."""
    transfer = _lock_transfer(transfer_id)
    _check_transition(transfer, TransferStatus.IN_TRANSIT)
    stock.consume_held_stock(
        {_source_item_id(transfer): transfer.quantity},
        transaction_type=TransactionType.TRANSFER,
        details=_details(transfer, f"Transfer out to warehouse {transfer.to_warehouse_id}"),
        user=_actor(user),
    )
    _record(transfer, TransferStatus.IN_TRANSIT, "started", user, timezone.now())
    return transfer


@transaction.atomic
def complete_transfer(*, transfer_id: uuid.UUID | str, user: AbstractBaseUser | None = None) -> Transfer:
    """Receive an in-transit transfer: the units go on the destination's shelf (its item is created if missing)."""
    transfer = _lock_transfer(transfer_id)
    _check_transition(transfer, TransferStatus.COMPLETED)
    movements = _movements(
        transfer,
        warehouse_id=transfer.to_warehouse_id,
        reason=f"Transfer in from warehouse {transfer.from_warehouse_id}",
    )
    stock.apply_movements(movements, user=_actor(user), create_missing=True)
    _record(transfer, TransferStatus.COMPLETED, "completed", user, timezone.now())
    return transfer


@transaction.atomic
def cancel_transfer(*, transfer_id: uuid.UUID | str, user: AbstractBaseUser | None = None) -> Transfer:
    """Cancel a transfer: a pending one releases its hold, an in-transit one puts the units back at the source."""
    transfer = _lock_transfer(transfer_id)
    _check_transition(transfer, TransferStatus.CANCELLED)
    if transfer.status == TransferStatus.PENDING:
        stock.release_held_stock({_source_item_id(transfer): transfer.quantity})
    else:
        movements = _movements(
            transfer, warehouse_id=transfer.from_warehouse_id, reason="Transfer cancelled in transit: returned"
        )
        stock.apply_movements(movements, user=_actor(user))
    _record(transfer, TransferStatus.CANCELLED, "cancelled", user, timezone.now())
    return transfer
