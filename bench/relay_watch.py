"""Watches the relay's progress: its sinks' cursors, polled from a thread of the bench process.

The relay moves a sink's cursor in the transaction that handled the batch, once the batch's work is
done (for the ``redis`` sink: cache refresh, channel-layer sends, ``stock_updates``), so an event counts
as handled by a sink from the first poll that sees the sink's cursor at or past its id. Polled every
``interval`` seconds (20 ms: one tiny SELECT each, negligible next to the load), so a time is at most
about one interval late. Used by ``relay_lag`` (exact per-event figures next to the relay's bucketed
histogram), ``ws_fanout`` and the sweeps (how long the relay took to drain what they wrote).
"""

from __future__ import annotations

import bisect
import threading
import time

import psycopg


class CursorWatch:
    def __init__(self, database_url: str, table: str, sinks: tuple[str, ...], interval: float = 0.02) -> None:
        self.database_url = database_url
        self.table = table
        self.sinks = sinks
        self.interval = interval
        self.moves: dict[str, list[tuple[float, int]]] = {sink: [] for sink in sinks}  # (first seen, position)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="bench-relay-cursor-watch", daemon=True)

    def __enter__(self) -> CursorWatch:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> CursorWatch:
        """Start polling (a watch already started is left as it is)."""
        if self._thread.ident is not None:
            return self
        self._thread.start()
        self._ready.wait(30)
        self._raise()
        return self

    def _run(self) -> None:
        try:
            with psycopg.connect(self.database_url, autocommit=True) as conn:
                query = f'SELECT name, position FROM "{self.table}" WHERE name = ANY(%s)'
                while not self._stop.is_set():
                    rows = dict(conn.execute(query, [list(self.sinks)]).fetchall())
                    now = time.time()
                    for sink in self.sinks:
                        position = rows.get(sink, 0)
                        moves = self.moves[sink]
                        if not moves or moves[-1][1] != position:
                            moves.append((now, position))
                    self._ready.set()
                    self._stop.wait(self.interval)
        except BaseException as exc:
            self._error = exc
        finally:
            self._ready.set()

    def _raise(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"relay cursor watch failed: {self._error}") from self._error

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._raise()

    def passed(self, event_id: int, sink: str) -> float | None:
        """When ``sink``'s cursor was first seen at or past ``event_id`` (None: not while watched)."""
        moves = list(self.moves[sink])
        index = bisect.bisect_left([position for _, position in moves], event_id)
        return moves[index][0] if index < len(moves) else None

    def wait(self, event_id: int, timeout: float) -> dict[str, float | None]:
        """Wait until every sink passed ``event_id`` (at most ``timeout`` seconds); when each did."""
        deadline = time.time() + timeout
        while True:
            self._raise()
            seen = {sink: self.passed(event_id, sink) for sink in self.sinks}
            if all(t is not None for t in seen.values()) or time.time() > deadline:
                return seen
            time.sleep(self.interval)
