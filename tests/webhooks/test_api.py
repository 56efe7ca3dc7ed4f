"""The webhook API: warehouse staff manage endpoints; the secret is shown once; bad patterns and URLs are 400s."""

import pytest

from inventory.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from inventory.webhooks import deliver_due, schedule_deliveries
from tests.webhooks.support import due_now, make_event

pytestmark = pytest.mark.django_db

API = "/api/v1/webhooks/"
PUBLIC_URL = "https://93.184.216.34/hooks/inventory"  # an IP literal: no DNS needed to accept it


def test_create_returns_the_generated_secret_once(warehouse_api):
    response = warehouse_api.post(
        API, {"url": PUBLIC_URL, "events": ["inventory.updated", "reservation.*"]}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["secret"].startswith("whsec_") and len(body["secret"]) > 40
    assert body["url"] == PUBLIC_URL and body["events"] == ["inventory.updated", "reservation.*"]
    assert body["is_active"] is True and body["consecutive_failures"] == 0
    assert WebhookEndpoint.objects.get(pk=body["id"]).secret == body["secret"]

    detail = warehouse_api.get(f"{API}{body['id']}/")
    listed = warehouse_api.get(API)
    patched = warehouse_api.patch(f"{API}{body['id']}/", {"description": "ERP"}, format="json")
    assert detail.status_code == listed.status_code == patched.status_code == 200
    assert "secret" not in detail.json() and "secret" not in patched.json()
    assert listed.json()["count"] == 1 and "secret" not in listed.json()["results"][0]
    for response in (detail, listed, patched):
        assert body["secret"] not in response.content.decode()


def test_a_given_secret_is_kept_and_a_short_one_refused(warehouse_api):
    given = "my-own-secret-of-some-length"
    created = warehouse_api.post(API, {"url": PUBLIC_URL, "events": ["*"], "secret": given}, format="json")
    assert created.status_code == 201 and created.json()["secret"] == given
    short = warehouse_api.post(API, {"url": PUBLIC_URL, "events": ["*"], "secret": "short"}, format="json")
    assert short.status_code == 400
    assert short.json()["code"] == "invalid" and "secret" in short.json()["errors"]


def test_update_and_delete(warehouse_api):
    endpoint_id = warehouse_api.post(API, {"url": PUBLIC_URL, "events": ["*"]}, format="json").json()["id"]
    response = warehouse_api.patch(
        f"{API}{endpoint_id}/",
        {"events": ["transfer.*", "low_stock.raised"], "is_active": False, "url": "http://93.184.216.34:8080/x"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["events"] == ["transfer.*", "low_stock.raised"]
    assert response.json()["is_active"] is False
    assert response.json()["url"] == "http://93.184.216.34:8080/x"
    rotated = warehouse_api.patch(f"{API}{endpoint_id}/", {"secret": "a-new-secret-for-rotation"}, format="json")
    assert rotated.status_code == 200 and "secret" not in rotated.json()
    assert WebhookEndpoint.objects.get(pk=endpoint_id).secret == "a-new-secret-for-rotation"
    assert warehouse_api.delete(f"{API}{endpoint_id}/").status_code == 204
    gone = warehouse_api.get(f"{API}{endpoint_id}/")
    assert gone.status_code == 404 and gone.json()["code"] == "not_found"


def test_storefront_is_refused_and_anonymous_must_log_in(storefront_api, anon_api, warehouse_api):
    endpoint_id = warehouse_api.post(API, {"url": PUBLIC_URL, "events": ["*"]}, format="json").json()["id"]
    calls = [
        ("get", API, None),
        ("post", API, {"url": PUBLIC_URL, "events": ["*"]}),
        ("get", f"{API}{endpoint_id}/", None),
        ("patch", f"{API}{endpoint_id}/", {"is_active": False}),
        ("delete", f"{API}{endpoint_id}/", None),
        ("get", f"{API}{endpoint_id}/deliveries", None),
        ("post", f"{API}{endpoint_id}/deliveries/1/retry", None),
    ]
    for method, url, body in calls:
        refused = getattr(storefront_api, method)(url, body, format="json")
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied"), (method, url)
        anonymous = getattr(anon_api, method)(url, body, format="json")
        assert anonymous.status_code == 401, (method, url)
    assert WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).count() == 1


@pytest.mark.parametrize(
    "pattern",
    ["stock.updated", "inventory", "inventory.", "inventory.*.x", "reservation.created.*", "stock.*", "**", ".*", ""],
)
def test_unknown_event_patterns_are_refused_by_name(warehouse_api, pattern):
    response = warehouse_api.post(API, {"url": PUBLIC_URL, "events": ["inventory.updated", pattern]}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and "events" in body["errors"]
    if pattern:  # an empty string is refused by the type check already ("may not be blank")
        assert repr(pattern) in body["detail"]
    assert not WebhookEndpoint.objects.exists()


def test_every_kind_of_pattern_is_accepted_and_duplicates_folded(warehouse_api):
    events = ["inventory.updated", "reservation.*", "low_stock.*", "transfer.cancelled", "*", "reservation.*"]
    response = warehouse_api.post(API, {"url": PUBLIC_URL, "events": events}, format="json")
    assert response.status_code == 201
    assert response.json()["events"] == events[:-1]
    assert warehouse_api.post(API, {"url": PUBLIC_URL, "events": []}, format="json").status_code == 400


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1, a loopback address"),
        ("http://10.1.2.3/hook", "10.1.2.3, a private address"),
        ("http://192.168.1.20/hook", "a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254, a link-local address"),
        ("http://[::1]:8080/hook", "::1, a loopback address"),
        ("http://[fd00::1]/hook", "a private address"),
        ("http://[::ffff:10.0.0.1]/hook", "a private address"),
        ("http://localhost:8000/hook", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://2130706433/hook", "resolves to 127.0.0.1"),  # 127.0.0.1 spelt as one number
        ("http://0.0.0.0/hook", "an unspecified address"),
        ("http://224.0.0.1/hook", "a multicast address"),
        ("http://240.0.0.1/hook", "a reserved address"),
        ("http://100.64.0.1/hook", "a non-public address"),
        ("ftp://93.184.216.34/hook", "Only http:// and https://"),
        ("https://user:pw@93.184.216.34/hook", "Credentials in the URL"),
        ("https://hooks.example.invalid/x", "does not resolve"),
        ("not a url", "ASCII without spaces"),
    ],
)
def test_urls_the_server_must_not_call_are_refused(warehouse_api, url, why):
    response = warehouse_api.post(API, {"url": url, "events": ["*"]}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["code"] == "invalid" and why in body["errors"]["url"][0], body
    assert not WebhookEndpoint.objects.exists()


def test_private_urls_are_allowed_by_the_setting(warehouse_api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    for url in ("http://127.0.0.1:8000/hook", "http://localhost/hook", "http://erp:8080/hooks", "http://[::1]/x"):
        response = warehouse_api.post(API, {"url": url, "events": ["*"]}, format="json")
        assert response.status_code == 201, (url, response.json())
    # Still only http(s).
    assert warehouse_api.post(API, {"url": "file:///etc/passwd", "events": ["*"]}, format="json").status_code == 400


def test_changing_the_url_to_a_private_one_is_refused(warehouse_api):
    endpoint_id = warehouse_api.post(API, {"url": PUBLIC_URL, "events": ["*"]}, format="json").json()["id"]
    response = warehouse_api.patch(f"{API}{endpoint_id}/", {"url": "http://169.254.169.254/"}, format="json")
    assert response.status_code == 400 and "link-local" in response.json()["errors"]["url"][0]
    assert WebhookEndpoint.objects.get(pk=endpoint_id).url == PUBLIC_URL


def test_deliveries_are_listed_newest_first_and_filtered(warehouse_api, receiver, endpoint_for, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    endpoint = endpoint_for(receiver)
    receiver.answer = lambda request, n: 500 if n == 1 else 200
    first, second = make_event(item_id=1), make_event(item_id=2)
    schedule_deliveries([first])
    deliver_due()  # first fails for good (one attempt allowed)
    schedule_deliveries([second])
    deliver_due()

    response = warehouse_api.get(f"{API}{endpoint.pk}/deliveries")
    assert response.status_code == 200
    page = response.json()
    assert page["count"] == 2 and {"next", "previous"} <= set(page)
    newest, oldest = page["results"]
    assert (newest["event_id"], newest["status"], newest["last_status_code"]) == (second.id, "succeeded", 200)
    assert (oldest["event_id"], oldest["status"], oldest["last_status_code"]) == (first.id, "failed", 500)
    assert oldest["attempts"] == 1 and oldest["last_error"].startswith("HTTP 500")
    assert oldest["next_attempt_at"] is None and newest["delivered_at"] is not None
    assert set(newest) >= {"id", "event_id", "event_type", "status", "attempts", "last_status_code", "next_attempt_at"}

    failed = warehouse_api.get(f"{API}{endpoint.pk}/deliveries?status=failed").json()
    assert [d["event_id"] for d in failed["results"]] == [first.id]
    assert warehouse_api.get(f"{API}{endpoint.pk}/deliveries?status=lost").status_code == 400
    assert warehouse_api.get(f"{API}{endpoint.pk + 1000}/deliveries").status_code == 404


def test_retry_makes_a_failed_delivery_pending_again_and_it_goes_out(warehouse_api, receiver, endpoint_for, settings):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    endpoint = endpoint_for(receiver)
    receiver.answer = lambda request, n: 500 if n <= 2 else 200
    schedule_deliveries([make_event()])
    deliver_due()
    due_now()
    deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 2)

    response = warehouse_api.post(f"{API}{endpoint.pk}/deliveries/{delivery.pk}/retry")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["status"], body["attempts"]) == ("pending", 0)
    assert deliver_due() == 1  # due at once, no waiting
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    assert len(receiver.requests) == 3


def test_retry_of_another_endpoints_delivery_is_not_found(warehouse_api, receiver, endpoint_for):
    mine, other = endpoint_for(receiver), endpoint_for(receiver)
    schedule_deliveries([make_event()])
    theirs = WebhookDelivery.objects.get(endpoint=other)
    response = warehouse_api.post(f"{API}{mine.pk}/deliveries/{theirs.pk}/retry")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert warehouse_api.post(f"{API}{mine.pk}/deliveries/999999/retry").status_code == 404
    assert warehouse_api.post(f"{API}999999/deliveries/{theirs.pk}/retry").status_code == 404


def test_retry_on_an_inactive_endpoint_is_a_conflict(warehouse_api, receiver, endpoint_for):
    endpoint = endpoint_for(receiver)
    schedule_deliveries([make_event()])
    warehouse_api.patch(f"{API}{endpoint.pk}/", {"is_active": False}, format="json")
    delivery = WebhookDelivery.objects.get()
    response = warehouse_api.post(f"{API}{endpoint.pk}/deliveries/{delivery.pk}/retry")
    assert (response.status_code, response.json()["code"]) == (409, "invalid_state")
    assert "inactive" in response.json()["detail"]
