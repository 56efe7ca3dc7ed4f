"""Switching a product's lot tracking (``track_lots``, ``requires_expiry``) on or off.

A lot-tracked item's lots add up to its on hand, and an untracked one has nothing in lots
(``check_ledger`` proves both). Neither can hold across a switch while units are on hand: switched
on, they would be in no lot; switched off, their lots would outlive the tracking. So ``track_lots``
changes only while the product has no units anywhere: book them out (or count them to 0), switch,
and receive them again naming their batches.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Sum

from inventory.exceptions import DomainError, InvalidInput, NotFound
from inventory.models import InventoryItem, Product, StockLot


class LotsRequired(DomainError):
    code = "lots_required"
    default_detail = "The product has units on hand in no lot: lot tracking can only be switched on without stock."


class LotsInUse(DomainError):
    code = "lots_in_use"
    default_detail = "The product has units on hand in lots: lot tracking can only be switched off without stock."


class UndatedLots(DomainError):
    code = "undated_lots"
    default_detail = "Some lots with units have no expiry date."


@transaction.atomic
def set_lot_tracking(
    *, product_id: int, track_lots: bool | None = None, requires_expiry: bool | None = None
) -> Product:
    """Change a product's lot tracking; None leaves a setting as it is.

    ``track_lots`` changes only while no units of the product are on hand (409 ``lots_required`` /
    ``lots_in_use`` otherwise). ``requires_expiry`` needs lot tracking, and is refused (409
    ``undated_lots``) while a lot with units has no expiry date. Switching tracking off clears it.
    """
    # Every movement that can add units holds its products FOR SHARE from before it locks its items until
    # it commits (services.lots.tracked_products): this lock waits for the ones in flight (their units are
    # then counted below) and makes later ones wait, then read the new setting.
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
    changed = {"track_lots": tracked, "requires_expiry": requires_expiry}
    changed = {name: value for name, value in changed.items() if getattr(product, name) != value}
    for name, value in changed.items():
        setattr(product, name, value)
    if changed:
        product.save(update_fields=[*changed, "updated_at"])
    return product
