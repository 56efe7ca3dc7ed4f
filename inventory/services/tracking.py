"""Switching a product's lot tracking (``track_lots``, ``requires_expiry``) on or off.

A lot-tracked item's lots add up to its on hand, and an untracked one has nothing in lots
(``check_ledger`` proves both). Neither can hold across a switch while units are on hand: switched
on, they would be in no lot; switched off, their lots would outlive the tracking. So ``track_lots``
changes only while the product has no units anywhere: book them out (or count them to 0), switch,
and receive them again naming their batches.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import Sum

from inventory.exceptions import DomainError, InvalidInput, NotFound
from inventory.locks import lock_candidates
from inventory.models import InventoryItem, Product, StockLot, Warehouse


class LotsRequired(DomainError):
    code = "lots_required"
    default_detail = "The product has units on hand in no lot: lot tracking can only be switched on without stock."


class LotsInUse(DomainError):
    code = "lots_in_use"
    default_detail = "The product has units on hand in lots: lot tracking can only be switched off without stock."


class UndatedLots(DomainError):
    code = "undated_lots"
    default_detail = "Some lots with units have no expiry date."


def _hold_item_slots(product_id: int) -> list[int]:
    """Insert an empty placeholder item of the product in every warehouse that has none; returns their ids.

    A movement reads ``track_lots`` after locking its items, so locking the product's items keeps
    out every movement but one that creates its item (a first receipt in a warehouse): that one locks
    nothing of ours. Its item insert and a placeholder collide on the (product, warehouse) unique
    index, though: a receipt creating its item now is waited for (and counted), and one that starts
    later waits until this transaction ends, then reads the new setting. The placeholders are deleted
    before the commit, so nobody ever sees them.
    """
    if connection.vendor != "postgresql":
        return []  # SQLite runs one writer at a time: nothing can be in flight
    warehouse_ids = list(Warehouse.objects.order_by("pk").values_list("pk", flat=True))
    if not warehouse_ids:
        return []
    fields = [f for f in InventoryItem._meta.concrete_fields if not f.primary_key and not f.generated]
    params: list = []
    for warehouse_id in warehouse_ids:
        item = InventoryItem(product_id=product_id, warehouse_id=warehouse_id)
        params += [f.get_db_prep_save(f.pre_save(item, True), connection) for f in fields]
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {InventoryItem._meta.db_table} ({columns}) VALUES {', '.join([row] * len(warehouse_ids))} "
            "ON CONFLICT (product_id, warehouse_id) DO NOTHING RETURNING id",
            params,
        )
        return [pk for (pk,) in cursor.fetchall()]


def _lock_items_and_hold_slots(product_id: int) -> list[int]:
    """Lock all items of the product, so that no movement of it runs until this transaction ends;
    returns the placeholder items to delete before it does (``_hold_item_slots``)."""
    placeholders = _hold_item_slots(product_id)
    # In the order every movement locks items: one in flight finishes (and is counted), one that
    # starts later waits and then reads the new setting.
    lock_candidates(InventoryItem.objects.filter(product_id=product_id))
    return placeholders


@transaction.atomic
def set_lot_tracking(
    *, product_id: int, track_lots: bool | None = None, requires_expiry: bool | None = None
) -> Product:
    """Change a product's lot tracking; None leaves a setting as it is.

    ``track_lots`` changes only while no units of the product are on hand (409 ``lots_required`` /
    ``lots_in_use`` otherwise). ``requires_expiry`` needs lot tracking, and is refused (409
    ``undated_lots``) while a lot with units has no expiry date. Switching tracking off clears it.
    """
    # FOR NO KEY UPDATE: concurrent switches queue here, while the foreign-key checks of movements
    # (FOR KEY SHARE, at their commit) do not wait for it, so nothing below deadlocks with them.
    product = Product.objects.select_for_update(no_key=True).filter(pk=product_id).first()
    if product is None:
        raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
    tracked = product.track_lots if track_lots is None else track_lots
    if requires_expiry is None:
        requires_expiry = product.requires_expiry and tracked
    if requires_expiry and not tracked:
        raise InvalidInput(
            "requires_expiry applies to lot-tracked products only: set track_lots as well.", field="requires_expiry"
        )
    # Only these two depend on the stock; no longer requiring expiry dates is always safe.
    placeholders: list[int] = []
    if tracked != product.track_lots or (requires_expiry and not product.requires_expiry):
        placeholders = _lock_items_and_hold_slots(product_id)
    if tracked != product.track_lots:
        on_hand = InventoryItem.objects.filter(product_id=product_id).aggregate(n=Sum("total_quantity"))["n"] or 0
        if on_hand:
            error = LotsRequired if tracked else LotsInUse
            action = "on" if tracked else "off"
            raise error(
                f"Product {product_id} has {on_hand} units on hand; lot tracking can be switched {action} only "
                "without stock: book them out (or count them to 0), switch, then receive them naming their batches.",
                product_id=product_id,
                on_hand=on_hand,
            )
    if requires_expiry and not product.requires_expiry:
        undated = StockLot.objects.filter(item__product_id=product_id, quantity__gt=0, expiry_date__isnull=True)
        batches = sorted(undated.values_list("batch_number", flat=True).distinct())
        if batches:
            raise UndatedLots(
                f"Lots {', '.join(batches[:10])}{' …' if len(batches) > 10 else ''} of product {product_id} hold "
                "units and have no expiry date: receive into each naming its expiry_date, or empty it, first.",
                product_id=product_id,
                batch_numbers=batches[:100],
            )
    # Gone before the commit; a refusal above rolls them back with everything else.
    InventoryItem.objects.filter(pk__in=placeholders).delete()
    changed = {"track_lots": tracked, "requires_expiry": requires_expiry}
    changed = {name: value for name, value in changed.items() if getattr(product, name) != value}
    for name, value in changed.items():
        setattr(product, name, value)
    if changed:
        product.save(update_fields=[*changed, "updated_at"])
    return product
