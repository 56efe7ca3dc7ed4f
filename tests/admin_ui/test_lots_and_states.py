"""Lots and stock states in the back office: a product's lot tracking, an item's lots and state quantities on its
page, the Move stock state form and its audit, and the adjust and count forms naming a batch and a state."""

import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from inventory import services
from inventory.models import InventoryItem, InventoryTransaction, Product, StockLot, StockStateMove
from inventory.selectors import ledger_drift
from tests.admin_ui.support import shown_messages
from tests.factories import ProductFactory, UserFactory, WarehouseFactory, stocked_item

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def item_page(item: InventoryItem) -> str:
    return reverse("admin:inventory_inventoryitem_change", args=[item.pk])


def receive(item_or_product, warehouse, quantity: int, batch: str, expiry=None) -> InventoryItem:
    return services.receive_stock(
        product_id=item_or_product.pk,
        warehouse_id=warehouse.pk,
        quantity=quantity,
        details=services.LedgerDetails(batch_number=batch, expiry_date=expiry),
    )


def lots(item: InventoryItem) -> dict[str, int]:
    return dict(StockLot.objects.filter(item=item).values_list("batch_number", "quantity"))


def states(item: InventoryItem) -> tuple[int, int, int, int, int]:
    """(available, damaged, quality control, safety stock, on hand) now."""
    return InventoryItem.objects.values_list(
        "available_quantity",
        "damaged_quantity",
        "quality_control_quantity",
        "safety_stock_quantity",
        "total_quantity",
    ).get(pk=item.pk)


def move(client, item: InventoryItem, **typed):
    """Submit the item page's Move stock state form and follow back to the page."""
    fields = {"quantity": "3", "from_state": "available", "to_state": "damaged", "reason": "Dropped", **typed}
    url = reverse("admin:inventory_inventoryitem_move_state", args=[item.pk])
    return client.post(url, {f"move-{name}": value for name, value in fields.items()}, follow=True)


@pytest.fixture
def tracked_item():
    """Three lots received in the worst order for FEFO, one expired, one emptied."""
    warehouse = WarehouseFactory(code="COLD")
    product = ProductFactory(sku="YOG-1", name="Yoghurt", track_lots=True)
    receive(product, warehouse, 10, "LATE", TODAY + timedelta(days=90))
    receive(product, warehouse, 4, "OLD", TODAY - timedelta(days=3))
    receive(product, warehouse, 5, "SOON", TODAY + timedelta(days=5))
    item = receive(product, warehouse, 2, "GONE", TODAY + timedelta(days=1))
    services.adjust_stock(
        product_id=product.pk,
        warehouse_id=warehouse.pk,
        quantity_change=-2,
        transaction_type="damage",
        details=services.LedgerDetails(batch_number="GONE"),
    )
    item.refresh_from_db()
    return item


# --- products --------------------------------------------------------------------------------------


def test_a_product_without_stock_is_marked_lot_tracked_in_its_admin_page(staff_client):
    product = ProductFactory(sku="NEW-1")
    url = reverse("admin:inventory_product_change", args=[product.pk])
    form = staff_client.get(url).context["adminform"].form
    assert {"track_lots", "requires_expiry"} <= set(form.fields)
    data = {"sku": "NEW-1", "name": product.name, "barcode": "", "category": product.category_id, "is_active": "on"}
    response = staff_client.post(url, {**data, "track_lots": "on", "requires_expiry": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("admin:inventory_product_changelist")
    product.refresh_from_db()
    assert (product.track_lots, product.requires_expiry) == (True, True)
    listed = staff_client.get(reverse("admin:inventory_product_changelist"), {"track_lots__exact": "1"})
    assert [p.sku for p in listed.context["cl"].result_list] == ["NEW-1"]


def test_a_new_product_can_be_created_lot_tracked(staff_client, warehouse_user):
    response = staff_client.post(
        reverse("admin:inventory_product_add"),
        {"sku": "FRESH-1", "name": "Fresh juice", "barcode": "", "is_active": "on", "track_lots": "on"},
    )
    assert response.status_code == 302
    product = Product.objects.get(sku="FRESH-1")
    assert (product.track_lots, product.requires_expiry) == (True, False)


def test_tracking_a_product_with_units_on_hand_is_refused_and_nothing_is_saved(staff_client):
    item = stocked_item(7, product=ProductFactory(sku="OLD-1", name="Old name"))
    url = reverse("admin:inventory_product_change", args=[item.product_id])
    data = {"sku": "OLD-1", "name": "New name", "barcode": "", "is_active": "on", "track_lots": "on"}
    response = staff_client.post(url, data, follow=True)
    assert response.redirect_chain == [(url, 302)]  # back to the product as stored
    ((level, text),) = shown_messages(response)
    assert level == "error" and text.startswith("Nothing was saved:") and "7 units on hand" in text
    product = Product.objects.get(pk=item.product_id)
    assert (product.track_lots, product.name) == (False, "Old name")


def test_an_expiry_requirement_without_lot_tracking_is_refused(staff_client):
    product = ProductFactory(sku="X-1")
    url = reverse("admin:inventory_product_change", args=[product.pk])
    data = {"sku": "X-1", "name": product.name, "barcode": "", "is_active": "on", "requires_expiry": "on"}
    response = staff_client.post(url, data, follow=True)
    assert "requires_expiry applies to lot-tracked products only" in shown_messages(response)[0][1]
    product.refresh_from_db()
    assert not product.requires_expiry


# --- the item page -----------------------------------------------------------------------------------


def test_a_tracked_items_page_lists_its_lots_earliest_expiry_first_and_marks_the_expired_one(
    staff_client, tracked_item
):
    response = staff_client.get(item_page(tracked_item))
    (inline,) = response.context["inline_admin_formsets"]
    shown = [(f.original.batch_number, f.original.quantity) for f in inline]
    assert shown == [("OLD", 4), ("SOON", 5), ("LATE", 10)]  # the emptied lot is not listed
    assert inline.opts.has_add_permission(response.wsgi_request, tracked_item) is False
    html = response.content.decode()
    assert "Lots on hand (earliest expiry first)" in html
    assert '<span class="badge badge-danger">Expired</span>' in html
    assert '<span class="badge badge-warn">Expires in 5 d</span>' in html
    # The lots come right after the stock, before the reorder settings.
    assert html.index("Lots on hand") < html.index("Reorder settings")
    # Read-only: no inputs for the lots' fields.
    assert not re.search(r'name="lots-\d+-(batch_number|quantity)"', html)
    assert response.context["adminform"].form.instance.next_expiry_date == TODAY - timedelta(days=3)
    assert "Next expiry date" in html


def test_an_untracked_items_page_has_no_lots_and_saving_its_settings_still_works(staff_client):
    item = stocked_item(5)
    response = staff_client.get(item_page(item))
    assert response.context["inline_admin_formsets"] == []
    assert "Lots on hand" not in response.content.decode()
    saved = staff_client.post(
        item_page(item), {"reorder_point": "4", "reorder_quantity": "50", "max_stock_level": "500", "barcode": ""}
    )
    assert saved.status_code == 302


def test_saving_a_tracked_items_settings_leaves_its_lots_alone(staff_client, tracked_item):
    page = staff_client.get(item_page(tracked_item))
    management = {
        f"lots-{name}": page.context["inline_admin_formsets"][0].formset.management_form[name].value()
        for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")
    }
    saved = staff_client.post(
        item_page(tracked_item),
        {
            "reorder_point": "9",
            "reorder_quantity": "50",
            "max_stock_level": "500",
            "barcode": "",
            **management,
            "lots-0-id": str(StockLot.objects.get(batch_number="OLD").pk),
            "lots-0-quantity": "999",  # a forged field: the lots are read-only
        },
    )
    assert saved.status_code == 302
    assert lots(tracked_item) == {"LATE": 10, "OLD": 4, "SOON": 5, "GONE": 0}
    assert InventoryItem.objects.get(pk=tracked_item.pk).reorder_point == 9


def test_the_item_page_shows_the_state_quantities_and_the_move_form(staff_client):
    item = stocked_item(12)
    services.move_stock_state(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity=2,
        from_state="available",
        to_state="safety_stock",
        reason="Buffer",
    )
    html = staff_client.get(item_page(item)).content.decode()
    for label, value in [("Damaged quantity", 0), ("Quality control quantity", 0), ("Safety stock quantity", 2)]:
        assert re.search(rf"{label}:</label>\s*<div class=\"readonly\">{value}</div>", html), label
    move_url = reverse("admin:inventory_inventoryitem_move_state", args=[item.pk])
    form = re.search(rf'<form method="post" action="{move_url}"[^>]*>(.*?)</form>', html, flags=re.S)
    assert form and 'name="csrfmiddlewaretoken"' in form.group(1)
    assert 'name="move-quantity"' in form.group(1) and 'name="move-reason"' in form.group(1)
    assert html.index('id="move-state-form"') < html.index('id="inventoryitem_form"')  # not nested in it


def test_move_stock_state_moves_the_units_and_the_audit_shows_who_what_and_why(staff_client, warehouse_user):
    item = stocked_item(20)
    response = move(staff_client, item, quantity="3", reason="Crushed corner")
    assert response.redirect_chain == [(item_page(item), 302)]
    assert shown_messages(response) == [
        ("success", "Moved 3 from available to damaged: 17 available, 3 damaged, 20 on hand.")
    ]
    assert states(item) == (17, 3, 0, 0, 20)
    audit = StockStateMove.objects.get()
    assert (audit.quantity, audit.from_state, audit.to_state, audit.reason, audit.created_by) == (
        3,
        "available",
        "damaged",
        "Crushed corner",
        warehouse_user,
    )
    html = response.content.decode()
    row = re.search(r'<table id="state-move-audit">.*?<tbody>(.*?)</tbody>', html, flags=re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row)]
    assert cells[1:] == ["3", "Available → Damaged", "Crushed corner", warehouse_user.username]
    assert InventoryTransaction.objects.count() == 1  # on hand did not change: no ledger row
    assert ledger_drift() == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ({"quantity": "21"}, "Nothing moved: Only 20 available"),
        ({"from_state": "damaged", "to_state": "available"}, "Nothing moved: Only 0 damaged"),
        ({"to_state": "available"}, "Nothing moved. From and To must be different states."),
        ({"reason": ""}, "Nothing moved. Reason: This field is required."),
        ({"quantity": "1.000"}, "Nothing moved. Quantity: Type whole units without a thousands separator"),
        ({"quantity": "0"}, "Nothing moved. Quantity: Ensure this value is greater than or equal to 1."),
        ({"to_state": "sold"}, "Nothing moved. To: Select a valid choice."),
    ],
)
def test_a_move_that_cannot_be_made_is_an_error_message_and_changes_nothing(staff_client, typed, message):
    item = stocked_item(20)
    response = move(staff_client, item, **typed)
    ((level, text),) = shown_messages(response)
    assert level == "error" and text.startswith(message), text
    assert states(item) == (20, 0, 0, 0, 20)
    assert not StockStateMove.objects.exists()


def test_the_move_form_is_post_only_and_needs_the_change_permission(client, staff_client):
    item = stocked_item(5)
    url = reverse("admin:inventory_inventoryitem_move_state", args=[item.pk])
    assert staff_client.get(url).status_code == 405
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_inventoryitem"))
    client.force_login(viewer)
    assert 'id="move-state-form"' not in client.get(item_page(item)).content.decode()
    response = client.post(url, {"move-quantity": "1", "move-from_state": "available", "move-to_state": "damaged"})
    assert response.status_code == 403
    assert states(item) == (5, 0, 0, 0, 5)


def test_the_state_move_list_is_read_only_and_narrows_to_an_item(staff_client, warehouse_user):
    item, other = stocked_item(9, product=ProductFactory(sku="LAMP")), stocked_item(4)
    move(staff_client, item, quantity="2", to_state="quality_control", reason="Flickers")
    move(staff_client, other, quantity="1", reason="Dent")
    url = reverse("admin:inventory_stockstatemove_changelist")
    everything = staff_client.get(url)
    assert len(everything.context["cl"].result_list) == 2
    narrowed = staff_client.get(url, {"item": item.pk})
    assert narrowed.context["title"] == f"State moves of LAMP in {item.warehouse.code}"
    (shown,) = narrowed.context["cl"].result_list
    assert (shown.quantity, shown.to_state, shown.reason) == (2, "quality_control", "Flickers")
    html = narrowed.content.decode()
    assert "Quality control" in html and "Flickers" in html and warehouse_user.username in html
    assert staff_client.get(reverse("admin:inventory_stockstatemove_add")).status_code == 403
    change = staff_client.get(reverse("admin:inventory_stockstatemove_change", args=[shown.pk]))
    assert change.status_code == 200 and 'name="_save"' not in change.content.decode()
    page = staff_client.get(item_page(item)).content.decode()
    assert f'href="{url}?item={item.pk}">All state moves of this item</a>' in page


# --- the adjust and count forms ---------------------------------------------------------------------


def test_damaged_units_are_disposed_of_with_the_adjust_form(staff_client, warehouse_user):
    item = stocked_item(10)
    move(staff_client, item, quantity="3")
    url = reverse("admin:inventory_inventoryitem_adjust", args=[item.pk])
    form = staff_client.get(url)
    assert "batch_number" not in form.context["form"].fields  # batches are a lot-tracked product's
    assert "damaged <strong>3</strong>" in form.content.decode()
    response = staff_client.post(
        url, {"quantity_change": "-3", "transaction_type": "damage", "state": "damaged", "reason": "Skip"}, follow=True
    )
    assert shown_messages(response) == [("success", "Stock adjusted by -3 damaged units; 7 on hand, 0 damaged.")]
    assert states(item) == (7, 0, 0, 0, 7)
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.quantity_change, row.stock_state, row.created_by) == (
        "damage",
        -3,
        "damaged",
        warehouse_user,
    )
    html = response.content.decode()
    assert re.search(rf"{row.transaction_number}.*?damaged</td>", html, flags=re.S)  # the latest rows say the state
    too_many = staff_client.post(url, {"quantity_change": "-1", "transaction_type": "damage", "state": "damaged"})
    assert too_many.status_code == 200 and "Only 0 damaged" in too_many.content.decode()
    assert ledger_drift() == []


def test_the_adjust_form_of_a_tracked_item_names_the_batch(staff_client, tracked_item):
    url = reverse("admin:inventory_inventoryitem_adjust", args=[tracked_item.pk])
    page = staff_client.get(url)
    assert [lot.batch_number for lot in page.context["lots"]] == ["OLD", "SOON", "LATE"]
    missing = staff_client.post(url, {"quantity_change": "2", "transaction_type": "return"})
    assert "lot-tracked: inbound stock must name its batch" in " ".join(missing.context["form"].non_field_errors())
    # A return into a batch the item has keeps the batch's expiry.
    back = staff_client.post(url, {"quantity_change": "2", "transaction_type": "return", "batch_number": "SOON"})
    assert back.status_code == 302
    named = staff_client.post(url, {"quantity_change": "-3", "transaction_type": "damage", "batch_number": "LATE"})
    assert named.status_code == 302
    # No batch: the earliest expiry first (an expired lot too: this is a write-off, not a sale).
    fefo = staff_client.post(url, {"quantity_change": "-6", "transaction_type": "expired"})
    assert fefo.status_code == 302
    assert lots(tracked_item) == {"OLD": 0, "SOON": 5, "LATE": 7, "GONE": 0}
    assert ledger_drift() == []


def test_the_count_form_of_a_tracked_item_counts_one_batch(staff_client, tracked_item, warehouse_user):
    url = reverse("admin:inventory_inventoryitem_count", args=[tracked_item.pk])
    page = staff_client.get(url)
    assert page.context["title"] == "Record count of a batch: YOG-1 in COLD"
    shown = json.loads(page.context["form"]["expected_lots"].value())
    assert shown == {"LATE": 10, "OLD": 4, "SOON": 5, "GONE": 0}  # each lot's units when the form was shown
    html = page.content.decode()
    assert '<datalist id="item-lots">' in html and 'list="item-lots"' in html
    response = staff_client.post(
        url,
        {
            "batch_number": "SOON",
            "counted_quantity": "3",
            "expected_lots": page.context["form"]["expected_lots"].value(),
        },
        follow=True,
    )
    assert shown_messages(response) == [("success", "Count of batch SOON recorded: 3 in the batch, 17 on hand.")]
    assert lots(tracked_item)["SOON"] == 3
    row = InventoryTransaction.objects.latest("id")
    assert (row.transaction_type, row.batch_number, row.quantity_change, row.created_by) == (
        "count",
        "SOON",
        -2,
        warehouse_user,
    )


def test_a_batch_count_from_a_stale_form_is_refused_then_recorded_against_the_new_figure(staff_client, tracked_item):
    url = reverse("admin:inventory_inventoryitem_count", args=[tracked_item.pk])
    expected = staff_client.get(url).context["form"]["expected_lots"].value()
    services.adjust_stock(
        product_id=tracked_item.product_id,
        warehouse_id=tracked_item.warehouse_id,
        quantity_change=-1,
        transaction_type="damage",
        details=services.LedgerDetails(batch_number="LATE"),
    )
    refused = staff_client.post(url, {"batch_number": "LATE", "counted_quantity": "8", "expected_lots": expected})
    assert refused.status_code == 200
    assert "Batch LATE changed since you opened this form: now 9 in it." in refused.content.decode()
    assert lots(tracked_item)["LATE"] == 9
    confirmed = staff_client.post(
        url,
        {
            "batch_number": "LATE",
            "counted_quantity": "8",
            "expected_lots": refused.context["form"]["expected_lots"].value(),
        },
    )
    assert confirmed.status_code == 302
    assert lots(tracked_item)["LATE"] == 8


def test_a_new_batch_found_in_a_count_needs_an_expiry_when_the_product_requires_one(staff_client):
    warehouse = WarehouseFactory()
    product = ProductFactory(track_lots=True, requires_expiry=True)
    item = receive(product, warehouse, 5, "A", TODAY + timedelta(days=30))
    url = reverse("admin:inventory_inventoryitem_count", args=[item.pk])
    refused = staff_client.post(url, {"batch_number": "B", "counted_quantity": "2"})
    assert "needs an expiry date" in " ".join(refused.context["form"].non_field_errors())
    dated = staff_client.post(url, {"batch_number": "B", "counted_quantity": "2", "expiry_date": "2030-05-01"})
    assert dated.status_code == 302
    kept = staff_client.post(url, {"batch_number": "A", "counted_quantity": "7"})  # A keeps its own date
    assert kept.status_code == 302
    assert lots(item) == {"A": 7, "B": 2}
    assert str(StockLot.objects.get(batch_number="B").expiry_date) == "2030-05-01"
