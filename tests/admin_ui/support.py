"""Helpers for the back-office tests: messages shown after a redirect, reservations and transfers to act on."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from inventory.models import InventoryItem, InventoryTransaction
from reservations import services as reservation_services
from reservations.models import StockReservation
from reservations.services import LineRequest


def shown_messages(response) -> list[tuple[str, str]]:
    """(level, text) of the messages on the page a followed redirect ended on."""
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def reserve(item: InventoryItem, quantity: int, **kwargs) -> StockReservation:
    return reservation_services.reserve_stock(
        lines=[LineRequest(product_id=item.product_id, warehouse_id=item.warehouse_id, quantity=quantity)], **kwargs
    )


def make_overdue(reservation: StockReservation) -> None:
    """Past its expiry, not swept yet (as between two sweeps)."""
    now = timezone.now()
    StockReservation.objects.filter(pk=reservation.pk).update(
        created_at=now - timedelta(minutes=20), expires_at=now - timedelta(seconds=5)
    )


def stock(item: InventoryItem) -> tuple[int, int, int]:
    """(available, reserved, on hand) of the item now."""
    return InventoryItem.objects.values_list("available_quantity", "reserved_quantity", "total_quantity").get(
        pk=item.pk
    )


def ledger_size() -> int:
    return InventoryTransaction.objects.count()
