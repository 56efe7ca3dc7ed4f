"""Every transition of a transfer, with exact stock and ledger on both sides after each step."""

import uuid

import pytest

from inventory.exceptions import InsufficientStock, InvalidInput, InvalidTransition, NotFound
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item
from tests.transfers.support import ledger, quantities, snapshot
from transfers import services
from transfers.models import Transfer, TransferStatus
from transfers.selectors import held_by_pending_transfers

pytestmark = pytest.mark.django_db

PURCHASE = ("purchase", 20, 0, 20, "", "")


def _transfer_row(change: int, previous: int, transfer: Transfer) -> tuple:
    return ("transfer", change, previous, previous + change, "transfer", str(transfer.pk))


def test_create_holds_the_units_at_the_source(setup):
    user = UserFactory()
    transfer = services.create_transfer(**setup.create_kwargs(5, requested_by="Store 12", notes="Restock"), user=user)
    transfer.refresh_from_db()
    assert (transfer.status, transfer.quantity, transfer.requested_by, transfer.notes) == (
        "pending",
        5,
        "Store 12",
        "Restock",
    )
    assert transfer.created_by == user and transfer.created_at is not None
    assert (transfer.started_at, transfer.completed_at, transfer.cancelled_at) == (None, None, None)
    assert quantities(setup.product, setup.source) == (15, 5, 20)
    assert quantities(setup.product, setup.destination) is None
    assert ledger(setup.product, setup.source) == [PURCHASE]  # a hold is not an on-hand change
    source_item = setup.product.inventory_items.get(warehouse=setup.source)
    assert held_by_pending_transfers() == {source_item.pk: 5}
    assert ledger_drift() == []


def test_start_takes_the_units_off_the_source_shelf(setup):
    user = UserFactory()
    transfer = services.create_transfer(**setup.create_kwargs(5))
    started = services.start_transfer(transfer_id=transfer.pk, user=user)
    assert started.status == TransferStatus.IN_TRANSIT
    transfer.refresh_from_db()
    assert transfer.status == "in_transit" and transfer.started_at is not None and transfer.started_by == user
    assert quantities(setup.product, setup.source) == (15, 0, 15)
    assert quantities(setup.product, setup.destination) is None
    assert ledger(setup.product, setup.source) == [PURCHASE, _transfer_row(-5, 20, transfer)]
    assert held_by_pending_transfers() == {}
    assert ledger_drift() == []


def test_complete_creates_the_destination_item(setup):
    user = UserFactory()
    transfer = services.create_transfer(**setup.create_kwargs(5))
    services.start_transfer(transfer_id=transfer.pk)
    services.complete_transfer(transfer_id=str(transfer.pk), user=user)
    transfer.refresh_from_db()
    assert transfer.status == "completed" and transfer.completed_by == user and transfer.completed_at is not None
    assert quantities(setup.product, setup.source) == (15, 0, 15)
    assert quantities(setup.product, setup.destination) == (5, 0, 5)
    assert ledger(setup.product, setup.source) == [PURCHASE, _transfer_row(-5, 20, transfer)]
    assert ledger(setup.product, setup.destination) == [_transfer_row(5, 0, transfer)]
    assert ledger_drift() == []


def test_complete_adds_to_an_existing_destination_item(setup):
    stocked_item(3, product=setup.product, warehouse=setup.destination)
    transfer = services.create_transfer(**setup.create_kwargs(7))
    services.start_transfer(transfer_id=transfer.pk)
    services.complete_transfer(transfer_id=transfer.pk)
    assert quantities(setup.product, setup.source) == (13, 0, 13)
    assert quantities(setup.product, setup.destination) == (10, 0, 10)
    assert ledger(setup.product, setup.destination)[-1] == _transfer_row(7, 3, transfer)
    assert ledger_drift() == []


def test_cancel_while_pending_releases_the_hold(setup):
    user = UserFactory()
    transfer = services.create_transfer(**setup.create_kwargs(5))
    services.cancel_transfer(transfer_id=transfer.pk, user=user)
    transfer.refresh_from_db()
    assert transfer.status == "cancelled" and transfer.cancelled_by == user and transfer.cancelled_at is not None
    assert transfer.started_at is None
    assert quantities(setup.product, setup.source) == (20, 0, 20)
    assert quantities(setup.product, setup.destination) is None
    assert ledger(setup.product, setup.source) == [PURCHASE]
    assert held_by_pending_transfers() == {}
    assert ledger_drift() == []


def test_cancel_in_transit_puts_the_units_back_at_the_source(setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    services.start_transfer(transfer_id=transfer.pk)
    services.cancel_transfer(transfer_id=transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == "cancelled" and transfer.started_at is not None and transfer.completed_at is None
    assert quantities(setup.product, setup.source) == (20, 0, 20)
    assert quantities(setup.product, setup.destination) is None
    assert ledger(setup.product, setup.source) == [
        PURCHASE,
        _transfer_row(-5, 20, transfer),
        _transfer_row(5, 15, transfer),
    ]
    assert ledger_drift() == []


STEPS = {
    "start": services.start_transfer,
    "complete": services.complete_transfer,
    "cancel": services.cancel_transfer,
}


@pytest.mark.parametrize(
    ("history", "attempt"),
    [
        ([], "complete"),
        (["start"], "start"),
        (["start", "complete"], "start"),
        (["start", "complete"], "complete"),
        (["start", "complete"], "cancel"),
        (["cancel"], "start"),
        (["cancel"], "complete"),
        (["cancel"], "cancel"),
        (["start", "cancel"], "start"),
        (["start", "cancel"], "complete"),
        (["start", "cancel"], "cancel"),
    ],
)
def test_forbidden_transitions_change_nothing(setup, history, attempt):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    for step in history:
        STEPS[step](transfer_id=transfer.pk)
    before = snapshot()
    status = Transfer.objects.get(pk=transfer.pk).status
    with pytest.raises(InvalidTransition) as refused:
        STEPS[attempt](transfer_id=transfer.pk)
    assert refused.value.code == "invalid_transition"
    assert refused.value.data == {"transfer_id": str(transfer.pk), "status": status}
    assert snapshot() == before
    assert ledger_drift() == []


def test_not_enough_stock_holds_nothing(setup):
    before = snapshot()
    with pytest.raises(InsufficientStock) as refused:
        services.create_transfer(**setup.create_kwargs(21))
    assert refused.value.data["shortages"][0]["available_quantity"] == 20
    assert snapshot() == before
    assert Transfer.objects.count() == 0


def test_a_source_without_the_product_has_nothing_to_send(setup):
    empty = WarehouseFactory()
    with pytest.raises(InsufficientStock):
        services.create_transfer(**setup.create_kwargs(1, from_warehouse_id=empty.pk))
    assert quantities(setup.product, empty) is None
    assert Transfer.objects.count() == 0


def test_units_held_by_a_transfer_cannot_be_held_again(setup):
    services.create_transfer(**setup.create_kwargs(15))
    with pytest.raises(InsufficientStock):
        services.create_transfer(**setup.create_kwargs(6))
    services.create_transfer(**setup.create_kwargs(5))
    assert quantities(setup.product, setup.source) == (0, 20, 20)
    assert ledger_drift() == []


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"quantity": 0}, InvalidInput),
        ({"quantity": -1}, InvalidInput),
        ({"quantity": 2**31}, InvalidInput),
        ({"quantity": True}, InvalidInput),
        ({"to_warehouse_id": "same"}, InvalidInput),
        ({"product_id": 999_999_999}, NotFound),
        ({"from_warehouse_id": 999_999_999}, NotFound),
        ({"to_warehouse_id": 999_999_999}, NotFound),
    ],
)
def test_invalid_requests_are_refused_before_anything_is_held(setup, change, error):
    kwargs = setup.create_kwargs(5)
    if change.get("to_warehouse_id") == "same":
        change = {"to_warehouse_id": setup.source.pk}
    before = snapshot()
    with pytest.raises(error):
        services.create_transfer(**{**kwargs, **change})
    assert snapshot() == before


@pytest.mark.parametrize("transfer_id", [uuid.uuid4(), str(uuid.uuid4()), "not-a-uuid", ""])
def test_unknown_or_malformed_ids_are_not_found(setup, transfer_id):
    for step in STEPS.values():
        with pytest.raises(NotFound):
            step(transfer_id=transfer_id)


def test_the_hold_source_sums_pending_transfers_per_source_item(setup):
    other_product = ProductFactory()
    other = stocked_item(10, product=other_product, warehouse=setup.destination)
    source_item = setup.product.inventory_items.get(warehouse=setup.source)
    services.create_transfer(**setup.create_kwargs(3))
    services.create_transfer(**setup.create_kwargs(4))
    shipped = services.create_transfer(**setup.create_kwargs(2))
    services.start_transfer(transfer_id=shipped.pk)
    services.create_transfer(
        product_id=other_product.pk, from_warehouse_id=setup.destination.pk, to_warehouse_id=setup.source.pk, quantity=6
    )
    assert held_by_pending_transfers() == {source_item.pk: 7, other.pk: 6}
    assert quantities(setup.product, setup.source) == (11, 7, 18)
    assert ledger_drift() == []
