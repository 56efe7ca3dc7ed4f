"""The detail pages' state buttons: a transfer's Start / Complete / Cancel, a reservation's Confirm / Release.

Each is a POST (with the CSRF token) to a view that calls the service and goes back to the page with a
message; a refusal (stale page, expired reservation) is an error message and changes nothing.
"""

import pytest
from django.test import Client
from django.urls import reverse

from inventory.selectors import ledger_drift
from reservations import services as reservation_services
from reservations.models import StockReservation
from tests.admin_ui.support import ledger_size, make_overdue, reserve, shown_messages, stock
from tests.factories import UserFactory, stocked_item
from tests.transfers.support import quantities, snapshot
from transfers import services
from transfers.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def transfer_page(transfer: Transfer) -> str:
    return reverse("admin:transfers_transfer_change", args=[transfer.pk])


def reservation_page(reservation: StockReservation) -> str:
    return reverse("admin:reservations_stockreservation_change", args=[reservation.pk])


def press(client: Client, model: str, obj, button: str):
    """Click a state button (POST its form) and follow the redirect back to the detail page."""
    return client.post(reverse(f"admin:{model}_{button}", args=[obj.pk]), follow=True)


def offered(client: Client, page: str) -> list[str]:
    """The state buttons the detail page shows, in order."""
    response = client.get(page)
    assert response.status_code == 200
    return [offer["button"].label for offer in response.context["state_buttons"]]


# --- transfers ---------------------------------------------------------------------------------


def test_a_transfer_page_offers_the_steps_its_status_allows_and_each_button_takes_it(
    staff_client, setup, warehouse_user
):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    page = transfer_page(transfer)
    assert offered(staff_client, page) == ["Start", "Cancel transfer"]
    html = staff_client.get(page).content.decode()
    start = reverse("admin:transfers_transfer_start", args=[transfer.pk])
    assert f'<form method="post" action="{start}">' in html and 'name="csrfmiddlewaretoken"' in html
    assert "5 × " in html and "waiting to be shipped" in html

    response = press(staff_client, "transfers_transfer", transfer, "start")
    assert response.redirect_chain == [(page, 302)]
    assert shown_messages(response) == [("success", f"{transfer}: started (5 units of {setup.product.sku}).")]
    transfer.refresh_from_db()
    assert (transfer.status, transfer.started_by) == ("in_transit", warehouse_user)
    assert quantities(setup.product, setup.source) == (15, 0, 15)
    assert offered(staff_client, page) == ["Complete", "Cancel transfer"]

    response = press(staff_client, "transfers_transfer", transfer, "complete")
    assert [level for level, _ in shown_messages(response)] == ["success"]
    assert quantities(setup.product, setup.destination) == (5, 0, 5)
    assert offered(staff_client, page) == []
    assert "arrived at" in staff_client.get(page).content.decode()
    assert ledger_drift() == []
    # The transfer's History page names who pressed what.
    history = staff_client.get(reverse("admin:transfers_transfer_history", args=[transfer.pk])).content.decode()
    assert f"{transfer}: started" in history and f"{transfer}: completed" in history


def test_cancel_releases_a_pending_transfers_hold(staff_client, setup):
    transfer = services.create_transfer(**setup.create_kwargs(4))
    response = press(staff_client, "transfers_transfer", transfer, "cancel")
    assert [level for level, _ in shown_messages(response)] == ["success"]
    assert Transfer.objects.get(pk=transfer.pk).status == "cancelled"
    assert quantities(setup.product, setup.source) == (20, 0, 20)


@pytest.mark.parametrize(
    ("done", "button", "status"),
    [
        (["start"], "start", "in_transit"),  # someone started it while this page was open
        ([], "complete", "pending"),  # not shipped yet
        (["start", "complete"], "cancel", "completed"),  # too late to cancel
        (["cancel"], "start", "cancelled"),
    ],
)
def test_a_step_the_transfer_cannot_take_is_an_error_message_and_changes_nothing(
    staff_client, setup, done, button, status
):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    steps = {
        "start": services.start_transfer,
        "complete": services.complete_transfer,
        "cancel": services.cancel_transfer,
    }
    for step in done:
        steps[step](transfer_id=transfer.pk)
    before = snapshot()
    response = press(staff_client, "transfers_transfer", transfer, button)
    assert response.status_code == 200 and response.redirect_chain == [(transfer_page(transfer), 302)]
    ((level, text),) = shown_messages(response)
    assert level == "error"
    assert text.startswith("Not done (") and f"is {status}; it cannot be" in text
    assert snapshot() == before


# --- reservations ------------------------------------------------------------------------------


def test_confirm_sells_the_held_units(staff_client, warehouse_user):
    item = stocked_item(10)
    reservation = reserve(item, 3, order_id="ORD-77")
    page = reservation_page(reservation)
    assert offered(staff_client, page) == ["Confirm", "Release"]
    assert f"Holding {item.product.sku} × 3 in {item.warehouse.code}; " in staff_client.get(page).content.decode()

    response = press(staff_client, "reservations_stockreservation", reservation, "confirm")
    assert response.redirect_chain == [(page, 302)]
    assert shown_messages(response) == [("success", "Reservation ORD-77 confirmed: the units are sold.")]
    assert StockReservation.objects.get(pk=reservation.pk).status == "fulfilled"
    assert stock(item) == (7, 0, 7)
    assert offered(staff_client, page) == []
    assert ledger_drift() == []


def test_release_puts_the_units_back_on_sale(staff_client, warehouse_user):
    item = stocked_item(10)
    reservation = reserve(item, 4, session_id="cart-9")
    response = press(staff_client, "reservations_stockreservation", reservation, "release")
    assert shown_messages(response) == [("success", "Reservation cart-9 released: the units are available again.")]
    reservation.refresh_from_db()
    assert (reservation.status, reservation.released_by) == ("released", warehouse_user)
    assert stock(item) == (10, 0, 10)


@pytest.mark.parametrize("button", ["confirm", "release"])
def test_a_closed_reservation_is_refused_with_a_message(staff_client, button):
    item = stocked_item(10)
    reservation = reserve(item, 2)
    reservation_services.confirm_reservation(reservation_id=reservation.pk)
    rows, before = ledger_size(), stock(item)
    response = press(staff_client, "reservations_stockreservation", reservation, button)
    ((level, text),) = shown_messages(response)
    assert level == "error" and "The reservation is fulfilled, not active." in text
    assert StockReservation.objects.get(pk=reservation.pk).status == "fulfilled"
    assert (ledger_size(), stock(item)) == (rows, before)


def test_confirming_an_overdue_reservation_says_it_expired_and_sells_nothing(staff_client):
    item = stocked_item(10)
    reservation = reserve(item, 3)
    make_overdue(reservation)
    rows = ledger_size()
    response = press(staff_client, "reservations_stockreservation", reservation, "confirm")
    ((level, text),) = shown_messages(response)
    assert level == "error" and "expired" in text
    # The hold lapsed (the service expires it on the spot); nothing was sold.
    assert StockReservation.objects.get(pk=reservation.pk).status == "expired"
    assert (ledger_size(), stock(item)) == (rows, (10, 0, 10))
    assert offered(staff_client, reservation_page(reservation)) == []


# --- the rules every button follows ------------------------------------------------------------


def test_buttons_take_only_a_post_with_the_csrf_token(warehouse_user, setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    client = Client(enforce_csrf_checks=True)
    client.force_login(warehouse_user)
    url = reverse("admin:transfers_transfer_start", args=[transfer.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403  # no CSRF token
    assert Transfer.objects.get(pk=transfer.pk).status == "pending"
    token = client.get(transfer_page(transfer)).context["csrf_token"]
    assert client.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    assert Transfer.objects.get(pk=transfer.pk).status == "in_transit"


def test_staff_without_the_warehouse_role_cannot_press_them(client, setup):
    transfer = services.create_transfer(**setup.create_kwargs(5))
    reservation = reserve(stocked_item(5), 1)
    client.force_login(UserFactory(is_staff=True))
    assert client.post(reverse("admin:transfers_transfer_start", args=[transfer.pk])).status_code == 403
    url = reverse("admin:reservations_stockreservation_confirm", args=[reservation.pk])
    assert client.post(url).status_code == 403
    client.logout()
    assert client.post(url).status_code == 302  # to the login page
    assert Transfer.objects.get(pk=transfer.pk).status == "pending"
    assert StockReservation.objects.get(pk=reservation.pk).status == "active"


def test_storefront_staff_cannot_confirm_from_the_back_office(client, storefront_user):
    # The storefront role may confirm its own reservations through the API, not in the admin.
    storefront_user.is_staff = True
    storefront_user.save(update_fields=["is_staff"])
    reservation = reserve(stocked_item(5), 1, user=storefront_user)
    client.force_login(storefront_user)
    url = reverse("admin:reservations_stockreservation_confirm", args=[reservation.pk])
    assert client.post(url).status_code == 403
    assert StockReservation.objects.get(pk=reservation.pk).status == "active"


def test_an_unknown_object_is_a_404(staff_client):
    url = reverse("admin:transfers_transfer_start", args=["6f1d9a38-0000-4000-8000-000000000000"])
    assert staff_client.post(url).status_code == 404
    assert staff_client.post(reverse("admin:reservations_stockreservation_confirm", args=["nope"])).status_code == 404
