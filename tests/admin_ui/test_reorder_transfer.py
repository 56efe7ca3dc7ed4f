"""From a reorder suggestion to a transfer: the warehouse with the most to spare, a prefilled New transfer form."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from forecasting.models import DemandForecast
from inventory.models import InventoryItem
from tests.admin_ui.support import reserve
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item
from transfers.models import Transfer
from transfers.selectors import surpluses, transfer_source

pytestmark = pytest.mark.django_db

SUGGESTIONS = reverse("admin:forecasting_demandforecast_changelist")
NEW_TRANSFER = reverse("admin:transfers_transfer_add")


def suggest(item: InventoryItem, quantity: int, days: float | None = 1.5) -> DemandForecast:
    """A stored reorder suggestion, as the nightly forecast leaves it."""
    return DemandForecast.objects.create(
        item=item, recommended_order_quantity=quantity, days_until_stockout=days, forecast_daily_demand=4.0
    )


@pytest.fixture
def hubs():
    """MUG-1 short in WEST; EAST can spare 40 (50 over a reorder point of 10), MAIN only 20 (100 over 80)."""
    west, east, main = (
        WarehouseFactory(code="WEST", priority=30),
        WarehouseFactory(code="EAST", priority=20),
        WarehouseFactory(code="MAIN", priority=10),
    )
    mug = ProductFactory(sku="MUG-1")
    return {
        "short": stocked_item(2, product=mug, warehouse=west, reorder_point=10),
        "east": stocked_item(50, product=mug, warehouse=east, reorder_point=10),
        "main": stocked_item(100, product=mug, warehouse=main, reorder_point=80),
    }


def test_the_source_is_the_warehouse_with_the_most_available_above_its_reorder_point(hubs):
    mug = hubs["short"].product_id
    found = surpluses([mug])
    assert [(s.warehouse_code, s.units) for s in found[mug]] == [("EAST", 40), ("MAIN", 20)]
    assert transfer_source(found, product_id=mug, to_warehouse_id=hubs["short"].warehouse_id).warehouse_code == "EAST"
    # Refilling EAST itself: the next best.
    assert transfer_source(found, product_id=mug, to_warehouse_id=hubs["east"].warehouse_id).warehouse_code == "MAIN"


def test_held_units_are_not_surplus_and_inactive_warehouses_give_nothing(hubs):
    mug = hubs["short"].product_id
    reserve(hubs["east"], 25)  # EAST now has 25 available: 15 to spare
    found = surpluses([mug])
    assert [(s.warehouse_code, s.units) for s in found[mug]] == [("MAIN", 20), ("EAST", 15)]
    hubs["main"].warehouse.is_active = False
    hubs["main"].warehouse.save(update_fields=["is_active"])
    assert [s.warehouse_code for s in surpluses([mug])[mug]] == ["EAST"]


def test_equal_surpluses_go_to_the_warehouse_allocated_from_first(hubs):
    mug = hubs["short"].product
    stocked_item(40, product=mug, warehouse=WarehouseFactory(code="ALPHA", priority=5), reorder_point=0)
    assert [s.warehouse_code for s in surpluses([mug.pk])[mug.pk]] == ["ALPHA", "EAST", "MAIN"]


def test_a_suggestion_links_a_prefilled_new_transfer_form(client, warehouse_user, hubs):
    short = hubs["short"]
    suggest(short, 30)
    client.force_login(warehouse_user)
    html = client.get(SUGGESTIONS).content.decode()
    assert ">30 from EAST</a>" in html and 'title="EAST has 40 above its reorder point"' in html
    link = urlsplit(_href(html))
    assert link.path == NEW_TRANSFER
    query = {key: values[0] for key, values in parse_qs(link.query).items()}
    assert {k: query[k] for k in ("product", "from_warehouse", "to_warehouse", "quantity")} == {
        "product": str(short.product_id),
        "from_warehouse": str(hubs["east"].warehouse_id),
        "to_warehouse": str(short.warehouse_id),
        "quantity": "30",
    }
    assert "MUG-1" in query["notes"] and "EAST can spare 40" in query["notes"]

    form_page = client.get(NEW_TRANSFER, query)
    form = form_page.context["adminform"].form
    assert {k: str(form[k].value()) for k in ("product", "from_warehouse", "to_warehouse", "quantity")} == {
        k: query[k] for k in ("product", "from_warehouse", "to_warehouse", "quantity")
    }
    # Saving it as it came creates the transfer (and holds the units at EAST).
    assert client.post(NEW_TRANSFER, {**query, "requested_by": ""}).status_code == 302
    transfer = Transfer.objects.get()
    assert (transfer.from_warehouse_id, transfer.to_warehouse_id, transfer.quantity, transfer.status) == (
        hubs["east"].warehouse_id,
        short.warehouse_id,
        30,
        "pending",
    )


def _href(html: str) -> str:
    start = html.index('<a class="transfer-link" href="') + len('<a class="transfer-link" href="')
    return html[start : html.index('"', start)].replace("&amp;", "&")


def test_the_quantity_is_what_the_source_can_spare_when_that_is_less(client, warehouse_user, hubs):
    suggest(hubs["short"], 70)
    client.force_login(warehouse_user)
    html = client.get(SUGGESTIONS).content.decode()
    assert ">40 from EAST</a>" in html
    assert parse_qs(urlsplit(_href(html)).query)["quantity"] == ["40"]


def test_without_a_surplus_anywhere_the_suggestion_says_so(client, warehouse_user):
    lonely = stocked_item(1, product=ProductFactory(sku="RARE-1"), reorder_point=5)
    stocked_item(4, product=lonely.product, reorder_point=5)  # below its own reorder point: nothing to spare
    suggest(lonely, 12)
    client.force_login(warehouse_user)
    html = client.get(SUGGESTIONS).content.decode()
    assert "No surplus elsewhere" in html and "transfer-link" not in html


def test_staff_who_may_not_create_transfers_get_no_link(client, hubs):
    suggest(hubs["short"], 30)
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_demandforecast"))
    client.force_login(viewer)
    html = client.get(SUGGESTIONS).content.decode()
    assert "MUG-1" in html and "transfer-link" not in html and "No surplus" not in html


def test_one_query_finds_the_sources_of_a_whole_page(client, warehouse_user, django_assert_max_num_queries):
    client.force_login(warehouse_user)
    donor = WarehouseFactory(code="DONOR")
    for n in range(3):
        product = ProductFactory()
        stocked_item(100, product=product, warehouse=donor, reorder_point=0)
        suggest(stocked_item(1, product=product), 10 + n)
    with django_assert_max_num_queries(20) as few:
        client.get(SUGGESTIONS)
    for n in range(6):
        product = ProductFactory()
        stocked_item(100, product=product, warehouse=donor, reorder_point=0)
        suggest(stocked_item(1, product=product), 20 + n)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(SUGGESTIONS).content.decode().count("from DONOR</a>") == 9
