"""Beat jobs for reservations (scheduled in inventory_site/celery.py)."""

from __future__ import annotations

import logging

from celery import shared_task

from reservations.services import expire_reservations, purge_finished_reservations

logger = logging.getLogger(__name__)


@shared_task
def expire_reservations_task() -> int:
    """Every RESERVATION_SWEEP_SECONDS: expire overdue reservations and return their units."""
    expired = expire_reservations()
    if expired:
        logger.info("expired %d reservation(s)", expired)
    return expired


@shared_task
def purge_reservations_task() -> int:
    """Daily: delete finished reservations older than 30 days."""
    return purge_finished_reservations(older_than_days=30)
