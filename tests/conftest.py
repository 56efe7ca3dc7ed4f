"""Shared fixtures. The suite runs on the real PostgreSQL and Redis (see settings_test).

The embedded run (``--ds=inventory_site.settings_test_embedded``, the second half of ``make test``)
collects only ``tests/embedded``, on SQLite; the PostgreSQL run never collects it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.roles import STOREFRONT_GROUP, WAREHOUSE_GROUP, sync_roles
from inventory_site.authentication import forget_tokens
from tests.factories import UserFactory

_skipped: list[str] = []

EMBEDDED_RUN = bool(getattr(settings, "EMBEDDED_TEST_RUN", False))
_EMBEDDED_DIR = Path(__file__).resolve().parent / "embedded"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    # Each run collects only its own tests, whatever paths it is given.
    path = collection_path.resolve()
    inside = path == _EMBEDDED_DIR or _EMBEDDED_DIR in path.parents
    if EMBEDDED_RUN:
        # Everything else under tests/ (test packages and modules); tests/embedded and its parents stay.
        elsewhere = _EMBEDDED_DIR.parent in path.parents and not inside
        return True if elsewhere and (path.is_dir() or path.name.startswith("test_")) else None
    return True if inside else None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    # In CI a skipped test is a failing test: it usually hides a missing service.
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"} and _skipped:
        print(f"\nCI: {len(_skipped)} test(s) skipped, failing the run: {', '.join(_skipped[:10])}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()
    forget_tokens()  # a test that changes a user sees it at once (servers take up to AUTH_CACHE_SECONDS)
    yield


@pytest.fixture(autouse=True, scope="session")
def _require_postgres(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        if EMBEDDED_RUN:
            assert connection.vendor == "sqlite", "the embedded run tests the SQLite default"
        else:
            assert connection.vendor == "postgresql", "the test suite runs on PostgreSQL (set DATABASE_URL)"


def _user_in(group_name: str, **kwargs):
    # Transactional tests flush the tables, groups included; put the roles back.
    sync_roles(django_apps)
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def warehouse_user(db):
    return _user_in(WAREHOUSE_GROUP, is_staff=True)


@pytest.fixture
def storefront_user(db):
    return _user_in(STOREFRONT_GROUP)


@pytest.fixture
def plain_user(db):
    return UserFactory()


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def warehouse_api(warehouse_user) -> APIClient:
    return _client_for(warehouse_user)


@pytest.fixture
def storefront_api(storefront_user) -> APIClient:
    return _client_for(storefront_user)


@pytest.fixture
def plain_api(plain_user) -> APIClient:
    return _client_for(plain_user)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
