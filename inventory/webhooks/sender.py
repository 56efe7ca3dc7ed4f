"""Sending due deliveries: claim them with a lease in one short transaction, POST outside any
transaction, then record each outcome (retry with backoff, give up, deactivate the endpoint).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connections, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from inventory.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from inventory.webhooks import transport
from inventory.webhooks.signing import signature_header

logger = logging.getLogger(__name__)

# A claimed delivery is due again only after WEBHOOK_TIMEOUT plus this: time for DNS, TLS and recording
# the outcome. Only a sender that died mid-attempt lets a lease run out; the delivery is then retried.
LEASE_MARGIN_SECONDS = 60
MAX_RETRY_DELAY_SECONDS = 3600
SEND_THREADS = 8
MAX_ERROR_BACKOFF_SECONDS = 30.0


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    endpoint_id: int
    url: str
    secret: str
    event_type: str
    body: str
    attempt: int  # 1 for the first attempt
    lease_until: datetime  # with ``attempt``, proves the claim is still ours when the outcome is recorded


def retry_delay(attempt: int, *, base: float) -> float:
    """Seconds to wait after failed attempt ``attempt`` (1-based): ``base * 2**(attempt-1)``, equal jitter.

    Half of the step is fixed and half random, so retries of many deliveries spread out yet never come
    sooner than half the step.
    """
    step = min(base * 2 ** min(attempt - 1, 40), MAX_RETRY_DELAY_SECONDS)
    return step / 2 + random.uniform(0, step / 2)


def _claim_due(limit: int) -> list[_Claim]:
    """Lease up to ``limit`` due deliveries to this sender (one short transaction)."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=float(settings.WEBHOOK_TIMEOUT) + LEASE_MARGIN_SECONDS)
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        ordering_key=OuterRef("ordering_key"),
        status=DeliveryStatus.PENDING,
        event_id__lt=OuterRef("event_id"),
    )
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(
                status=DeliveryStatus.PENDING, next_attempt_at__lte=now, endpoint__is_active=True
            )
            # Order per item: not while an earlier delivery with the same key is pending (in flight included).
            .filter(Q(ordering_key="") | ~Exists(earlier_pending))
            .order_by("next_attempt_at", "id")
            # PostgreSQL: concurrent senders skip each other's rows instead of waiting or sending them
            # twice. SQLite ignores it; its writers are serialised anyway.
            .select_for_update(skip_locked=True, of=("self",))
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        WebhookDelivery.objects.filter(pk__in=ids).update(attempts=F("attempts") + 1, next_attempt_at=lease_until)
        rows = WebhookDelivery.objects.filter(pk__in=ids).values_list(
            "id", "endpoint_id", "endpoint__url", "endpoint__secret", "event_type", "body", "attempts"
        )
        return [_Claim(*row, lease_until=lease_until) for row in rows]


def _send(claim: _Claim, *, timeout: float, allow_private: bool) -> transport.Attempt:
    body = claim.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": transport.USER_AGENT,
        "X-Inventory-Event": claim.event_type,
        "X-Inventory-Delivery": str(claim.delivery_id),
        "X-Inventory-Signature": signature_header(secret=claim.secret, body=body, timestamp=int(time.time())),
    }
    try:
        return transport.post(url=claim.url, body=body, headers=headers, timeout=timeout, allow_private=allow_private)
    except Exception as exc:  # a bug must not lose the other results of the batch
        logger.exception("webhook delivery %s: unexpected error", claim.delivery_id)
        return transport.Attempt(None, f"unexpected error: {exc!r}")


def _count_failed_delivery(claim: _Claim, error: str) -> None:
    WebhookEndpoint.objects.filter(pk=claim.endpoint_id).update(consecutive_failures=F("consecutive_failures") + 1)
    limit = settings.WEBHOOK_DISABLE_AFTER
    if not limit:
        return
    reason = f"Deactivated after {limit} failed deliveries in a row; the last: {error}"[:255]
    deactivated = WebhookEndpoint.objects.filter(
        pk=claim.endpoint_id, is_active=True, consecutive_failures__gte=limit
    ).update(is_active=False, disabled_reason=reason, updated_at=timezone.now())
    if deactivated:
        logger.warning(
            "webhook endpoint %s (%s) deactivated: %d deliveries in a row failed; the last: %s",
            claim.endpoint_id,
            claim.url,
            limit,
            error,
        )


def _record(claim: _Claim, attempt: transport.Attempt) -> None:
    """Store the outcome of one attempt, unless the claim was lost meanwhile (lease expired, retried)."""
    now = timezone.now()
    fields = {"last_status_code": attempt.status_code, "last_error": attempt.error[:500]}
    final_failure = False
    if attempt.succeeded:
        fields |= {"status": DeliveryStatus.SUCCEEDED, "delivered_at": now, "next_attempt_at": None}
    elif claim.attempt >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields |= {"status": DeliveryStatus.FAILED, "next_attempt_at": None}
        final_failure = True
    else:
        delay = retry_delay(claim.attempt, base=float(settings.WEBHOOK_RETRY_BASE))
        fields["next_attempt_at"] = now + timedelta(seconds=delay)
    with transaction.atomic():
        recorded = WebhookDelivery.objects.filter(
            pk=claim.delivery_id,
            status=DeliveryStatus.PENDING,
            attempts=claim.attempt,
            next_attempt_at=claim.lease_until,
        ).update(**fields)
        if not recorded:
            logger.info("webhook delivery %s: outcome of a lost claim ignored", claim.delivery_id)
            return
        if attempt.succeeded:
            WebhookEndpoint.objects.filter(pk=claim.endpoint_id, consecutive_failures__gt=0).update(
                consecutive_failures=0
            )
        elif final_failure:
            _count_failed_delivery(claim, attempt.error)
    if final_failure:
        logger.warning(
            "webhook delivery %s of a %s event to %s failed after %d attempts: %s",
            claim.delivery_id,
            claim.event_type,
            claim.url,
            claim.attempt,
            attempt.error,
        )
    elif not attempt.succeeded:
        logger.info("webhook delivery %s attempt %d failed: %s", claim.delivery_id, claim.attempt, attempt.error)


def deliver_due(*, limit: int = 20) -> int:
    """Claim up to ``limit`` due deliveries, send them (several at once) and record the outcomes.

    Returns how many were attempted. Call it outside any transaction: the HTTP calls must not hold one.
    """
    claims = _claim_due(limit)
    if not claims:
        return 0
    options = {"timeout": float(settings.WEBHOOK_TIMEOUT), "allow_private": settings.WEBHOOK_ALLOW_PRIVATE_URLS}
    if len(claims) == 1:
        _record(claims[0], _send(claims[0], **options))
        return 1
    # The threads only do HTTP; this thread keeps the database work (and its connection).
    with ThreadPoolExecutor(max_workers=min(SEND_THREADS, len(claims)), thread_name_prefix="webhook-send") as pool:
        futures = {pool.submit(_send, claim, **options): claim for claim in claims}
        for future in as_completed(futures):
            _record(futures[future], future.result())
    return len(claims)


def run_sender(stop: threading.Event, *, idle_sleep: float = 0.5) -> None:
    """Deliver due webhooks until ``stop`` is set; errors are logged and retried with backoff, never raised."""
    failures = 0
    try:
        while not stop.is_set():
            close_old_connections()  # as between requests: drop broken or expired connections
            try:
                attempted = deliver_due()
            except Exception:
                failures += 1
                delay = min(MAX_ERROR_BACKOFF_SECONDS, idle_sleep * 2**failures)
                logger.exception("webhook sender: delivery round failed; next try in %.1f s", delay)
                stop.wait(delay)
                continue
            finally:
                close_old_connections()
            failures = 0
            if not attempted:
                stop.wait(idle_sleep)
    finally:
        connections.close_all()
