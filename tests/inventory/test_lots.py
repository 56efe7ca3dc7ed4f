"""Lot-tracked stock through the write path: which lot units join, which lots they leave from."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.exceptions import BatchRequired, ExpiryRequired, InsufficientStock, LotExpired, LotExpiryMismatch
from inventory.models import InventoryItem, InventoryTransaction, StockLot, TransactionType
from inventory.selectors import ledger_drift
from reservations.services import LineRequest, confirm_reservation, reserve_stock
from tests.factories import ProductFactory, UserFactory, WarehouseFactory
from transfers.services import complete_transfer, create_transfer, start_transfer

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = timezone.localdate()


def receive(product, warehouse, quantity, batch, expiry=None, **extra):
    return services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=quantity,
        details=services.LedgerDetails(batch_number=batch, expiry_date=expiry, **extra),
    )


def lots_of(product, warehouse):
    return {
        lot.batch_number: lot.quantity
        for lot in StockLot.objects.filter(item__product=product, item__warehouse=warehouse)
    }


@pytest.fixture
def tracked():
    return ProductFactory(track_lots=True)


@pytest.fixture
def warehouse():
    return WarehouseFactory()


@pytest.fixture
def three_lots(tracked, warehouse):
    """Received in the worst order for FEFO: the latest expiry first, the undated one in between."""
    receive(tracked, warehouse, 10, "LATE", TODAY + timedelta(days=90))
    receive(tracked, warehouse, 10, "UNDATED")
    receive(tracked, warehouse, 10, "SOON", TODAY + timedelta(days=10))
    receive(tracked, warehouse, 10, "MIDDLE", TODAY + timedelta(days=30))
    return tracked


def test_outbound_takes_earliest_expiry_first_and_undated_last(three_lots, warehouse):
    services.adjust_stock(
        product_id=three_lots.pk,
        warehouse_id=warehouse.pk,
        quantity_change=-25,
        transaction_type=TransactionType.DAMAGE,
    )
    assert lots_of(three_lots, warehouse) == {"SOON": 0, "MIDDLE": 0, "LATE": 5, "UNDATED": 10}
    rows = list(InventoryTransaction.objects.filter(transaction_type=TransactionType.DAMAGE).order_by("id"))
    # One ledger row per lot, each naming its batch and expiry, chained through on hand.
    assert [(r.batch_number, r.quantity_change, r.previous_quantity, r.new_quantity) for r in rows] == [
        ("SOON", -10, 40, 30),
        ("MIDDLE", -10, 30, 20),
        ("LATE", -5, 20, 15),
    ]
    assert rows[0].expiry_date == TODAY + timedelta(days=10)
    item = InventoryItem.objects.get(product=three_lots, warehouse=warehouse)
    assert item.total_quantity == 15
    assert item.next_expiry_date == TODAY + timedelta(days=90)
    assert ledger_drift() == []


def test_not_the_smallest_lot_but_the_earliest_expiring(tracked, warehouse):
    receive(tracked, warehouse, 3, "SMALL-LATE", TODAY + timedelta(days=60))
    receive(tracked, warehouse, 50, "BIG-SOON", TODAY + timedelta(days=5))
    services.adjust_stock(product_id=tracked.pk, warehouse_id=warehouse.pk, quantity_change=-3)
    assert lots_of(tracked, warehouse) == {"SMALL-LATE": 3, "BIG-SOON": 47}


def test_named_batch_is_taken_from_that_lot(three_lots, warehouse):
    services.adjust_stock(
        product_id=three_lots.pk,
        warehouse_id=warehouse.pk,
        quantity_change=-4,
        details=services.LedgerDetails(batch_number="LATE"),
    )
    assert lots_of(three_lots, warehouse)["LATE"] == 6
    with pytest.raises(InsufficientStock):
        services.adjust_stock(
            product_id=three_lots.pk,
            warehouse_id=warehouse.pk,
            quantity_change=-7,
            details=services.LedgerDetails(batch_number="LATE"),
        )
    assert lots_of(three_lots, warehouse)["LATE"] == 6


def test_sale_confirms_first_expired_first_out_and_never_an_expired_lot(tracked, warehouse):
    receive(tracked, warehouse, 5, "GONE", TODAY - timedelta(days=1))
    receive(tracked, warehouse, 5, "LATER", TODAY + timedelta(days=20))
    receive(tracked, warehouse, 5, "TODAY", TODAY)  # sellable on its expiry day
    user = UserFactory()
    reservation = reserve_stock(
        lines=[LineRequest(product_id=tracked.pk, warehouse_id=warehouse.pk, quantity=7)], user=user
    )
    confirm_reservation(reservation_id=reservation.pk, user=user)
    assert lots_of(tracked, warehouse) == {"GONE": 5, "TODAY": 0, "LATER": 3}
    sales = InventoryTransaction.objects.filter(transaction_type=TransactionType.SALE).order_by("id")
    assert [(r.batch_number, r.quantity_change) for r in sales] == [("TODAY", -5), ("LATER", -2)]
    assert all(r.reference_id == str(reservation.pk) for r in sales)
    # Only expired units are left to sell: the confirm is refused and changes nothing.
    second = reserve_stock(lines=[LineRequest(product_id=tracked.pk, warehouse_id=warehouse.pk, quantity=8)], user=user)
    with pytest.raises(LotExpired):
        confirm_reservation(reservation_id=second.pk, user=user)
    assert lots_of(tracked, warehouse) == {"GONE": 5, "TODAY": 0, "LATER": 3}
    assert InventoryItem.objects.get(product=tracked, warehouse=warehouse).reserved_quantity == 8
    assert ledger_drift() == []


def test_transfer_carries_its_lots_to_the_destination(three_lots, warehouse):
    destination = WarehouseFactory()
    transfer = create_transfer(
        product_id=three_lots.pk, from_warehouse_id=warehouse.pk, to_warehouse_id=destination.pk, quantity=15
    )
    start_transfer(transfer_id=transfer.pk)
    assert lots_of(three_lots, warehouse) == {"SOON": 0, "MIDDLE": 5, "LATE": 10, "UNDATED": 10}
    complete_transfer(transfer_id=transfer.pk)
    assert lots_of(three_lots, destination) == {"SOON": 10, "MIDDLE": 5}
    arrived = StockLot.objects.get(item__warehouse=destination, batch_number="SOON")
    assert arrived.expiry_date == TODAY + timedelta(days=10)
    item = InventoryItem.objects.get(product=three_lots, warehouse=destination)
    assert (item.total_quantity, item.next_expiry_date) == (15, TODAY + timedelta(days=10))
    assert ledger_drift() == []


def test_inbound_must_name_its_lot_and_changes_nothing_otherwise(warehouse):
    product = ProductFactory(track_lots=True, requires_expiry=True)
    with pytest.raises(BatchRequired):
        services.receive_stock(product_id=product.pk, warehouse_id=warehouse.pk, quantity=5)
    with pytest.raises(ExpiryRequired):
        receive(product, warehouse, 5, "B1")
    receive(product, warehouse, 5, "B1", TODAY + timedelta(days=3))
    with pytest.raises(LotExpiryMismatch):
        receive(product, warehouse, 5, "B1", TODAY + timedelta(days=4))
    assert lots_of(product, warehouse) == {"B1": 5}
    assert InventoryTransaction.objects.filter(product=product).count() == 1


def test_count_of_a_tracked_item_is_per_lot(three_lots, warehouse):
    item, _ = services.set_stock_count(
        product_id=three_lots.pk,
        warehouse_id=warehouse.pk,
        counted_quantity=7,
        expected_quantity=10,
        details=services.LedgerDetails(batch_number="MIDDLE"),
    )
    assert lots_of(three_lots, warehouse)["MIDDLE"] == 7
    assert item.total_quantity == 37
    services.set_stock_count(
        product_id=three_lots.pk,
        warehouse_id=warehouse.pk,
        counted_quantity=4,
        details=services.LedgerDetails(batch_number="FOUND", expiry_date=date(2030, 1, 1)),
    )
    assert lots_of(three_lots, warehouse)["FOUND"] == 4
    with pytest.raises(BatchRequired):
        services.set_stock_count(product_id=three_lots.pk, warehouse_id=warehouse.pk, counted_quantity=1)
    assert ledger_drift() == []


def test_undo_puts_back_the_same_lot(three_lots, warehouse):
    services.adjust_stock(
        product_id=three_lots.pk,
        warehouse_id=warehouse.pk,
        quantity_change=-3,
        transaction_type=TransactionType.THEFT,
        details=services.LedgerDetails(batch_number="LATE"),
    )
    row = InventoryTransaction.objects.get(transaction_type=TransactionType.THEFT)
    services.reverse_transaction(transaction_id=row.pk)
    assert lots_of(three_lots, warehouse)["LATE"] == 10
    assert ledger_drift() == []


def test_more_units_of_a_dated_lot_need_not_repeat_its_expiry(warehouse):
    product = ProductFactory(track_lots=True, requires_expiry=True)
    receive(product, warehouse, 5, "B1", TODAY + timedelta(days=9))
    receive(product, warehouse, 2, "B1")  # a return into the same batch: its date is known
    assert lots_of(product, warehouse) == {"B1": 7}
    with pytest.raises(ExpiryRequired):
        receive(product, warehouse, 2, "B2")  # a new batch must bring its date
    assert ledger_drift() == []
