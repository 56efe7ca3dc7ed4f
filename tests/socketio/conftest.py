"""Fixtures of the Socket.IO tests: the live feed's real servers and relay (tests/live), and the npm client."""

from __future__ import annotations

import pytest

from tests.live.conftest import start_server  # noqa: F401  (the fixture, shared with the live feed tests)
from tests.socketio.support import ensure_client_installed


@pytest.fixture(scope="session")
def socketio_client_js() -> None:
    """The real socket.io-client from npm in tests/socketio/js (``make test`` installs it)."""
    ensure_client_installed()
