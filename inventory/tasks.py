"""Periodic jobs of the inventory app (scheduled in inventory_site/celery.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict

from celery import shared_task
from django.core.cache import cache
from django.utils import timezone

from inventory.alerts import scan_low_stock
from inventory.idempotency import purge_expired_keys
from inventory.selectors import ledger_drift
from inventory.services.expiry import notify_expiring_lots, write_off_expired_lots
from inventory_site.health import HEARTBEAT_KEY

logger = logging.getLogger(__name__)


@shared_task
def check_ledger_task() -> int:
    """Nightly: log every disagreement between the ledger and the stock rows; returns their number."""
    drifts = ledger_drift()
    for drift in drifts:
        logger.error("ledger drift: %s", drift)
    if not drifts:
        logger.info("ledger balanced")
    return len(drifts)


@shared_task
def heartbeat_task() -> None:
    """Tell ``/health`` that beat and a worker are alive."""
    cache.set(HEARTBEAT_KEY, time.time(), timeout=None)


@shared_task
def purge_idempotency_keys_task() -> int:
    """Forget Idempotency-Key responses older than 24 h."""
    return purge_expired_keys()


@shared_task
def scan_low_stock_task() -> dict[str, int]:
    """Raise the low-stock alerts the write path could not see (reorder points edited, counts), resolve
    those whose item recovered; safe to run twice at once."""
    raised, resolved = scan_low_stock()
    if raised or resolved:
        logger.info("low-stock scan: %d alert(s) raised, %d resolved", raised, resolved)
    return {"raised": raised, "resolved": resolved}


@shared_task
def purge_events_task() -> int:
    """Delete events older than EVENT_RETENTION_DAYS (the change feed's history)."""
    from django.conf import settings

    from inventory.events import purge_events

    return purge_events(older_than_days=settings.EVENT_RETENTION_DAYS)


@shared_task
def sweep_lot_expiry_task() -> dict[str, int]:
    """Every LOT_EXPIRY_SWEEP_SECONDS: write off expired lots (what reservations no longer hold) and send
    ``lot.expiring`` for lots about to expire; safe to run twice at once."""
    today = timezone.localdate()
    summary = asdict(write_off_expired_lots(today=today))
    summary["expiring_notified"] = notify_expiring_lots(today=today)
    # A shortfall that did not change is not news: it would be logged every minute.
    if any(summary[key] for key in ("units_written_off", "alerts_raised", "alerts_resolved", "expiring_notified")):
        logger.info("lot expiry: %s", summary)
    return summary
