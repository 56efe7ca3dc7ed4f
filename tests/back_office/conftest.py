"""Fixtures of the back-office tests (scan station, CSV import)."""

import pytest

from tests.live.conftest import start_server  # noqa: F401  (the fixture, registered by being imported here)


@pytest.fixture
def staff_client(client, warehouse_user):
    """A logged-in member of the warehouse group (the back office's stock pages need its permissions)."""
    client.force_login(warehouse_user)
    return client
