"""Fixtures of the live feed tests: real servers with a real relay process, or the relay in a thread."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from django.conf import settings

from inventory import relay
from tests.live.support import ROOT, UVICORN, free_port, serving, shared_test_database_url
from tests.processes import relay_process


class Servers:
    """``start_server()`` starts ``uvicorn inventory_site.asgi:application`` and returns ``host:port``.

    The first call also starts ``python -m django relay_events`` on the same database and Redis (only
    the relay sends to the live feed), and waits until it relays. ``start_server(port=...)`` starts a
    server on a given port (to bring a stopped one back), ``start_server.stop(host)`` stops one.
    """

    def __init__(self, tmp_path) -> None:
        self._tmp = tmp_path
        self._processes: dict[str, subprocess.Popen] = {}
        self._started = 0
        self._relay = contextlib.ExitStack()
        self.relay: subprocess.Popen | None = None
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test",
            "DATABASE_URL": shared_test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CACHE_KEY_PREFIX": settings.KEY_PREFIX,
            "DB_CONN_MAX_AGE": "0",
            "PYTHONUNBUFFERED": "1",
        }

    def __call__(self, *, port: int | None = None) -> str:
        if self.relay is None:
            self.relay = self._relay.enter_context(relay_process(self.env, self._tmp / "relay.log"))
        for _ in range(1 if port else 3):
            chosen = port or free_port()
            self._started += 1
            log = self._tmp / f"uvicorn-{self._started}.log"
            process = subprocess.Popen(
                [*UVICORN, "--host", "127.0.0.1", "--port", str(chosen), "--log-level", "warning"],
                cwd=ROOT,
                env=self.env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            host = f"127.0.0.1:{chosen}"
            self._processes[host] = process
            deadline = time.monotonic() + 90
            while process.poll() is None and time.monotonic() < deadline:
                if serving(f"http://{host}"):
                    return host
                time.sleep(0.2)
            if process.poll() is None:
                break  # running but never answered: no point in another port
        raise AssertionError(f"uvicorn did not start:\n{log.read_text()[-3000:]}")

    def stop(self, host: str) -> None:
        """Stop one server (its WebSocket connections are closed by the server) and wait until it exited."""
        _stop(self._processes.pop(host))

    def close(self) -> None:
        for process in self._processes.values():
            process.terminate()
        for process in self._processes.values():
            _stop(process)
        self._processes.clear()
        self._relay.close()


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


@pytest.fixture
def start_server(tmp_path) -> Iterator[Servers]:
    servers = Servers(tmp_path)
    try:
        yield servers
    finally:
        servers.close()


@pytest.fixture
def relay_thread(transactional_db) -> Iterator[Callable[..., relay.RedisSink]]:
    """``relay_thread()`` runs the relay's Redis sink (cache, channel layer, ``stock_updates``) in a thread
    for the test, as ``relay_events`` does, from the newest event on; stopped at the end.

    ``batch_size=1`` makes it send every event on its own (a batch coalesces to one update per item).
    """
    running: list[tuple[threading.Thread, threading.Event, relay.RedisSink]] = []

    def start(*, batch_size: int = relay.BATCH_SIZE) -> relay.RedisSink:
        sink = relay.RedisSink(batch_size=batch_size)  # creates its cursor now, at the newest event
        stop = threading.Event()
        thread = threading.Thread(
            target=relay.run, args=([sink], stop), kwargs={"poll_seconds": 0.05}, name="relay", daemon=True
        )
        thread.start()
        running.append((thread, stop, sink))
        return sink

    yield start
    for _, stop, _ in running:
        stop.set()
    for thread, _, sink in running:
        thread.join(timeout=30)
        assert not thread.is_alive(), "the relay thread did not stop"
        sink.close()


@pytest.fixture
def relay_running(relay_thread) -> relay.RedisSink:
    """The relay in a thread for the whole test (live feed tests that only need it to run)."""
    return relay_thread()
