"""/health: 200 while the database answers, 503 when it does not; Redis and Celery reported."""

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from inventory.tasks import heartbeat_task
from tests.processes import free_port

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
def test_health_is_503_when_the_database_is_down():
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/nothing",  # nothing listens on port 1
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test",
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "inventory_site.asgi:application", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        status, body = None, b""
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    status, body = response.status, response.read()
                break
            except urllib.error.HTTPError as exc:
                status, body = exc.code, exc.read()
                break
            except OSError:
                time.sleep(0.5)
        assert status == 503
        assert b'"database": "error' in body
    finally:
        server.terminate()
        server.wait(timeout=10)
