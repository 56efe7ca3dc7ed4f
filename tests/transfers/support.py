"""Helpers for the transfers tests: the usual setup and exact views of stock, ledger and transfers."""

from __future__ import annotations

from dataclasses import dataclass

from inventory.models import InventoryItem, InventoryTransaction, Product, Warehouse
from transfers.models import Transfer

START_QUANTITY = 20


@dataclass
class Setup:
    product: Product
    source: Warehouse
    destination: Warehouse

    def create_kwargs(self, quantity: int = 5, **extra) -> dict:
        return {
            "product_id": self.product.pk,
            "from_warehouse_id": self.source.pk,
            "to_warehouse_id": self.destination.pk,
            "quantity": quantity,
            **extra,
        }


def quantities(product: Product, warehouse: Warehouse) -> tuple[int, int, int] | None:
    """(available, reserved, total) of the item, or None when the warehouse has no row for the product."""
    return (
        InventoryItem.objects.filter(product=product, warehouse=warehouse)
        .values_list("available_quantity", "reserved_quantity", "total_quantity")
        .first()
    )


def ledger(product: Product, warehouse: Warehouse) -> list[tuple[str, int, int, int, str, str]]:
    """The item's ledger, oldest first: (type, change, previous, new, reference_type, reference_id)."""
    return list(
        InventoryTransaction.objects.filter(product=product, warehouse=warehouse)
        .order_by("id")
        .values_list(
            "transaction_type", "quantity_change", "previous_quantity", "new_quantity", "reference_type", "reference_id"
        )
    )


def snapshot() -> tuple:
    """Everything a refused operation must leave untouched."""
    items = list(InventoryItem.objects.order_by("pk").values_list("pk", "available_quantity", "reserved_quantity"))
    transfers = list(
        Transfer.objects.order_by("pk").values_list("pk", "status", "started_at", "completed_at", "cancelled_at")
    )
    return items, transfers, InventoryTransaction.objects.count()
