"""The transfers back office: create through the service, transitions as actions, state read-only."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inventory.selectors import ledger_drift
from tests.factories import ProductFactory, UserFactory, stocked_item
from tests.transfers.support import quantities, snapshot
from transfers import services
from transfers.models import Transfer

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:transfers_transfer_changelist"


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def _add_form(setup, quantity="5", **extra) -> dict:
    return {
        "product": str(setup.product.pk),
        "from_warehouse": str(setup.source.pk),
        "to_warehouse": str(setup.destination.pk),
        "quantity": quantity,
        "requested_by": "",
        "notes": "",
        **extra,
    }


def _act(client, action: str, transfers: list) -> list[tuple[str, str]]:
    """Run an admin action on the changelist; return the messages shown afterwards."""
    response = client.post(
        reverse(CHANGELIST), {"action": action, "_selected_action": [t.pk for t in transfers]}, follow=True
    )
    assert response.redirect_chain and response.status_code == 200
    return [(m.level_tag, str(m)) for m in response.context["messages"]]


def test_new_transfer_form_creates_through_the_service(staff_client, warehouse_user, setup):
    url = reverse("admin:transfers_transfer_add")
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, _add_form(setup, "6", requested_by="Store 9", notes="Urgent"))
    assert response.status_code == 302, response.content.decode()[:2000]
    transfer = Transfer.objects.get()
    assert response["Location"] == reverse("admin:transfers_transfer_changelist")
    assert (transfer.status, transfer.quantity, transfer.requested_by, transfer.notes) == (
        "pending",
        6,
        "Store 9",
        "Urgent",
    )
    assert transfer.created_by == warehouse_user
    assert quantities(setup.product, setup.source) == (14, 6, 20)  # held, so the service ran
    assert ledger_drift() == []
    page = staff_client.get(reverse("admin:transfers_transfer_change", args=[transfer.pk])).content.decode()
    assert "Store 9" in page


def test_a_refused_new_transfer_shows_the_reason_as_a_form_error(staff_client, setup):
    before = snapshot()
    response = staff_client.post(reverse("admin:transfers_transfer_add"), _add_form(setup, "21"))
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert any("Not enough stock" in error for error in form.non_field_errors())
    assert "Not enough stock" in response.content.decode()
    assert snapshot() == before


@pytest.mark.parametrize(
    ("change", "field"),
    [({"to_warehouse": "same"}, "to_warehouse"), ({"quantity": "0"}, "quantity"), ({"quantity": "x"}, "quantity")],
)
def test_new_transfer_form_validates_input(staff_client, setup, change, field):
    if change.get("to_warehouse") == "same":
        change = {"to_warehouse": str(setup.source.pk)}
    before = snapshot()
    response = staff_client.post(reverse("admin:transfers_transfer_add"), _add_form(setup, **change))
    assert response.status_code == 200
    assert field in response.context["adminform"].form.errors
    assert snapshot() == before


def _statuses() -> dict:
    return dict(Transfer.objects.values_list("pk", "status"))


def test_actions_report_each_transfer_and_one_refusal_does_not_stop_the_others(staff_client, setup):
    a = services.create_transfer(**setup.create_kwargs(2))
    b = services.create_transfer(**setup.create_kwargs(3))
    services.cancel_transfer(transfer_id=b.pk)
    c = services.create_transfer(**setup.create_kwargs(4))
    shown = _act(staff_client, "start_selected", [a, b, c])
    assert [level for level, _ in shown] == ["success", "error", "success"]
    assert "cancelled" in shown[1][1] and str(b) in shown[1][1]
    assert _statuses() == {a.pk: "in_transit", b.pk: "cancelled", c.pk: "in_transit"}
    assert quantities(setup.product, setup.source) == (14, 0, 14)

    assert [level for level, _ in _act(staff_client, "complete_selected", [a])] == ["success"]
    # Oldest first: a (completed, refused), then c (cancelled).
    assert [level for level, _ in _act(staff_client, "cancel_selected", [c, a])] == ["error", "success"]
    assert _statuses() == {a.pk: "completed", b.pk: "cancelled", c.pk: "cancelled"}
    assert quantities(setup.product, setup.source) == (18, 0, 18)
    assert quantities(setup.product, setup.destination) == (2, 0, 2)
    assert ledger_drift() == []


def test_state_is_read_only_and_notes_are_editable(staff_client, setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    url = reverse("admin:transfers_transfer_change", args=[transfer.pk])
    response = staff_client.post(
        url,
        {
            "status": "completed",
            "quantity": "1",
            "to_warehouse": str(setup.source.pk),
            "requested_by": "Desk",
            "notes": "Call first",
        },
    )
    assert response.status_code == 302
    transfer.refresh_from_db()
    assert (transfer.status, transfer.quantity, transfer.to_warehouse_id) == ("pending", 5, setup.destination.pk)
    assert (transfer.requested_by, transfer.notes) == ("Desk", "Call first")
    assert quantities(setup.product, setup.source) == (15, 5, 20)


def test_transfers_cannot_be_deleted(staff_client, setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    assert staff_client.get(reverse("admin:transfers_transfer_delete", args=[transfer.pk])).status_code == 403
    response = staff_client.post(reverse(CHANGELIST), {"action": "delete_selected", "_selected_action": [transfer.pk]})
    assert Transfer.objects.filter(pk=transfer.pk).exists()
    assert response.status_code in {200, 302}


def test_changelist_filters_and_search(staff_client, setup, django_assert_max_num_queries):
    shipped = services.create_transfer(**setup.create_kwargs(2))
    services.start_transfer(transfer_id=shipped.pk)
    waiting = services.create_transfer(**setup.create_kwargs(3))
    other_product = ProductFactory(sku="OTHER-SKU-1")
    stocked_item(5, product=other_product, warehouse=setup.destination)
    other = services.create_transfer(
        product_id=other_product.pk, from_warehouse_id=setup.destination.pk, to_warehouse_id=setup.source.pk, quantity=1
    )
    url = reverse(CHANGELIST)

    def ids(response) -> set:
        return {t.pk for t in response.context["cl"].result_list}

    with django_assert_max_num_queries(20):
        assert ids(staff_client.get(url)) == {shipped.pk, waiting.pk, other.pk}
    assert ids(staff_client.get(url, {"status__exact": "in_transit"})) == {shipped.pk}
    assert ids(staff_client.get(url, {"from_warehouse__id__exact": setup.destination.pk})) == {other.pk}
    assert ids(staff_client.get(url, {"to_warehouse__id__exact": setup.destination.pk})) == {shipped.pk, waiting.pk}
    assert ids(staff_client.get(url, {"q": "OTHER-SKU"})) == {other.pk}


def test_staff_without_the_warehouse_role_cannot_open_transfers(client, setup):
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse(CHANGELIST)).status_code == 403
    assert client.get(reverse("admin:transfers_transfer_add")).status_code == 403


def test_inventory_items_show_units_in_transit_out_without_n_plus_1(staff_client, setup, django_assert_num_queries):
    shipped = services.create_transfer(**setup.create_kwargs(2))
    services.start_transfer(transfer_id=shipped.pk)
    also_shipped = services.create_transfer(**setup.create_kwargs(3))
    services.start_transfer(transfer_id=also_shipped.pk)
    services.create_transfer(**setup.create_kwargs(4))  # pending: held, not in transit
    received = services.create_transfer(**setup.create_kwargs(1))
    services.start_transfer(transfer_id=received.pk)
    services.complete_transfer(transfer_id=received.pk)
    url = reverse("admin:inventory_inventoryitem_changelist")

    def in_transit(response) -> dict:
        return {(i.product_id, i.warehouse_id): i.in_transit_out for i in response.context["cl"].result_list}

    response = staff_client.get(url)
    assert in_transit(response) == {
        (setup.product.pk, setup.source.pk): 5,
        (setup.product.pk, setup.destination.pk): 0,
    }
    assert "In transit</a>" in response.content.decode()  # the column header (sortable)

    # More items and transfers add no queries.
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for _ in range(5):
        item = stocked_item(10)
        extra = services.create_transfer(
            product_id=item.product_id,
            from_warehouse_id=item.warehouse_id,
            to_warehouse_id=setup.destination.pk,
            quantity=1,
        )
        services.start_transfer(transfer_id=extra.pk)
    with django_assert_num_queries(len(few.captured_queries)):
        staff_client.get(url)
