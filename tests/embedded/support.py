"""Helpers of the embedded tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from io import StringIO

from django.core.management import call_command
from django.db import connection


def run_in_threads(fn: Callable[[int], object], count: int, *, workers: int | None = None) -> list:
    """Call ``fn(0..count-1)`` from real threads started together, each on its own connection."""
    workers = workers or count
    assert count % workers == 0, "every batch of threads must fill the barrier"
    barrier = threading.Barrier(workers)

    def run(n: int):
        try:
            barrier.wait()
            return fn(n)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, range(count)))


def check_ledger() -> str:
    """Run ``check_ledger`` as ops would; returns its output (raises CommandError on drift)."""
    out = StringIO()
    call_command("check_ledger", stdout=out)
    return out.getvalue()
