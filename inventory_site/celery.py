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
    # Built lazily so the intervals come from settings (and so a bad value fails at start-up).
    from django.conf import settings

    sender.conf.beat_schedule = {
        "check-ledger-nightly": {
            "task": "inventory.tasks.check_ledger_task",
            "schedule": crontab(hour=3, minute=15),
        },
        **getattr(settings, "EXTRA_BEAT_SCHEDULE", {}),
    }
