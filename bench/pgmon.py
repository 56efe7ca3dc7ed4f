"""Watches how many PostgreSQL connections the bench database has (the stack's connection use)."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit, urlunsplit

import psycopg


class ConnectionMonitor:
    """Samples ``pg_stat_activity`` every ``interval`` seconds from a connection to the ``postgres``
    database (so it does not count itself); ``peak()`` is the highest count since the last ``reset()``."""

    def __init__(self, database_url: str, interval: float = 0.25) -> None:
        parts = urlsplit(database_url)
        self.database = parts.path.lstrip("/")
        self.admin_url = urlunsplit(parts._replace(path="/postgres"))
        self.interval = interval
        self._peak = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pg-connection-monitor", daemon=True)
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            self.max_connections = int(conn.execute("SHOW max_connections").fetchone()[0])

    def cluster_connections(self) -> int:
        """Connections to the whole server right now (other databases' included)."""
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            return conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
            ).fetchone()[0]

    def start(self) -> ConnectionMonitor:
        self._thread.start()
        return self

    def _run(self) -> None:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            while not self._stop.is_set():
                (count,) = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [self.database]
                ).fetchone()
                with self._lock:
                    self._peak = max(self._peak, count)
                self._stop.wait(self.interval)

    def reset(self) -> None:
        with self._lock:
            self._peak = 0

    def peak(self) -> int:
        with self._lock:
            return self._peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
