"""Numbers typed into the back office keep their magnitude, and a count survives stock moving under it."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from transfers.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def adjust(client, item: InventoryItem, cost: str, quantity: str = "2"):
    return client.post(
        reverse("admin:inventory_inventoryitem_adjust", args=[item.pk]),
        {"quantity_change": quantity, "transaction_type": "purchase", "cost_per_unit": cost},
    )


def form_error(response, field: str) -> str:
    assert response.status_code == 200, "the form was accepted"
    return " ".join(response.context["form"].errors[field])


@pytest.mark.parametrize("typed", ["3,20", "3.20", " 3,2 "])
def test_a_decimal_comma_is_read_as_the_decimal_separator(staff_client, typed):
    item = stocked_item(10)
    response = adjust(staff_client, item, typed)
    assert response.status_code == 302
    row = InventoryTransaction.objects.latest("id")
    assert (row.quantity_change, row.cost_per_unit, row.total_cost) == (2, Decimal("3.20"), Decimal("6.40"))


def test_the_cost_input_is_a_text_input_so_the_browser_cannot_reinterpret_it(staff_client):
    # A browser's <input type="number"> drops "," as a thousands separator in English: "3,20" is sent as 320.
    page = staff_client.get(reverse("admin:inventory_inventoryitem_adjust", args=[stocked_item(1).pk])).content
    field = re.search(rb"<input[^>]*name=\"cost_per_unit\"[^>]*>", page).group()
    assert b'type="text"' in field and b'inputmode="decimal"' in field


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1,234", "“1,234” is ambiguous (1234 or 1.234?)"),
        ("1.234", "“1.234” is ambiguous (1234 or 1.234?)"),
        ("1.234,5", "no thousands separators"),
        ("1,234.50", "no thousands separators"),
        ("1 234,50", "no thousands separators"),
        ("3_20", "Enter a number"),
        ("1e3", "Enter a number"),
    ],
)
def test_a_cost_that_cannot_be_read_unambiguously_is_refused_and_nothing_is_booked(staff_client, typed, message):
    item = stocked_item(10)
    response = adjust(staff_client, item, typed)
    assert message in form_error(response, "cost_per_unit")
    assert message in response.content.decode()
    assert InventoryTransaction.objects.count() == 1  # only the receipt of stocked_item
    item.refresh_from_db()
    assert item.total_quantity == 10


@pytest.mark.parametrize("typed", ["1.000", "1,000", "1 000"])
def test_a_grouped_quantity_is_refused_not_read_as_one(staff_client, typed):
    item = stocked_item(10)
    response = staff_client.post(
        reverse("admin:inventory_inventoryitem_count", args=[item.pk]),
        {"counted_quantity": typed, "expected_quantity": "10"},
    )
    assert "without a thousands separator" in form_error(response, "counted_quantity")
    response = adjust(staff_client, item, "", quantity=typed)
    assert "without a thousands separator" in form_error(response, "quantity_change")
    item.refresh_from_db()
    assert item.total_quantity == 10 and InventoryTransaction.objects.count() == 1


def test_a_new_transfer_of_1_000_units_is_refused_not_made_a_transfer_of_one(staff_client):
    product = ProductFactory()
    source = stocked_item(20, product=product).warehouse
    response = staff_client.post(
        reverse("admin:transfers_transfer_add"),
        {
            "product": product.pk,
            "from_warehouse": source.pk,
            "to_warehouse": WarehouseFactory().pk,
            "quantity": "1.000",
            "requested_by": "",
            "notes": "",
        },
    )
    assert response.status_code == 200
    assert "without a thousands separator" in " ".join(response.context["adminform"].form.errors["quantity"])
    assert not Transfer.objects.exists()


def hidden_expected(response) -> str:
    return re.search(r'name="expected_quantity" value="(-?\d+)"', response.content.decode()).group(1)


def test_a_count_refused_because_stock_moved_can_be_confirmed_against_the_new_on_hand(staff_client, warehouse_user):
    item = stocked_item(55)
    url = reverse("admin:inventory_inventoryitem_count", args=[item.pk])
    opened = staff_client.get(url)
    assert hidden_expected(opened) == "55"

    # While the shelf is being counted, a unit is sold.
    services.adjust_stock(
        product_id=item.product_id, warehouse_id=item.warehouse_id, quantity_change=-1, transaction_type="damage"
    )
    typed = {"counted_quantity": "50", "reason": "Cycle count", "notes": "", "expected_quantity": "55"}
    refused = staff_client.post(url, typed)
    assert refused.status_code == 200
    page = refused.content.decode()
    assert (
        "Stock moved since you opened this form: now 54 on hand. "
        "Check your count and save again to record it against 54." in page
    )
    assert "on hand <strong>54</strong>" in page  # the figures above the form are the current ones
    assert hidden_expected(refused) == "54"
    assert 'name="counted_quantity" value="50"' in page  # what was typed is kept
    assert InventoryTransaction.objects.filter(transaction_type="count").count() == 0

    # Saving the re-rendered form again records the count against 54.
    saved = staff_client.post(url, {**typed, "expected_quantity": hidden_expected(refused)})
    assert saved.status_code == 302
    item.refresh_from_db()
    assert item.total_quantity == 50 and item.last_count_date is not None
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.previous_quantity, row.new_quantity, row.created_by) == (
        "count",
        -4,
        54,
        50,
        warehouse_user,
    )
    assert ledger_drift() == []


def test_a_count_confirmed_against_a_stale_figure_is_refused_again_with_the_newest_one(staff_client):
    item = stocked_item(55)
    url = reverse("admin:inventory_inventoryitem_count", args=[item.pk])
    move = {"product_id": item.product_id, "warehouse_id": item.warehouse_id, "transaction_type": "damage"}
    services.adjust_stock(quantity_change=-1, **move)
    refused = staff_client.post(url, {"counted_quantity": "50", "expected_quantity": "55"})
    assert hidden_expected(refused) == "54"
    services.adjust_stock(quantity_change=-2, **move)
    again = staff_client.post(url, {"counted_quantity": "50", "expected_quantity": "54"})
    assert "now 52 on hand" in again.content.decode() and hidden_expected(again) == "52"
    item.refresh_from_db()
    assert item.total_quantity == 52
