"""One webhook attempt over HTTP: no redirects, a deadline, and only addresses that passed the check."""

from __future__ import annotations

import functools
import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

from inventory.webhooks.addresses import Addresses, RefusedAddress, check_public, default_port, resolve, split_url

USER_AGENT = "inventory-service-webhooks/1.0"
ERROR_BODY_CHARS = 200  # of a refusal's body, kept in last_error to help whoever runs the receiver


@dataclass(frozen=True)
class Attempt:
    """What one POST came to: ``error`` is empty exactly when it succeeded (a 2xx in time)."""

    status_code: int | None
    error: str = ""

    @property
    def succeeded(self) -> bool:
        return not self.error


class _Late(Exception):
    """The deadline passed before the receiver answered."""


def _connect_to(addresses: Addresses, address: tuple, timeout: float | None, source_address=None) -> socket.socket:
    # Stands in for socket.create_connection: connects to the checked addresses, never a fresh lookup.
    last_error: OSError = OSError("no address to connect to")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last_error = exc
    raise last_error


def _remaining(conn: http.client.HTTPConnection, deadline: float) -> None:
    """Give the next socket operation only what is left of the deadline."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Late
    if conn.sock is not None:
        conn.sock.settimeout(left)


def _refusal(status: int, body: bytes) -> str:
    text = f"HTTP {status}"
    if 300 <= status < 400:
        text += " (redirects are not followed)"
    snippet = body.decode("utf-8", "replace").strip()[:ERROR_BODY_CHARS]
    return f"{text}: {snippet}" if snippet else text


def post(*, url: str, body: bytes, headers: Mapping[str, str], timeout: float, allow_private: bool) -> Attempt:
    """POST ``body`` to ``url``; never raises: every failure is an ``Attempt`` with an ``error``."""
    try:
        parts = split_url(url)
    except ValueError as exc:
        return Attempt(None, f"invalid URL: {exc}")
    host, port, https = parts.hostname, default_port(parts), parts.scheme == "https"
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    try:
        addresses = resolve(host, port)
        if not allow_private:
            check_public(host, addresses)
        if https:
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        # Both classes open their socket through this hook; TLS still verifies the certificate for `host`.
        conn._create_connection = functools.partial(_connect_to, addresses)
        try:
            conn.connect()
            _remaining(conn, deadline)
            conn.request("POST", target, body=body, headers=dict(headers))
            _remaining(conn, deadline)
            response = conn.getresponse()
            if time.monotonic() > deadline:
                raise _Late
            if 200 <= response.status < 300:
                return Attempt(response.status)
            try:
                _remaining(conn, deadline)
                snippet = response.read(ERROR_BODY_CHARS)
            except (_Late, OSError, http.client.HTTPException):
                snippet = b""  # the status is what counts; its body is only a hint
            return Attempt(response.status, _refusal(response.status, snippet))
        finally:
            conn.close()
    except RefusedAddress as exc:
        return Attempt(None, f"refused: {exc} (WEBHOOK_ALLOW_PRIVATE_URLS is off)")
    except socket.gaierror as exc:
        return Attempt(None, f"DNS lookup of {host} failed: {exc.strerror or exc}")
    except UnicodeError as exc:
        return Attempt(None, f"invalid host name {host!r}: {exc}")
    except (_Late, TimeoutError):
        return Attempt(None, f"no answer within {timeout:g} s (WEBHOOK_TIMEOUT)")
    except ConnectionRefusedError:
        return Attempt(None, f"connection refused by {host} port {port}")
    except ssl.SSLError as exc:
        return Attempt(None, f"TLS error: {exc}")
    except http.client.HTTPException as exc:
        return Attempt(None, f"invalid HTTP response: {exc!r}")
    except OSError as exc:
        return Attempt(None, f"connection failed: {exc.strerror or exc}")
