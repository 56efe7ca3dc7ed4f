"""Which webhook URLs the server may call: http(s) only, and only public addresses unless allowed.

Checked when an endpoint is saved and again before every attempt (DNS answers can change); the
attempt then connects to the very addresses that were checked, so a second lookup cannot swap them.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

from django.core.exceptions import ValidationError

MAX_URL_LENGTH = 2000
ALLOW_SETTING = "WEBHOOK_ALLOW_PRIVATE_URLS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# (address family, socket address) pairs as getaddrinfo gives them.
Addresses = list[tuple[int, tuple]]

# Checked in this order, so 169.254.169.254 is reported as link-local, not merely private.
_REFUSED_KINDS = (
    ("is_unspecified", "an unspecified"),
    ("is_loopback", "a loopback"),
    ("is_link_local", "a link-local"),
    ("is_multicast", "a multicast"),
    ("is_reserved", "a reserved"),
    ("is_private", "a private"),
)


class RefusedAddress(Exception):
    """A host resolves to an address webhooks may not call."""


def refused_kind(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be called (``"a loopback"``, ``"a private"``, ...), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        # An IPv4 address wrapped in IPv6 (::ffff:10.0.0.1, 6to4) reaches that IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is not None:
            return refused_kind(embedded)
    for attribute, kind in _REFUSED_KINDS:
        if getattr(ip, attribute):
            return kind
    # Anything else not globally routable, e.g. carrier-grade NAT (100.64.0.0/10).
    return None if ip.is_global else "a non-public"


def resolve(host: str, port: int) -> Addresses:
    """Every address ``host`` resolves to (an IP literal resolves to itself), in the resolver's order."""
    seen: Addresses = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if (family, sockaddr) not in seen:
            seen.append((family, sockaddr))
    return seen


def check_public(host: str, addresses: Addresses) -> None:
    """Raise ``RefusedAddress`` if any address of ``host`` is not public (one bad record is enough)."""
    for _, sockaddr in addresses:
        ip = ipaddress.ip_address(sockaddr[0])
        kind = refused_kind(ip)
        if kind is not None:
            shown = "" if host.strip("[]") == str(ip) else f"{host} resolves to "
            raise RefusedAddress(f"{shown}{ip}, {kind} address; webhooks may only call public addresses")


def split_url(url: str) -> SplitResult:
    """The parts of a well-formed http(s) URL; ``ValueError`` with a sentence otherwise."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("The URL must be ASCII without spaces; percent-encode other characters (punycode for hosts).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"The URL is malformed ({exc}).") from exc
    if parts.scheme not in ("http", "https"):
        raise ValueError("Only http:// and https:// URLs are allowed.")
    if not parts.hostname:
        raise ValueError("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise ValueError("Credentials in the URL are not supported; the signature authenticates each delivery.")
    if port == 0:
        raise ValueError("The URL's port must be between 1 and 65535.")
    return parts


def default_port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_url(url: str, *, allow_private: bool) -> str:
    """``url`` if webhooks may call it, else a ``ValidationError`` saying why (for the API and the admin)."""
    url = url.strip()
    try:
        parts = split_url(url)
    except ValueError as exc:
        raise ValidationError(str(exc), code="invalid") from exc
    if allow_private:
        return url
    host = parts.hostname
    try:
        addresses = resolve(host, default_port(parts))
    except (OSError, UnicodeError) as exc:
        raise ValidationError(
            f"The host {host} does not resolve ({getattr(exc, 'strerror', None) or exc}).", code="invalid"
        ) from exc
    try:
        check_public(host, addresses)
    except RefusedAddress as exc:
        raise ValidationError(f"Refused: {exc} (see {ALLOW_SETTING}).", code="invalid") from exc
    return url
