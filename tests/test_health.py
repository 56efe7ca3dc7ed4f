"""/health: 200 while the database answers, 503 when it does not; Redis and Celery reported."""

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from inventory.tasks import heartbeat_task
from tests.processes import free_port, running, wait_until

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_health_reports_every_check(client):
    body = client.get("/health").json()
    assert body["checks"]["database"] == "ok" and body["checks"]["redis"] == "ok"
    assert body["checks"]["celery"] == "no_heartbeat" and body["status"] == "degraded"
    heartbeat_task.apply()
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "celery": "ok"}}


@pytest.mark.slow
def test_health_is_503_when_the_database_is_down(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",  # nothing listens on port 1
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test",
    }
    port = free_port()

    def answer():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return None

    uvicorn = ["uvicorn", "inventory_site.asgi:application", "--port", str(port)]
    with running(uvicorn, env, tmp_path / "server.log"):
        status, body = wait_until(answer, timeout=60, message="the server to answer /health")
    assert status == 503
    assert b'"database": "error' in body
