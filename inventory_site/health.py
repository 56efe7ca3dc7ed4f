"""``GET /health``: 200 while the database answers, 503 when it does not; ``degraded`` if any check fails."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

HEARTBEAT_KEY = "celery:heartbeat"
HEARTBEAT_MAX_AGE = 120  # seconds; beat writes it every 15 s


def _database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _redis() -> str:
    if not settings.REDIS_URL:
        return "not_configured"
    try:
        from django_redis import get_redis_connection

        get_redis_connection("default").ping()
    except Exception as exc:
        return f"error: {exc.__class__.__name__}"
    return "ok"


def _celery(redis_state: str) -> str:
    if not settings.REDIS_URL:
        return "not_checked"  # the embedded broker has no shared place for a heartbeat
    if redis_state != "ok":
        return "unknown"
    try:
        beat = cache.get(HEARTBEAT_KEY)
    except Exception:
        return "unknown"
    if beat is None:
        return "no_heartbeat"
    return "ok" if time.time() - float(beat) < HEARTBEAT_MAX_AGE else "stale"


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    database = _database()
    redis_state = _redis()
    checks = {"database": database, "redis": redis_state, "celery": _celery(redis_state)}
    healthy = {"ok", "not_configured", "not_checked"}
    overall = "ok" if all(v in healthy for v in checks.values()) else "degraded"
    return JsonResponse({"status": overall, "checks": checks}, status=200 if database == "ok" else 503)
