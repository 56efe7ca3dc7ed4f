"""Fixtures borrowed from other test folders: the live tests' real server (``start_server``) for the
browser test, and the transfers tests' ``setup`` (a product with 20 units in a source warehouse)."""

from tests.live.conftest import start_server  # noqa: F401  (fixtures, registered by being imported here)
from tests.transfers.conftest import setup  # noqa: F401
