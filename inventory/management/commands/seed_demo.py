"""Demo data: warehouses, categories, ~50 products with 90 days of ledger history, and their forecasts. Idempotent."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import datetime, time, timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from forecasting.models import DemandForecast
from forecasting.services import refresh_forecasts
from inventory.models import Category, InventoryItem, Product, TransactionType, Warehouse
from inventory.services import LedgerDetails, Movement, apply_movements

WAREHOUSES = [
    ("MAIN", "Main distribution centre", "1 Harbour Road, Rotterdam", 10),
    ("EAST", "East hub", "22 Oder Street, Berlin", 20),
    ("WEST", "West hub", "5 Quai de Seine, Paris", 30),
]
CATEGORIES = {
    "Electronics": ["USB-C cable", "Wireless mouse", "Keyboard", "Headphones", "Power bank", "HDMI adapter"],
    "Home": ["Coffee mug", "Tea towel", "Desk lamp", "Candle", "Cushion", "Vase", "Picture frame"],
    "Apparel": ["T-shirt", "Hoodie", "Socks", "Cap", "Scarf", "Gloves"],
    "Outdoor": ["Water bottle", "Backpack", "Tent peg set", "Head torch", "Rain jacket"],
    "Office": ["Notebook", "Gel pen", "Stapler", "Sticky notes", "Desk organiser"],
}
COLOURS = ["black", "white", "blue", "green"]
PRODUCT_COUNT = 50
HISTORY_DAYS = 90


def ean13(number: int) -> str:
    """A valid EAN-13 in the 200-299 (in-store) prefix range."""
    body = f"200{number:09d}"
    checksum = (10 - sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body)) % 10) % 10
    return body + str(checksum)


class Command(BaseCommand):
    help = "Create demo warehouses, products, 90 days of stock history and their reorder suggestions (safe to rerun)."

    def handle(self, *args, **options) -> None:
        rng = random.Random(20261121)
        with transaction.atomic():
            warehouses = [
                Warehouse.objects.get_or_create(code=code, defaults={"name": name, "address": addr, "priority": prio})[
                    0
                ]
                for code, name, addr, prio in WAREHOUSES
            ]
            products = self._products(rng)
            new_items = self._new_items(rng, products, warehouses)
        if not new_items:
            if InventoryItem.objects.filter(demand_forecast__isnull=True).exists():
                # Seeded before forecasts were part of the seed: the suggestions would stay empty until night.
                self.stdout.write(f"Demo data already present. {self._forecast()}")
            else:
                self.stdout.write("Demo data already present; nothing to do.")
            return
        self._history(rng, new_items)
        low = sum(1 for i in InventoryItem.objects.filter(pk__in=[i.pk for i in new_items]) if i.is_low_stock)
        self.stdout.write(
            f"Demo data: {len(warehouses)} warehouses, {len(products)} products, "
            f"{len(new_items)} new stock rows ({low} at or below their reorder point)."
        )
        self.stdout.write(self._forecast())

    @staticmethod
    def _forecast() -> str:
        """Store every item's forecast now, as the nightly task does, so reorder suggestions show at once."""
        refreshed = refresh_forecasts()
        to_order = DemandForecast.objects.filter(recommended_order_quantity__gt=0).count()
        return f"Reorder suggestions computed for {refreshed} items ({to_order} with something to order)."

    def _products(self, rng: random.Random) -> list[Product]:
        names = [
            (cat, f"{item} ({colour})") for cat, items in CATEGORIES.items() for item in items for colour in COLOURS
        ]
        rng.shuffle(names)
        products = []
        for n, (category_name, name) in enumerate(sorted(names[:PRODUCT_COUNT]), start=1):
            category, _ = Category.objects.get_or_create(name=category_name)
            product, _ = Product.objects.get_or_create(
                sku=f"DEMO-{n:04d}", defaults={"name": name, "category": category, "barcode": ean13(n)}
            )
            products.append(product)
        return products

    def _new_items(self, rng: random.Random, products: list[Product], warehouses: list[Warehouse]) -> list:
        existing = set(InventoryItem.objects.values_list("product_id", "warehouse_id"))
        created = []
        for product in products:
            for warehouse in rng.sample(warehouses, k=rng.choice([1, 2, 3])):
                # Draw every random value before deciding to skip, so a second run makes the same choices.
                reorder_point = rng.choice([5, 10, 15, 20, 25])
                location = (rng.choice("ABCD"), f"{rng.randint(1, 30):02d}", f"{rng.randint(1, 8)}")
                if (product.pk, warehouse.pk) in existing:
                    continue
                created.append(
                    InventoryItem.objects.create(
                        product=product,
                        warehouse=warehouse,
                        reorder_point=reorder_point,
                        reorder_quantity=reorder_point * 6,
                        max_stock_level=reorder_point * 20,
                        location_zone=location[0],
                        location_aisle=location[1],
                        location_shelf=location[2],
                    )
                )
        return created

    def _history(self, rng: random.Random, items: list[InventoryItem]) -> None:
        """Replay 90 days of receipts and sales through the write path, one batch per day."""
        start = timezone.localdate() - timedelta(days=HISTORY_DAYS)
        on_hand = {item.pk: 0 for item in items}
        # Roughly one in six items stops being replenished three weeks ago, so it ends low.
        neglected = {item.pk for item in items if rng.random() < 0.17}
        demand = {item.pk: rng.choice([0.3, 0.8, 1.5, 3.0, 5.0]) for item in items}
        days: dict[int, list[Movement]] = defaultdict(list)
        for item in items:
            opening = item.reorder_quantity + rng.randint(0, item.reorder_point * 4)
            days[0].append(self._movement(item, opening, TransactionType.PURCHASE, "Opening stock"))
            on_hand[item.pk] = opening
            for day in range(1, HISTORY_DAYS + 1):
                sold = min(on_hand[item.pk], self._poisson(rng, demand[item.pk]))
                if sold:
                    days[day].append(self._movement(item, -sold, TransactionType.SALE, "Store sale"))
                    on_hand[item.pk] -= sold
                replenish = item.pk not in neglected or day < HISTORY_DAYS - 21
                if replenish and on_hand[item.pk] <= item.reorder_point:
                    days[day].append(
                        self._movement(item, item.reorder_quantity, TransactionType.PURCHASE, "Replenishment")
                    )
                    on_hand[item.pk] += item.reorder_quantity
                elif rng.random() < 0.01 and on_hand[item.pk] > 0:
                    days[day].append(self._movement(item, -1, TransactionType.DAMAGE, "Damaged in handling"))
                    on_hand[item.pk] -= 1
        for day in sorted(days):
            when = timezone.make_aware(datetime.combine(start + timedelta(days=day), time(12, 0)))
            apply_movements(days[day], occurred_at=when)

    @staticmethod
    def _movement(item: InventoryItem, change: int, kind: str, reason: str) -> Movement:
        return Movement(
            product_id=item.product_id,
            warehouse_id=item.warehouse_id,
            quantity_change=change,
            transaction_type=kind,
            details=LedgerDetails(reason=reason, reference_type="demo"),
        )

    @staticmethod
    def _poisson(rng: random.Random, rate: float) -> int:
        # Knuth's method: fine for the small rates of demo demand.
        limit, k, p = pow(2.718281828459045, -rate), 0, 1.0
        while True:
            p *= rng.random()
            if p <= limit:
                return k
            k += 1
