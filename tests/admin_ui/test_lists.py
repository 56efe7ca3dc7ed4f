"""What the back-office lists show: short columns, a red Low flag, the ledger per item, reservation lines and
time left, transfer status. (That they fit a 1366-px screen is measured in the browser test.)"""

import re

import pytest
from django.contrib.admin.templatetags.admin_list import result_headers
from django.urls import reverse

from inventory import services as stock
from reservations import services
from reservations.services import LineRequest
from tests.admin_ui.support import make_overdue, reserve
from tests.factories import ProductFactory, WarehouseFactory, stocked_item
from transfers import services as transfers

pytestmark = pytest.mark.django_db

ITEMS = reverse("admin:inventory_inventoryitem_changelist")
LEDGER = reverse("admin:inventory_inventorytransaction_changelist")
RESERVATIONS = reverse("admin:reservations_stockreservation_changelist")
TRANSFERS = reverse("admin:transfers_transfer_changelist")


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def _headers(response) -> list[dict]:
    return list(result_headers(response.context["cl"]))


def column(response, name: str) -> list[str]:
    """The text of one column, row by row (tags stripped)."""
    names = [h["class_attrib"] for h in _headers(response)]
    index = next(i for i, attrib in enumerate(names) if f"column-{name}" in attrib)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", _results_table(response), flags=re.S)[1:]
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S) for row in rows]
    return [re.sub(r"<[^>]+>", "", row[index]).strip() for row in cells]


def _results_table(response) -> str:
    html = response.content.decode()
    return html[html.index('<table id="result_list">') : html.index("</table>", html.index('<table id="result_list">'))]


def test_the_item_list_has_short_headers_and_a_red_flag_only_where_stock_is_low(staff_client):
    main = WarehouseFactory(code="MAIN")
    low = stocked_item(3, product=ProductFactory(sku="LOW-1", name="Apron"), warehouse=main, reorder_point=5)
    stocked_item(30, product=ProductFactory(sku="FINE-1", name="Zip bag"), warehouse=main, reorder_point=5)
    stocked_item(0, product=ProductFactory(sku="GONE-1", name="Mop"), warehouse=main, reorder_point=5)
    response = staff_client.get(ITEMS, {"o": "0"})  # by SKU (the first column)
    assert [h["text"] for h in _headers(response)] == [
        "SKU",
        "Product",
        "WH",
        "Avail",
        "Resv",
        "On hand",
        "In transit",
        "Reorder pt",
        "Low",
        "Last movement",
        "Ledger",
    ]
    assert column(response, "sku") == ["FINE-1", "GONE-1", "LOW-1"]
    assert column(response, "low_stock") == ["", "Out", "Low"]
    html = response.content.decode()
    assert '<span class="badge badge-danger">Low</span>' in html
    assert "icon-yes.svg" not in html and "icon-no.svg" not in html  # no green ticks
    assert f'href="{LEDGER}?item={low.pk}"' in html


def test_an_items_ledger_link_lists_its_movements_only(staff_client, warehouse_user):
    item = stocked_item(10, product=ProductFactory(sku="MUG-1"), warehouse=WarehouseFactory(code="MAIN"))
    stocked_item(7, product=item.product)  # the same product elsewhere
    stocked_item(4, warehouse=item.warehouse)  # another product here
    stock.adjust_stock(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity_change=-2,
        transaction_type="damage",
        details=stock.LedgerDetails(reason="Dropped", reference_type="incident", reference_id="INC-7"),
        user=warehouse_user,
    )
    response = staff_client.get(LEDGER, {"item": item.pk})
    assert response.context["title"] == "Ledger of MUG-1 in MAIN"
    assert [h["text"] for h in _headers(response)] == [
        "Product",
        "WH",
        "Change",
        "On hand",
        "Type",
        "Reason",
        "Reference",
        "Who",
        "When",
    ]
    assert column(response, "change") == ["\u22122", "+10"]
    assert column(response, "on_hand") == ["8", "10"]
    assert column(response, "kind") == ["Damage", "Purchase"]
    assert column(response, "why")[0] == "Dropped"
    assert column(response, "reference")[0] == "incident INC-7"
    assert column(response, "who") == [warehouse_user.username, "system"]
    # The filter panel names the item, with "All" to see the whole ledger again.
    assert "MUG-1 in MAIN" in response.content.decode()
    assert len(staff_client.get(LEDGER).context["cl"].result_list) == 4


@pytest.mark.parametrize("value", ["999999", "abc", ""])
def test_an_unknown_item_has_an_empty_ledger(staff_client, value):
    stocked_item(5)
    response = staff_client.get(LEDGER, {"item": value})
    assert response.status_code == 200 and list(response.context["cl"].result_list) == []
    assert "unknown item" in response.content.decode()


def test_the_reservation_list_shows_lines_and_time_left(staff_client, django_assert_max_num_queries):
    mug = stocked_item(10, product=ProductFactory(sku="MUG-1"))
    cap = stocked_item(10, product=ProductFactory(sku="CAP-1"), warehouse=mug.warehouse)
    cart = services.reserve_stock(
        lines=[
            LineRequest(product_id=mug.product_id, warehouse_id=mug.warehouse_id, quantity=2),
            LineRequest(product_id=cap.product_id, warehouse_id=cap.warehouse_id, quantity=1),
        ],
        session_id="cart-1",
        expires_in=12 * 60 + 30,
    )
    sold = reserve(mug, 1, order_id="ORD-2")
    services.confirm_reservation(reservation_id=sold.pk)
    late = reserve(cap, 1, order_id="ORD-3")
    make_overdue(late)
    response = staff_client.get(RESERVATIONS, {"o": "-3"})  # by order / cart, descending (column 0 is the checkbox)
    rows = dict(zip(column(response, "order_or_cart"), column(response, "lines_summary"), strict=True))
    assert rows == {"cart-1": "MUG-1 × 2, CAP-1 × 1", "ORD-2": "MUG-1 × 1", "ORD-3": "CAP-1 × 1"}
    left = dict(zip(column(response, "order_or_cart"), column(response, "time_left"), strict=True))
    assert left == {"cart-1": "12 min left", "ORD-2": "Fulfilled", "ORD-3": "expired"}
    status = dict(zip(column(response, "order_or_cart"), column(response, "status_badge"), strict=True))
    assert status == {"cart-1": "Active", "ORD-2": "Fulfilled", "ORD-3": "Active"}
    assert str(cart.pk)[:8] in column(response, "short_id")

    # The lines of every row come from one query, not one per reservation.
    with django_assert_max_num_queries(12) as few:
        staff_client.get(RESERVATIONS)
    for n in range(5):
        reserve(mug, 1, order_id=f"ORD-MORE-{n}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        staff_client.get(RESERVATIONS)


def test_the_transfer_list_leads_with_its_status(staff_client, setup):
    shipped = transfers.create_transfer(**setup.create_kwargs(2))
    transfers.start_transfer(transfer_id=shipped.pk)
    transfers.create_transfer(**setup.create_kwargs(3))
    response = staff_client.get(TRANSFERS)
    assert [h["text"] for h in _headers(response)][1:4] == ["Transfer", "Status", "Product"]  # after the checkbox
    assert sorted(column(response, "status_badge")) == ["In transit", "Pending"]
    assert column(response, "source") == [setup.source.code] * 2
    assert column(response, "destination") == [setup.destination.code] * 2


def test_an_item_page_links_its_full_ledger(staff_client):
    item = stocked_item(5)
    html = staff_client.get(reverse("admin:inventory_inventoryitem_change", args=[item.pk])).content.decode()
    assert f'<li><a href="{LEDGER}?item={item.pk}">Ledger</a></li>' in html  # next to Adjust stock / Record count
    assert f'<a href="{LEDGER}?item={item.pk}">Full ledger of this item</a>' in html  # under its latest rows
