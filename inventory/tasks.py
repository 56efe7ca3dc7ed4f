"""Periodic jobs of the inventory app (scheduled in inventory_site/celery.py)."""

from __future__ import annotations

import logging

from celery import shared_task

from inventory.selectors import ledger_drift

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
