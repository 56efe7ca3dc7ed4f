"""The admin: endpoints with the secret shown once, deliveries read-only with a retry action."""

import pytest
from django.urls import reverse

from inventory.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from inventory.webhooks import deliver_due, schedule_deliveries
from tests.webhooks.support import make_event

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client, warehouse_user):
    client.force_login(warehouse_user)
    return client


def test_adding_an_endpoint_shows_its_generated_secret_once(staff_client, private_urls):
    response = staff_client.post(
        reverse("admin:inventory_webhookendpoint_add"),
        {"url": "http://erp:8080/hooks", "events": "inventory.updated, reservation.*", "is_active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["inventory.updated", "reservation.*"]
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()

    change_page = staff_client.get(reverse("admin:inventory_webhookendpoint_change", args=[endpoint.pk]))
    listing = staff_client.get(reverse("admin:inventory_webhookendpoint_changelist"))
    assert change_page.status_code == listing.status_code == 200
    assert endpoint.secret not in change_page.content.decode()
    assert endpoint.secret not in listing.content.decode()
    assert "inventory.updated, reservation.*" in listing.content.decode()


def test_the_admin_refuses_what_the_api_refuses(staff_client):
    response = staff_client.post(
        reverse("admin:inventory_webhookendpoint_add"),
        {"url": "http://169.254.169.254/", "events": "stock.moved", "is_active": "on"},
    )
    page = response.content.decode()
    assert response.status_code == 200 and "link-local address" in page and "stock.moved" in page
    assert not WebhookEndpoint.objects.exists()


def test_reactivating_in_the_admin_clears_the_failures_and_rotating_shows_a_new_secret(staff_client, private_urls):
    endpoint = WebhookEndpoint.objects.create(
        url="http://erp/hooks",
        events=["*"],
        secret="whsec_old-secret-1234",
        is_active=False,
        consecutive_failures=20,
        disabled_reason="Deactivated after 20 failed deliveries in a row",
    )
    response = staff_client.post(
        reverse("admin:inventory_webhookendpoint_change", args=[endpoint.pk]),
        {"url": "http://erp/hooks", "events": "*", "is_active": "on", "rotate_secret": "on"},
        follow=True,
    )
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_reason) == (True, 0, "")
    assert endpoint.secret != "whsec_old-secret-1234" and endpoint.secret in response.content.decode()


def test_retry_selected_deliveries(staff_client, receiver, endpoint_for, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    active, inactive = endpoint_for(receiver), endpoint_for(receiver)
    receiver.answer = lambda request, n: 500
    schedule_deliveries([make_event()])
    deliver_due()
    WebhookEndpoint.objects.filter(pk=inactive.pk).update(is_active=False)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.FAILED}

    changelist = reverse("admin:inventory_webhookdelivery_changelist")
    page = staff_client.get(changelist, {"status__exact": "failed"})
    assert page.status_code == 200 and "Retry selected deliveries" in page.content.decode()
    response = staff_client.post(
        changelist,
        {"action": "retry_selected", "_selected_action": list(WebhookDelivery.objects.values_list("pk", flat=True))},
        follow=True,
    )
    page = response.content.decode()
    assert "1 delivery will be sent again now." in page and "1 skipped: their endpoint is inactive" in page
    assert WebhookDelivery.objects.get(endpoint=active).status == DeliveryStatus.PENDING
    assert WebhookDelivery.objects.get(endpoint=inactive).status == DeliveryStatus.FAILED
    receiver.answer = lambda request, n: 200
    assert deliver_due() == 1
    assert WebhookDelivery.objects.get(endpoint=active).status == DeliveryStatus.SUCCEEDED

    delivery = WebhookDelivery.objects.get(endpoint=active)
    detail = staff_client.get(reverse("admin:inventory_webhookdelivery_change", args=[delivery.pk]))
    assert detail.status_code == 200 and delivery.body in detail.content.decode().replace("&quot;", '"')
    assert 'name="_save"' not in detail.content.decode()  # read-only
