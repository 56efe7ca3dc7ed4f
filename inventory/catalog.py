"""Writes to products: the API and the admin both call these, and they register what must follow a
change (a renamed SKU is part of every cached item of the product)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import transaction

from inventory import events
from inventory.exceptions import InvalidInput, NotFound
from inventory.models import Category, Product

# Fields of a product that appear in stock payloads (cache, live feed): changing one refreshes them.
_IN_STOCK_PAYLOADS = frozenset({"sku"})
_EDITABLE = frozenset({"sku", "name", "barcode", "category", "is_active"})


def _category(value: Category | str | None) -> Category | None:
    """A category given by instance (admin form) or by name (API), created on first use."""
    if value is None or isinstance(value, Category):
        return value
    return Category.objects.get_or_create(name=value)[0]


@transaction.atomic
def create_product(*, fields: Mapping[str, Any]) -> Product:
    """Create a validated product (it has no stock yet, so nothing cached needs refreshing)."""
    if unknown := set(fields) - _EDITABLE:
        raise InvalidInput(f"Unknown product fields: {', '.join(sorted(unknown))}.")
    values = dict(fields)
    if "category" in values:
        values["category"] = _category(values["category"])
    return Product.objects.create(**values)


@transaction.atomic
def update_product(*, product_id: int, changes: Mapping[str, Any]) -> Product:
    """Apply validated field changes to a product; cached stock of the product follows a new SKU."""
    if unknown := set(changes) - _EDITABLE:
        raise InvalidInput(f"Unknown product fields: {', '.join(sorted(unknown))}.")
    changes = dict(changes)
    if "category" in changes:
        changes["category"] = _category(changes["category"])
    product = Product.objects.select_for_update().filter(pk=product_id).first()
    if product is None:
        raise NotFound(f"Unknown product {product_id}.", product_id=product_id)
    changed = [name for name, value in changes.items() if getattr(product, name) != value]
    for name in changed:
        setattr(product, name, changes[name])
    if changed:
        product.save(update_fields=[*changed, "updated_at"])
    if _IN_STOCK_PAYLOADS.intersection(changed):
        events.products_changed([product.pk])
    return product
