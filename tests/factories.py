"""factory_boy factories; stock itself is always added through the services."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model

from inventory import services
from inventory.models import Category, InventoryItem, Product, Warehouse


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse

    code = factory.Sequence(lambda n: f"WH{n:03d}")
    name = factory.LazyAttribute(lambda w: f"Warehouse {w.code}")
    priority = factory.Sequence(lambda n: 10 + n)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name",)

    name = "General"


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda p: f"Product {p.sku}")
    category = factory.SubFactory(CategoryFactory)


def stocked_item(
    quantity: int = 0,
    *,
    product: Product | None = None,
    warehouse: Warehouse | None = None,
    **settings,
) -> InventoryItem:
    """An item with ``quantity`` units received through the write path (so the ledger balances)."""
    product = product or ProductFactory()
    warehouse = warehouse or WarehouseFactory()
    item, _ = InventoryItem.objects.get_or_create(product=product, warehouse=warehouse, defaults=settings)
    if quantity:
        services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=quantity)
    item.refresh_from_db()
    return item
