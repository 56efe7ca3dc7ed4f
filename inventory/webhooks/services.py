"""Webhook endpoints and deliveries: the one place that creates, changes and re-schedules them.

The API (``inventory.webhooks.views``) and the admin (``inventory.webhooks.admin``) both call these.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from inventory.exceptions import InvalidInput, InvalidState, NotFound
from inventory.models import DeliveryStatus, Event, WebhookDelivery, WebhookEndpoint
from inventory.webhooks import addresses, patterns
from inventory.webhooks.signing import MAX_SECRET_LENGTH, MIN_SECRET_LENGTH, generate_secret

EDITABLE_FIELDS = ("url", "events", "secret", "is_active", "description")


# --- validation ------------------------------------------------------------------------------


def clean_url(url: str) -> str:
    """The URL if webhooks may call it under the current settings (``ValidationError`` otherwise)."""
    return addresses.check_url(url, allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS)


def clean_secret(secret: str) -> str:
    """A caller-chosen secret: long enough to resist guessing, no whitespace (copy-paste accidents)."""
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise ValidationError(
            f"The secret must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters long.", code="invalid"
        )
    if any(c.isspace() or not c.isprintable() for c in secret):
        raise ValidationError("The secret must not contain spaces or control characters.", code="invalid")
    return secret


_CLEANERS = {"url": clean_url, "events": patterns.clean_events, "secret": clean_secret}


def _cleaned(fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with url, events and secret validated; ``InvalidInput`` (400 ``invalid``) naming each bad one."""
    cleaned, errors = dict(fields), {}
    for name, clean in _CLEANERS.items():
        if cleaned.get(name) is not None:
            try:
                cleaned[name] = clean(cleaned[name])
            except ValidationError as exc:
                errors[name] = exc.messages
    if errors:
        name, messages = next(iter(errors.items()))
        raise InvalidInput(f"Invalid input: {name}: {messages[0]}", errors=errors)
    return cleaned


# --- endpoints -------------------------------------------------------------------------------


def create_endpoint(
    *,
    url: str,
    events: list[str],
    secret: str | None = None,
    is_active: bool = True,
    description: str = "",
    user=None,
) -> WebhookEndpoint:
    """A new endpoint; without ``secret`` one is generated (the caller shows it once: it is never read back)."""
    fields = _cleaned({"url": url, "events": events, "secret": secret})
    return WebhookEndpoint.objects.create(
        url=fields["url"],
        events=fields["events"],
        secret=fields["secret"] or generate_secret(),
        is_active=is_active,
        description=description,
        created_by=user if user is not None and user.is_authenticated else None,
    )


def update_endpoint(*, endpoint_id: int, changes: Mapping[str, Any]) -> WebhookEndpoint:
    """Apply ``changes`` (url, events, secret, is_active, description); re-activating clears the failure count."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    fields = _cleaned(changes)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound(f"Unknown webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)
        if fields.get("is_active") and not endpoint.is_active:
            # A fresh start: the failures that deactivated it were about the receiver as it was then.
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason = ""
        for name, value in fields.items():
            setattr(endpoint, name, value)
        endpoint.save()
    return endpoint


def delete_endpoint(*, endpoint_id: int) -> None:
    """Delete an endpoint and its deliveries (pending ones are never sent)."""
    deleted, _ = WebhookEndpoint.objects.filter(pk=endpoint_id).delete()
    if not deleted:
        raise NotFound(f"Unknown webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)


# --- deliveries ------------------------------------------------------------------------------


def event_body(event: Event) -> str:
    """The event's JSON as sent: ``Event.as_json()`` serialised once, compact, like the API renders it."""
    return json.dumps(event.as_json(), cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":"))


def ordering_key(event: Event) -> str:
    """Deliveries with the same key go out in event order per endpoint: one item, else one product."""
    if event.item_id is not None:
        return f"item:{event.item_id}"
    if event.product_id is not None:
        return f"product:{event.product_id}"
    return ""


def schedule_deliveries(events: Sequence[Event]) -> int:
    """In the caller's transaction, one pending delivery, due now, per active matching endpoint and event.

    Set-based: one query for the endpoints, one insert that skips (endpoint, event) pairs already
    scheduled, so a batch handled twice never doubles. Returns how many pairs matched.
    """
    if not events:
        return 0
    endpoints = [
        (endpoint_id, patterns.matcher(subscribed))
        for endpoint_id, subscribed in WebhookEndpoint.objects.filter(is_active=True).values_list("id", "events")
    ]
    if not endpoints:
        return 0
    now = timezone.now()
    rows = []
    for event in events:
        body = None
        for endpoint_id, subscribes in endpoints:
            if subscribes(event.type):
                body = body if body is not None else event_body(event)
                rows.append(
                    WebhookDelivery(
                        endpoint_id=endpoint_id,
                        event_id=event.id,
                        event_type=event.type,
                        ordering_key=ordering_key(event),
                        body=body,
                        status=DeliveryStatus.PENDING,
                        next_attempt_at=now,
                        created_at=now,
                    )
                )
    WebhookDelivery.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return len(rows)


def _retry_fields() -> dict[str, Any]:
    # Attempts start again from zero: a retry usually follows a fix on the receiver's side, and it should
    # get the full round of WEBHOOK_MAX_ATTEMPTS with backoff rather than one last shot.
    # last_status_code and last_error stay until the next attempt replaces them: what went wrong before.
    return {"status": DeliveryStatus.PENDING, "attempts": 0, "next_attempt_at": timezone.now(), "delivered_at": None}


def retry_delivery(*, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """Make one delivery of ``endpoint_id`` pending and due now, whatever its status."""
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
        if endpoint is None:
            raise NotFound(f"Unknown webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_id, endpoint_id=endpoint_id).first()
        if delivery is None:
            raise NotFound(
                f"Webhook endpoint {endpoint_id} has no delivery {delivery_id}.",
                endpoint_id=endpoint_id,
                delivery_id=delivery_id,
            )
        if not endpoint.is_active:
            raise InvalidState(
                f"Webhook endpoint {endpoint_id} is inactive; activate it (is_active: true) before retrying.",
                endpoint_id=endpoint_id,
            )
        fields = _retry_fields()
        for name, value in fields.items():
            setattr(delivery, name, value)
        delivery.save(update_fields=list(fields))
    return delivery


def retry_deliveries(*, delivery_ids: Iterable[int]) -> int:
    """Make these deliveries pending and due now; those of inactive endpoints are skipped. Returns how many."""
    return WebhookDelivery.objects.filter(pk__in=list(delivery_ids), endpoint__is_active=True).update(**_retry_fields())
