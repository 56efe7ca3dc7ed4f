"""A logger that writes at most one line per interval; the lines it held back are counted in the next one."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable


class RateLimitedLogger:
    """Wraps a ``logging.Logger``: during a storm (an outage hitting every connection) one line a second."""

    def __init__(self, logger: logging.Logger, interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.logger = logger
        self.interval = interval
        self._clock = clock
        self._last = float("-inf")
        self._held_back = 0
        self._lock = threading.Lock()

    def log(self, level: int, message: str, *args: object) -> bool:
        """Log the line unless one was logged less than ``interval`` ago; returns whether it was."""
        with self._lock:
            now = self._clock()
            if now - self._last < self.interval:
                self._held_back += 1
                return False
            self._last = now
            held_back, self._held_back = self._held_back, 0
        if held_back:
            message += " (%d similar line(s) held back)"
            args = (*args, held_back)
        self.logger.log(level, message, *args)
        return True

    def info(self, message: str, *args: object) -> bool:
        return self.log(logging.INFO, message, *args)

    def warning(self, message: str, *args: object) -> bool:
        return self.log(logging.WARNING, message, *args)
