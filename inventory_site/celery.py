"""The Celery app (``celery -A inventory_site worker`` / ``beat``) and the beat schedule."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings")

app = Celery("inventory_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **_: object) -> None:
    # Built after finalize so the intervals can come from settings (and a bad value fails at start-up).
    from django.conf import settings

    sender.conf.beat_schedule = {
        "expire-reservations": {
            "task": "reservations.tasks.expire_reservations_task",
            "schedule": float(settings.RESERVATION_SWEEP_SECONDS),
        },
        "purge-reservations": {
            "task": "reservations.tasks.purge_reservations_task",
            "schedule": crontab(hour=4, minute=0),
        },
        "check-ledger-nightly": {
            "task": "inventory.tasks.check_ledger_task",
            "schedule": crontab(hour=3, minute=15),
        },
        "refresh-forecasts-nightly": {
            "task": "forecasting.tasks.refresh_forecasts_task",
            "schedule": crontab(hour=2, minute=30),
        },
        "celery-heartbeat": {"task": "inventory.tasks.heartbeat_task", "schedule": 15.0},
        "scan-low-stock": {
            "task": "inventory.tasks.scan_low_stock_task",
            "schedule": float(settings.LOW_STOCK_SCAN_SECONDS),
        },
        "sweep-lot-expiry": {
            "task": "inventory.tasks.sweep_lot_expiry_task",
            "schedule": float(settings.LOT_EXPIRY_SWEEP_SECONDS),
        },
        "purge-events": {"task": "inventory.tasks.purge_events_task", "schedule": crontab(minute=35)},
        "purge-idempotency-keys": {
            "task": "inventory.tasks.purge_idempotency_keys_task",
            "schedule": crontab(minute=5),
        },
    }
