"""Moving on-hand units between states: available, damaged, quality control, safety stock."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from inventory import events
from inventory.exceptions import InvalidInput, NotFound
from inventory.locks import lock_items
from inventory.models import InventoryItem, StockState, StockStateMove, state_field
from inventory.services.ledger import MAX_QUANTITY
from inventory.services.movements import _save_quantities, cannot_remove


@transaction.atomic
def move_stock_state(
    *,
    product_id: int,
    warehouse_id: int,
    quantity: int,
    from_state: str,
    to_state: str,
    reason: str,
    user: AbstractBaseUser | None = None,
) -> tuple[InventoryItem, StockStateMove]:
    """Move units of an item from one state to another; on hand is unchanged, so no ledger row:
    the move itself is the audit (who, when, how many, from, to, why). Only available units can
    be reserved or sold, so moving them out is how stock is kept back from sale."""
    for name, state in (("from", from_state), ("to", to_state)):
        if state not in StockState.values:
            raise InvalidInput(f"{name} must be one of {', '.join(StockState.values)}; got {state!r}.", field=name)
    if from_state == to_state:
        raise InvalidInput("from and to must be different states.", field="to")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= MAX_QUANTITY:
        raise InvalidInput(f"quantity must be between 1 and {MAX_QUANTITY}.", field="quantity")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the units move (reason).", field="reason")
    item = lock_items([(product_id, warehouse_id)]).get((product_id, warehouse_id))
    if item is None:
        raise NotFound(
            f"Product {product_id} has no stock record in warehouse {warehouse_id}.",
            product_id=product_id,
            warehouse_id=warehouse_id,
        )
    source, target = state_field(from_state), state_field(to_state)
    if getattr(item, source) < quantity:
        raise cannot_remove(item, quantity, from_state)
    setattr(item, source, getattr(item, source) - quantity)
    setattr(item, target, getattr(item, target) + quantity)
    now = timezone.now()
    _save_quantities([item], now, moved=False)
    move = StockStateMove.objects.create(
        item=item,
        quantity=quantity,
        from_state=from_state,
        to_state=to_state,
        reason=reason[:255],
        created_by=user if user is not None and user.is_authenticated else None,
        created_at=now,
    )
    events.items_changed([item.pk])
    return item, move
