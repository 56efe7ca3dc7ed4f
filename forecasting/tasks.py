"""Periodic jobs of the forecasting app."""

from __future__ import annotations

import logging

from celery import shared_task

from forecasting.services import refresh_forecasts

logger = logging.getLogger(__name__)


@shared_task
def refresh_forecasts_task() -> int:
    """Recompute every item's stored demand forecast; returns the number of items refreshed."""
    count = refresh_forecasts()
    logger.info("refreshed %d demand forecasts", count)
    return count
