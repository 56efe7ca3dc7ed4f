"""Fixtures of the live feed tests."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from tests.live.support import ROOT, UVICORN, free_port, serving, shared_test_database_url


@pytest.fixture
def start_server(tmp_path) -> Iterator[Callable[[], str]]:
    """Start ``uvicorn inventory_site.asgi:application`` on a free port; returns ``host:port``."""
    processes: list[subprocess.Popen] = []
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test",
        "DATABASE_URL": shared_test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_KEY_PREFIX": settings.KEY_PREFIX,
        "DB_CONN_MAX_AGE": "0",
    }

    def start() -> str:
        for attempt in range(3):
            port = free_port()
            log = tmp_path / f"uvicorn-{len(processes)}-{attempt}.log"
            process = subprocess.Popen(
                [*UVICORN, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                cwd=ROOT,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            processes.append(process)
            base_url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while process.poll() is None and time.monotonic() < deadline:
                if serving(base_url):
                    return f"127.0.0.1:{port}"
                time.sleep(0.2)
            if process.poll() is None:
                break  # running but never answered: no point in another port
        raise AssertionError(f"uvicorn did not start:\n{log.read_text()[-3000:]}")

    yield start
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=20)
