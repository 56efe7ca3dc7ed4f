"""Deliveries against a real HTTP receiver: signed bodies, retries with backoff, giving up, ordering per item."""

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from inventory.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from inventory.webhooks import deliver_due, schedule_deliveries
from tests.processes import free_port
from tests.webhooks.signature_snippet import verify_signature
from tests.webhooks.support import due_now, make_event

pytestmark = pytest.mark.django_db


def _delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


def test_a_receiver_that_fails_twice_then_succeeds_gets_the_signed_event(warehouse_api, receiver, private_urls):
    created = warehouse_api.post("/api/v1/webhooks/", {"url": receiver.url, "events": ["inventory.*"]}, format="json")
    secret = created.json()["secret"]
    receiver.answer = lambda request, n: 500 if n <= 2 else 204
    event = make_event()
    assert schedule_deliveries([event]) == 1

    assert deliver_due() == 1
    delivery = _delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.last_error == "HTTP 500: receiver says no"
    assert deliver_due() == 0  # waiting for its backoff
    due_now()
    assert deliver_due() == 1
    due_now()
    assert deliver_due() == 1

    delivery = _delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 3, 204)
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None and delivery.last_error == ""
    assert len(receiver.requests) == 3
    for request in receiver.requests:
        # The exact stored bytes, which are the event as the feed shows it.
        assert request.body == delivery.body.encode()
        assert request.event == event.as_json()
        assert verify_signature(secret, request.headers["X-Inventory-Signature"], request.body)
        assert not verify_signature("whsec_some-other-secret", request.headers["X-Inventory-Signature"], request.body)
        assert not verify_signature(secret, request.headers["X-Inventory-Signature"], request.body + b" ")
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Inventory-Event"] == "inventory.updated"
        assert request.headers["X-Inventory-Delivery"] == str(delivery.pk)
        assert request.headers["User-Agent"].startswith("inventory-service-webhooks/")
        assert request.path == "/hook"
    listed = warehouse_api.get(f"/api/v1/webhooks/{created.json()['id']}/deliveries").json()["results"]
    assert (listed[0]["status"], listed[0]["attempts"]) == ("succeeded", 3)


def test_retries_back_off_exponentially_from_the_base(receiver, endpoint_for, settings):
    settings.WEBHOOK_RETRY_BASE = 10
    endpoint_for(receiver)
    receiver.answer = lambda request, n: 503
    schedule_deliveries([make_event()])
    for attempt, (low, high) in enumerate([(5, 10), (10, 20), (20, 40)], start=1):
        before = timezone.now()
        deliver_due()
        after = timezone.now()
        wait_until = _delivery().next_attempt_at
        # Equal jitter: between half and all of base * 2**(attempt - 1) after the failure.
        assert before + timedelta(seconds=low) <= wait_until <= after + timedelta(seconds=high), attempt
        due_now()


def test_a_delivery_that_runs_out_of_attempts_fails(receiver, endpoint_for, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    endpoint_for(receiver)
    receiver.answer = lambda request, n: 500
    schedule_deliveries([make_event()])
    for _ in range(3):
        assert deliver_due() == 1
        due_now()
    delivery = _delivery()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (DeliveryStatus.FAILED, 3, None)
    assert deliver_due() == 0
    assert len(receiver.requests) == 3


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (302, "HTTP 302 (redirects are not followed)"),
        (404, "HTTP 404"),
        ("hold", "no answer within 0.3 s (WEBHOOK_TIMEOUT)"),
    ],
)
def test_a_redirect_a_refusal_or_no_answer_in_time_is_a_failed_attempt(receiver, endpoint_for, settings, answer, error):
    settings.WEBHOOK_TIMEOUT = 0.3
    endpoint_for(receiver)
    receiver.answer = lambda request, n: answer
    schedule_deliveries([make_event()])
    assert deliver_due() == 1
    delivery = _delivery()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_error.startswith(error)
    assert [r.path for r in receiver.requests] == ["/hook"]  # the redirect was not followed


def test_nobody_listening_is_a_failed_attempt(private_urls):
    from inventory.webhooks import services

    services.create_endpoint(url=f"http://127.0.0.1:{free_port()}/hook", events=["*"])
    schedule_deliveries([make_event()])
    assert deliver_due() == 1
    assert _delivery().last_error.startswith("connection refused")
    assert _delivery().status == DeliveryStatus.PENDING


def test_private_addresses_are_refused_again_at_send_time(receiver, endpoint_for, settings):
    by_ip = endpoint_for(receiver)
    by_name = endpoint_for(receiver)
    WebhookEndpoint.objects.filter(pk=by_name.pk).update(url=receiver.url.replace("127.0.0.1", "localhost"))
    schedule_deliveries([make_event(item_id=1)])
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False  # as if the host's DNS had changed since it was accepted
    assert deliver_due() == 2
    errors = {d.endpoint_id: d.last_error for d in WebhookDelivery.objects.all()}
    assert errors[by_ip.pk].startswith("refused: 127.0.0.1, a loopback address")
    assert errors[by_name.pk].startswith("refused: localhost resolves to 127.0.0.1, a loopback address")
    assert receiver.requests == []


def test_deliveries_about_one_item_keep_event_order(receiver, endpoint_for):
    endpoint_for(receiver)
    first, second, other_item = make_event(item_id=7), make_event(item_id=7), make_event(item_id=8)
    receiver.answer = lambda request, n: 500 if request.event["id"] == first.id and n <= 2 else 200
    schedule_deliveries([first, second, other_item])

    assert deliver_due() == 2  # the second event of item 7 waits; item 8 is not held up
    sent = {r.event["id"] for r in receiver.requests}
    assert sent == {first.id, other_item.id}
    due_now()
    assert deliver_due() == 1  # only the first again: the second still waits for it
    assert receiver.requests[-1].event["id"] == first.id
    assert deliver_due() == 1
    assert [r.event["id"] for r in receiver.requests if r.event["data"]["id"] == 7] == [first.id, first.id, second.id]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}


def test_a_delivery_that_failed_for_good_no_longer_holds_up_the_next(receiver, endpoint_for, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    endpoint_for(receiver)
    first, second = make_event(item_id=7), make_event(item_id=7)
    receiver.answer = lambda request, n: 500 if request.event["id"] == first.id else 200
    schedule_deliveries([first, second])
    assert deliver_due() == 1
    assert deliver_due() == 1
    statuses = dict(WebhookDelivery.objects.values_list("event_id", "status"))
    assert statuses == {first.id: DeliveryStatus.FAILED, second.id: DeliveryStatus.SUCCEEDED}


def test_an_endpoint_is_deactivated_after_failed_deliveries_in_a_row(
    warehouse_api, receiver, endpoint_for, settings, caplog
):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_DISABLE_AFTER = 3
    endpoint = endpoint_for(receiver)
    healthy = {"ok": False}
    receiver.answer = lambda request, n: 200 if healthy["ok"] else 500

    schedule_deliveries([make_event(item_id=1), make_event(item_id=2)])
    assert deliver_due() == 2
    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures) == (True, 2)

    healthy["ok"] = True  # a success in between starts the count again
    schedule_deliveries([make_event(item_id=3)])
    deliver_due()
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0

    healthy["ok"] = False
    schedule_deliveries([make_event(item_id=i) for i in (4, 5, 6, 7)])
    with caplog.at_level(logging.WARNING, logger="inventory.webhooks.sender"):
        assert deliver_due(limit=3) == 3
    endpoint.refresh_from_db()
    assert endpoint.is_active is False and endpoint.consecutive_failures == 3
    assert "3 failed deliveries in a row" in endpoint.disabled_reason
    assert any(
        r.levelno == logging.WARNING
        and f"webhook endpoint {endpoint.pk}" in r.getMessage()
        and "deactivated" in r.getMessage()
        for r in caplog.records
    )
    sent = len(receiver.requests)
    assert deliver_due() == 0  # item 7's delivery waits while the endpoint is off
    assert schedule_deliveries([make_event(item_id=8)]) == 0  # and nothing new is scheduled for it
    assert len(receiver.requests) == sent

    healthy["ok"] = True
    response = warehouse_api.patch(f"/api/v1/webhooks/{endpoint.pk}/", {"is_active": True}, format="json")
    assert response.status_code == 200
    assert (response.json()["consecutive_failures"], response.json()["disabled_reason"]) == (0, "")
    assert deliver_due() == 1
    assert receiver.requests[-1].event["data"]["id"] == 7


def test_scheduling_matches_patterns_once_per_endpoint_and_event(receiver, endpoint_for):
    reservations = endpoint_for(receiver, ["reservation.*"])
    stock = endpoint_for(receiver, ["inventory.updated"])
    everything = endpoint_for(receiver, ["*"])
    endpoint_for(receiver, ["*"], is_active=False)
    updated = make_event("inventory.updated", item_id=7, product_id=12)
    reserved = make_event("reservation.created", item_id=None, product_id=12)
    raised = make_event("low_stock.raised", item_id=None, product_id=None)

    assert schedule_deliveries([updated, reserved, raised]) == 5
    assert schedule_deliveries([updated, reserved, raised]) == 5  # a batch handled twice...
    rows = set(WebhookDelivery.objects.values_list("endpoint_id", "event_id", "ordering_key"))
    assert rows == {  # ...still has one delivery per endpoint and event
        (reservations.pk, reserved.id, "product:12"),
        (stock.pk, updated.id, "item:7"),
        (everything.pk, updated.id, "item:7"),
        (everything.pk, reserved.id, "product:12"),
        (everything.pk, raised.id, ""),
    }
    body = WebhookDelivery.objects.filter(event_id=updated.id).values_list("body", flat=True).first()
    assert json.loads(body) == updated.as_json()
    assert '"note":"café"' in body  # compact, UTF-8, as the API renders JSON
    assert schedule_deliveries([]) == 0
