"""Database outages: answer 503 with ``Retry-After`` instead of 500, and get over a PostgreSQL restart fast.

``DatabaseOutageMiddleware`` turns "cannot connect / connection lost" errors raised by a view (DRF
re-raises what its exception handler leaves alone, so API views land here too) into a 503: the JSON
error contract under ``/api/``, a small HTML page elsewhere (the admin). Genuine SQL errors (a bad
query, a constraint) are not outages and keep their 4xx/500.

The pool (settings' ``CONN_HEALTH_CHECKS``) tests each connection as it hands it out; with the middleware
loaded, the test is a look at the socket (a query only when the server seems to have closed it), and one
dead connection makes it test all its idle ones at once (``_check_or_sweep``).
"""

from __future__ import annotations

import logging
import select
from collections.abc import Callable
from functools import partial

import psycopg
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.deprecation import MiddlewareMixin
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout, TooManyRequests

from inventory_site.api_errors import error_body

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
DETAIL = "The database is unavailable; retry shortly."

# SQLSTATEs the server sends when it refuses or drops a connection: class 08 (connection exception),
# admin/crash shutdown, "the database system is starting up / shutting down", "too many clients".
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}


def _unavailable_driver_error(error: BaseException) -> bool:
    if isinstance(error, PoolTimeout | TooManyRequests | PoolClosed):
        return True
    if isinstance(error, psycopg.InterfaceError):
        # Also raised for misuse ("the cursor is closed"); only a connection in a bad state is an outage.
        return "connection" in str(error)
    if isinstance(error, psycopg.OperationalError):
        sqlstate = error.sqlstate
        # No SQLSTATE: the client itself failed to connect, or lost the connection mid-query.
        # A server-sent one is an outage only for the codes above (not a deadlock or a statement timeout).
        return sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES
    return False


def is_database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached or the connection died (not a bad query)."""
    if _unavailable_driver_error(exc):
        return True
    if isinstance(exc, OperationalError | InterfaceError):
        # Django wraps the driver's error ("raise ... from"): judge by what the driver said.
        cause = exc.__cause__
        if isinstance(cause, psycopg.Error):
            return _unavailable_driver_error(cause)
        return isinstance(exc, InterfaceError) and "connection" in str(exc)
    return False


def unavailable_response(request: HttpRequest) -> HttpResponse:
    """503 with ``Retry-After``: the API's JSON error contract under ``/api/``, a short HTML page elsewhere."""
    if request.path_info.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body("service_unavailable", DETAIL), status=503)
    else:
        page = f"<!doctype html><title>Service unavailable</title><h1>Service unavailable</h1><p>{DETAIL}</p>"
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _looks_alive(conn: psycopg.Connection) -> bool:
    """Whether an idle connection shows no sign of having been closed, without a round trip.

    An idle connection has nothing to read. When the server ends it (a restart, an admin kill) it
    sends a FATAL message and closes the socket, so the socket turns readable: only then is the
    connection tested with a query.
    """
    if conn.closed or conn.broken:
        return False
    try:
        readable, _, _ = select.select([conn.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable


def _check_or_sweep(pool: ConnectionPool, conn: psycopg.Connection) -> None:
    # The query of check_connection cost every request a round trip (about a tenth of a reservation).
    if _looks_alive(conn):
        return
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        # A dead connection almost always means the server restarted or dropped us, so the idle ones
        # are dead too. Test (and replace) them all now: psycopg_pool would otherwise meet them one
        # by one, sleeping 1 s, 2 s, ... in between, and give up with PoolTimeout after three.
        pool.check()
        raise


def _install_pool_sweep(sender: type, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    # connection_created: the connection came from the pool, so it exists now with its final settings
    # (creating it earlier, e.g. at start-up, would freeze them before the test runner renames the database).
    pool = getattr(connection, "pool", None)  # None without OPTIONS["pool"] (or not PostgreSQL)
    # psycopg_pool takes ``check`` only in its constructor, and Django builds the pool passing its own
    # (CONN_HEALTH_CHECKS), so OPTIONS["pool"] cannot carry ours: wrap the one Django chose, once.
    if pool is not None and getattr(pool, "_check", None) is ConnectionPool.check_connection:
        pool._check = partial(_check_or_sweep, pool)


class DatabaseOutageMiddleware(MiddlewareMixin):
    """Answer 503 + ``Retry-After`` when a view fails because the database is unreachable."""

    def __init__(self, get_response: Callable) -> None:
        super().__init__(get_response)
        # Loaded once per web process: from its first database connection on, its pool sweeps.
        connection_created.connect(_install_pool_sweep, dispatch_uid=f"{__name__}.pool_sweep")

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A 503 for an outage; ``None`` (Django's usual handling) for anything else."""
        if not is_database_unavailable(exception):
            return None
        # One line, no traceback: during an outage every request fails the same way.
        logger.warning("database unavailable, answered 503 to %s %s: %s", request.method, request.path, exception)
        return unavailable_response(request)
