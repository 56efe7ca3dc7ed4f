"""Real threads on real connections racing on one transfer: exactly one valid sequence applies."""

import random
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection

from inventory.exceptions import InsufficientStock, InvalidTransition
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from tests.transfers.support import ledger, quantities
from transfers import services
from transfers.models import Transfer

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 16
STEPS = {
    "start": services.start_transfer,
    "complete": services.complete_transfer,
    "cancel": services.cancel_transfer,
}
# The successful steps, in order, that a transfer may go through; anything else is a bug.
VALID_SEQUENCES = {
    (): "pending",
    ("start",): "in_transit",
    ("start", "complete"): "completed",
    ("cancel",): "cancelled",
    ("start", "cancel"): "cancelled",
}


def _race(transfer_id, steps: list[str]) -> tuple[list[str], list[Exception]]:
    barrier = threading.Barrier(len(steps))
    succeeded: list[str] = []
    unexpected: list[Exception] = []

    def run(step: str) -> None:
        try:
            barrier.wait()
            STEPS[step](transfer_id=transfer_id)
            succeeded.append(step)
        except InvalidTransition:
            pass
        except Exception as exc:  # a deadlock or a broken invariant would land here
            unexpected.append(exc)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(steps)) as pool:
        list(pool.map(run, steps))
    return succeeded, unexpected


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_concurrent_start_complete_cancel_apply_one_valid_sequence(seed):
    rng = random.Random(seed)
    product = ProductFactory()
    source = stocked_item(20, product=product).warehouse
    destination = WarehouseFactory()
    transfer = services.create_transfer(
        product_id=product.pk, from_warehouse_id=source.pk, to_warehouse_id=destination.pk, quantity=5
    )
    steps = [rng.choice(list(STEPS)) for _ in range(THREADS)]

    succeeded, unexpected = _race(transfer.pk, steps)

    assert unexpected == []
    transfer.refresh_from_db()
    # The order the steps committed in is the order of their timestamps.
    stamps = {"start": transfer.started_at, "complete": transfer.completed_at, "cancel": transfer.cancelled_at}
    sequence = tuple(sorted(succeeded, key=lambda step: stamps[step]))
    assert sequence in VALID_SEQUENCES, (steps, succeeded)
    assert transfer.status == VALID_SEQUENCES[sequence]
    assert {step for step, stamp in stamps.items() if stamp is not None} == set(sequence)

    shipped = [("transfer", -5, 20, 15, "transfer", str(transfer.pk))]
    returned = [("transfer", 5, 15, 20, "transfer", str(transfer.pk))]
    received = [("transfer", 5, 0, 5, "transfer", str(transfer.pk))]
    purchase = [("purchase", 20, 0, 20, "", "")]
    expected = {
        (): ((15, 5, 20), purchase, None, []),
        ("start",): ((15, 0, 15), purchase + shipped, None, []),
        ("start", "complete"): ((15, 0, 15), purchase + shipped, (5, 0, 5), received),
        ("cancel",): ((20, 0, 20), purchase, None, []),
        ("start", "cancel"): ((20, 0, 20), purchase + shipped + returned, None, []),
    }[sequence]
    assert quantities(product, source) == expected[0]
    assert ledger(product, source) == expected[1]
    assert quantities(product, destination) == expected[2]
    assert ledger(product, destination) == expected[3]
    assert ledger_drift() == []


def test_concurrent_creates_never_hold_more_than_is_available():
    product = ProductFactory()
    source = stocked_item(20, product=product).warehouse
    destination = WarehouseFactory()
    barrier = threading.Barrier(THREADS)
    outcomes: list[str] = []

    def create(_: int) -> None:
        try:
            barrier.wait()
            services.create_transfer(
                product_id=product.pk, from_warehouse_id=source.pk, to_warehouse_id=destination.pk, quantity=3
            )
            outcomes.append("created")
        except InsufficientStock:
            outcomes.append("refused")
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(create, range(THREADS)))

    assert outcomes.count("created") == 6 and outcomes.count("refused") == THREADS - 6
    assert Transfer.objects.count() == 6
    assert quantities(product, source) == (2, 18, 20)
    assert ledger_drift() == []
