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
    sender.conf.beat_schedule = {
        "check-ledger-nightly": {
            "task": "inventory.tasks.check_ledger_task",
            "schedule": crontab(hour=3, minute=15),
        },
        "celery-heartbeat": {"task": "inventory.tasks.heartbeat_task", "schedule": 15.0},
        "purge-idempotency-keys": {
            "task": "inventory.tasks.purge_idempotency_keys_task",
            "schedule": crontab(minute=5),
        },
    }
