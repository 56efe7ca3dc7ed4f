"""The embedded run: ``--ds=inventory_site.settings_test_embedded`` (SQLite file database, local-memory
cache, in-memory channel layer, filesystem Celery broker). tests/conftest.py keeps the PostgreSQL run
from collecting this directory, and this run from collecting anything else."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from django.conf import settings

if not getattr(settings, "EMBEDDED_TEST_RUN", False):
    raise pytest.UsageError(
        "tests/embedded runs with --ds=inventory_site.settings_test_embedded (see the Makefile's test target)"
    )


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_keepdb: bool) -> None:
    """Before the test database is (re)created: drop a WAL left by a run that crashed.

    Django deletes the old database file but not its ``-wal``/``-shm`` files, and SQLite would
    replay a stale WAL into the new database.
    """
    name = Path(settings.DATABASES["default"]["TEST"]["NAME"])
    if not django_db_keepdb or not name.exists():
        for suffix in ("-wal", "-shm"):
            Path(f"{name}{suffix}").unlink(missing_ok=True)


@pytest.fixture(autouse=True)
def _no_logged_errors(caplog):
    """After-commit hooks (cache refresh, broadcast) log their failures instead of raising: a
    "database is locked" there would go unnoticed, so any error logged by any thread fails the test."""
    yield
    errors = [r for r in caplog.get_records("call") if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors]
