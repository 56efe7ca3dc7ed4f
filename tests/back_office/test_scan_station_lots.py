"""The scan station with lot-tracked products and stock states: a receipt names its batch, a count is of one
batch, damaged units leave earliest expiry first (or from the batch typed), and Move state moves the scanned
units between states, each undone from the station."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction, StockLot, StockStateMove
from inventory.selectors import ledger_drift
from tests.back_office.test_scan_station import enter, error, ledger_rows, page_fields, scan_and_book, station
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
SOON, LATER = TODAY + timedelta(days=20), TODAY + timedelta(days=200)


def messages_after(client, response) -> str:
    assert response.status_code == 302, error(response)
    return " ".join(str(m) for m in client.get(response["Location"]).context["messages"])


def lots(item) -> dict[str, int]:
    return dict(StockLot.objects.filter(item=item).values_list("batch_number", "quantity"))


def receive(product, warehouse, quantity: int, batch: str, expiry: date | None = None) -> InventoryItem:
    return services.receive_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity=quantity,
        details=services.LedgerDetails(batch_number=batch, expiry_date=expiry),
    )


@pytest.fixture
def warehouse():
    return WarehouseFactory(code="DOCK")


@pytest.fixture
def yoghurt(warehouse):
    """A lot-tracked product whose lots must carry an expiry, with two lots in stock (the later one first)."""
    product = ProductFactory(sku="YOG-1", name="Yoghurt", track_lots=True, requires_expiry=True)
    receive(product, warehouse, 10, "L-LATE", LATER)
    item = receive(product, warehouse, 6, "L-SOON", SOON)
    return item


def test_a_receipt_of_a_tracked_product_asks_for_the_batch_and_its_expiry_then_books_the_lot(staff_client, warehouse):
    product = ProductFactory(sku="MILK-1", track_lots=True, requires_expiry=True)
    url = station(warehouse, "receive")
    looked_up = enter(staff_client, url, staff_client.get(url), code="MILK-1")
    assert looked_up.context["target"].tracked
    assert b"Lot-tracked" in looked_up.content and b"No lots with units here yet." in looked_up.content
    assert looked_up.context["form"].fields["expiry_date"].help_text == "required for this product"

    no_batch = enter(staff_client, url, looked_up, quantity="12")
    assert no_batch.status_code == 200
    assert "MILK-1 is lot-tracked: type the batch number printed on the goods." in error(no_batch)
    assert "must carry an expiry date" in error(no_batch)
    assert "autofocus" in str(no_batch.context["form"]["batch_number"])  # the focus where the answer goes
    assert page_fields(no_batch)["quantity"] == "12"  # what was typed stays
    no_expiry = enter(staff_client, url, no_batch, batch_number="B-7")
    assert "Lots of MILK-1 must carry an expiry date" in error(no_expiry)
    assert ledger_rows() == 0

    booked = enter(staff_client, url, no_expiry, expiry_date=SOON.isoformat())
    assert f"Received 12 × MILK-1 ({product.name}) in DOCK, batch B-7 (expires {SOON.isoformat()}): 12 on hand." in (
        messages_after(staff_client, booked)
    )
    item = InventoryItem.objects.get(product=product, warehouse=warehouse)
    assert lots(item) == {"B-7": 12}
    row = InventoryTransaction.objects.get()
    assert (row.batch_number, row.expiry_date, row.reference_type) == ("B-7", SOON, "scan")


def test_a_batch_received_again_with_another_expiry_is_refused(staff_client, warehouse, yoghurt):
    url = station(warehouse, "receive")
    before = ledger_rows()
    refused = scan_and_book(
        staff_client, url, "YOG-1", "3", batch_number="L-SOON", expiry_date=(SOON + timedelta(days=1)).isoformat()
    )
    assert f"Batch 'L-SOON' expires on {SOON.isoformat()}" in error(refused)
    assert "Nothing was booked." in error(refused)
    assert ledger_rows() == before


def test_the_look_up_lists_the_lots_earliest_expiry_first_and_marks_an_expired_one(staff_client, warehouse):
    product = ProductFactory(sku="CHEESE", track_lots=True)
    receive(product, warehouse, 4, "C-LATE", LATER)
    receive(product, warehouse, 3, "C-OLD", TODAY - timedelta(days=2))
    receive(product, warehouse, 2, "C-UNDATED")
    url = station(warehouse, "count")
    looked_up = enter(staff_client, url, staff_client.get(url), code="CHEESE")
    shown = [(lot.batch_number, lot.quantity) for lot in looked_up.context["target"].lots]
    assert shown == [("C-OLD", 3), ("C-LATE", 4), ("C-UNDATED", 2)]
    html = looked_up.content.decode()
    assert f"(expired {(TODAY - timedelta(days=2)).isoformat()})" in html
    assert f"(expires {LATER.isoformat()})" in html


def test_a_count_of_a_tracked_product_is_of_the_batch_typed(staff_client, warehouse, yoghurt):
    url = station(warehouse, "count")
    looked_up = enter(staff_client, url, staff_client.get(url), code="YOG-1")
    assert looked_up.context["form"].fields["quantity"].label == "Counted in the batch"
    no_batch = enter(staff_client, url, looked_up, quantity="4")
    assert "YOG-1 is counted batch by batch" in error(no_batch)
    assert ledger_rows() == 2

    booked = enter(staff_client, url, no_batch, batch_number="L-SOON")
    message = messages_after(staff_client, booked)
    assert "Counted batch L-SOON of YOG-1 (Yoghurt) in DOCK: 4 in the batch (was 6, -2); 14 on hand." in message
    assert lots(yoghurt) == {"L-LATE": 10, "L-SOON": 4}
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.batch_number, row.new_quantity) == (
        "count",
        -2,
        "L-SOON",
        14,
    )


def test_a_count_of_a_batch_that_moved_since_the_scan_is_refused_then_booked_against_the_new_figure(
    staff_client, warehouse, yoghurt
):
    url = station(warehouse, "count")
    looked_up = enter(staff_client, url, staff_client.get(url), code="YOG-1")
    # Meanwhile a unit of that batch is thrown away elsewhere; the other batch moving does not matter.
    services.adjust_stock(
        product_id=yoghurt.product_id,
        warehouse_id=warehouse.pk,
        quantity_change=-1,
        transaction_type="damage",
        details=services.LedgerDetails(batch_number="L-SOON"),
    )
    refused = enter(staff_client, url, looked_up, quantity="3", batch_number="L-SOON")
    assert "Batch L-SOON changed since you scanned: 5 in it now, not 6. Nothing was booked." in error(refused)
    assert lots(yoghurt)["L-SOON"] == 5
    booked = enter(staff_client, url, refused)
    assert "3 in the batch (was 5, -2)" in messages_after(staff_client, booked)
    assert lots(yoghurt) == {"L-LATE": 10, "L-SOON": 3}
    assert ledger_drift() == []


def test_a_count_finding_a_new_batch_needs_its_expiry_but_an_existing_batch_keeps_its_own(
    staff_client, warehouse, yoghurt
):
    url = station(warehouse, "count")
    new = scan_and_book(staff_client, url, "YOG-1", "2", batch_number="L-FOUND")
    assert "Batch L-FOUND is new here: type its expiry date." in error(new)
    assert ledger_rows() == 2
    booked = enter(staff_client, url, new, expiry_date=LATER.isoformat())
    assert booked.status_code == 302
    # More units of a batch the item has: its expiry is the batch's, nothing to retype.
    more = scan_and_book(staff_client, url, "YOG-1", "8", batch_number="L-SOON")
    assert more.status_code == 302, error(more)
    assert lots(yoghurt) == {"L-LATE": 10, "L-SOON": 8, "L-FOUND": 2}
    assert StockLot.objects.get(batch_number="L-FOUND").expiry_date == LATER
    assert InventoryTransaction.objects.latest("id").expiry_date == SOON


def test_damaged_takes_the_earliest_expiry_first_or_the_batch_typed(staff_client, warehouse, yoghurt):
    url = station(warehouse, "damaged")
    looked_up = enter(staff_client, url, staff_client.get(url), code="YOG-1")
    assert looked_up.context["form"].fields["batch_number"].help_text == "empty: earliest expiry first"
    fefo = enter(staff_client, url, looked_up, quantity="8", reason="Cooler failed")
    assert "out as damaged (earliest expiry first): 8 on hand." in messages_after(staff_client, fefo)
    assert lots(yoghurt) == {"L-SOON": 0, "L-LATE": 8}
    rows = InventoryTransaction.objects.filter(transaction_type="damage").order_by("id")
    assert [(r.batch_number, r.quantity_change) for r in rows] == [("L-SOON", -6), ("L-LATE", -2)]

    named = scan_and_book(staff_client, url, "YOG-1", "1", batch_number="L-LATE")
    assert "out as damaged from batch L-LATE: 7 on hand." in messages_after(staff_client, named)
    unknown = scan_and_book(staff_client, url, "YOG-1", "1", batch_number="L-NOPE")
    assert "has no batch 'L-NOPE'" in error(unknown) and "Nothing was booked." in error(unknown)
    assert lots(yoghurt) == {"L-SOON": 0, "L-LATE": 7}


def test_an_untracked_product_shows_no_batch_fields_when_counted_or_damaged(staff_client):
    item = stocked_item(5)
    for mode in ("count", "damaged"):
        url = station(item.warehouse, mode)
        looked_up = enter(staff_client, url, staff_client.get(url), code=item.product.sku)
        assert "batch_number" not in looked_up.context["form"].fields
        assert b"Lot-tracked" not in looked_up.content


def test_undo_of_a_tracked_receipt_and_of_a_fefo_damage_restores_the_same_lots(staff_client, warehouse, yoghurt):
    receive_url, damaged_url = station(warehouse, "receive"), station(warehouse, "damaged")
    scan_and_book(staff_client, receive_url, "YOG-1", "5", batch_number="L-NEW", expiry_date=LATER.isoformat())
    scan_and_book(staff_client, damaged_url, "YOG-1", "8")  # 6 of L-SOON, then 2 of L-LATE
    assert lots(yoghurt) == {"L-LATE": 8, "L-SOON": 0, "L-NEW": 5}
    bookings = staff_client.get(damaged_url).context["bookings"]
    for booking in bookings:
        staff_client.post(damaged_url, {"undo": booking.row.pk})
    assert lots(yoghurt) == {"L-LATE": 10, "L-SOON": 6, "L-NEW": 0}
    assert InventoryItem.objects.get(pk=yoghurt.pk).total_quantity == 16
    assert ledger_drift() == []


def test_move_state_moves_the_scanned_units_and_keeps_from_to_and_reason_for_the_next_scan(staff_client):
    item = stocked_item(10, product=ProductFactory(sku="LAMP-1", name="Desk lamp"))
    url = station(item.warehouse, "move_state")
    page = staff_client.get(url)
    assert b"Move state in" in page.content
    fields = page_fields(page)
    assert (fields["from_state"], fields["to_state"]) == ("available", "quality_control")

    booked = scan_and_book(
        staff_client, url, "LAMP-1", "3", from_state="available", to_state="quality_control", reason="Returned: check"
    )
    message = messages_after(staff_client, booked)
    assert f"Moved 3 × LAMP-1 (Desk lamp) in {item.warehouse.code} from available to quality control" in message
    assert "7 available, 3 quality control (10 on hand)." in message
    item.refresh_from_db()
    assert (item.available_quantity, item.quality_control_quantity, item.total_quantity) == (7, 3, 10)
    move = StockStateMove.objects.get()
    assert (move.quantity, move.from_state, move.to_state, move.reason) == (
        3,
        "available",
        "quality_control",
        "Returned: check",
    )
    assert ledger_rows() == 1  # on hand did not change: no ledger row

    # The next scan: From, To and the reason are offered again; the move is listed with an Undo.
    again = staff_client.get(url)
    fields = page_fields(again)
    assert (fields["from_state"], fields["to_state"], fields["reason"]) == (
        "available",
        "quality_control",
        "Returned: check",
    )
    assert [entry.move for entry in again.context["state_moves"]] == [move]
    assert f'name="undo_move" value="{move.pk}"' in again.content.decode()


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({"from_state": "damaged", "to_state": "damaged", "reason": "x"}, "From and To are the same state"),
        ({"from_state": "available", "to_state": "damaged", "reason": " "}, "Say why the units move"),
        ({"from_state": "damaged", "to_state": "available", "reason": "Repaired"}, "Only 0 damaged"),
        ({"from_state": "available", "to_state": "damaged", "reason": "x", "quantity": "11"}, "Only 10 available"),
    ],
)
def test_a_move_that_cannot_be_made_is_explained_and_moves_nothing(staff_client, typed, message):
    item = stocked_item(10)
    url = station(item.warehouse, "move_state")
    typed = {"quantity": "2", **typed}
    refused = scan_and_book(staff_client, url, item.product.sku, typed.pop("quantity"), **typed)
    assert refused.status_code == 200
    assert message in error(refused)
    assert not StockStateMove.objects.exists()
    item.refresh_from_db()
    assert (item.available_quantity, item.damaged_quantity) == (10, 0)


def test_a_move_of_a_product_not_stocked_here_is_refused(staff_client):
    warehouse, product = WarehouseFactory(), ProductFactory()
    url = station(warehouse, "move_state")
    refused = scan_and_book(staff_client, url, product.sku, "1", from_state="available", to_state="damaged", reason="x")
    assert "has no stock record" in error(refused) and "Nothing was booked." in error(refused)


def test_undo_of_a_state_move_moves_the_units_back_once_and_only_for_its_maker(staff_client, warehouse_user):
    item = stocked_item(10)
    url = station(item.warehouse, "move_state")
    scan_and_book(staff_client, url, item.product.sku, "4", from_state="available", to_state="damaged", reason="Wet")
    move = StockStateMove.objects.get()

    colleague = UserFactory(is_staff=True)
    colleague.groups.set(warehouse_user.groups.all())
    staff_client.force_login(colleague)
    assert "Only your own state moves" in messages_after(staff_client, staff_client.post(url, {"undo_move": move.pk}))
    staff_client.force_login(warehouse_user)

    undone = staff_client.post(url, {"undo_move": move.pk})
    assert "back from damaged to available: 10 available." in messages_after(staff_client, undone)
    item.refresh_from_db()
    assert (item.available_quantity, item.damaged_quantity) == (10, 0)
    again = staff_client.post(url, {"undo_move": move.pk})
    assert "already undone" in messages_after(staff_client, again)
    page = staff_client.get(url)
    entries = {entry.move.pk: entry for entry in page.context["state_moves"]}
    assert entries[move.pk].undone_by is not None
    undo = next(e for e in entries.values() if e.move.pk != move.pk)
    assert undo.is_undo and f'value="{undo.move.pk}"' not in page.content.decode()  # an undo is not undone
    assert StockStateMove.objects.count() == 2
    item.refresh_from_db()
    assert (item.available_quantity, item.damaged_quantity) == (10, 0)
