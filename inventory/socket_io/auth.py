"""Who a Socket.IO handshake stands for: ``auth: {ticket}``, ``auth: {token}``, or the admin session cookie.

The rules of ``/ws/inventory/`` (``inventory.ws_auth``): a ticket wins over a token; a credential that is
given but unknown, expired, already used (tickets) or whose user is inactive refuses the connection, it
never falls back to the session; the session cookie counts only for a request without ``Origin`` or from
a page of ``ALLOWED_HOSTS``, so another site cannot ride on it. Either way the user needs a role
(storefront or warehouse). Credentials travel in the handshake's ``auth`` payload (the body of the
Socket.IO CONNECT packet), never in a URL, so no access log can show them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user, get_user_model
from django.http import HttpRequest
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

from inventory.ws_tickets import redeem_ticket
from inventory_site.authentication import identity_for_token
from inventory_site.permissions import roles_of

logger = logging.getLogger(__name__)

NO_ROLE = "Your account has no inventory role (storefront or warehouse)."


@dataclass(frozen=True)
class Viewer:
    """An authenticated Socket.IO client: its user and roles, fixed for the connection."""

    user_id: int
    roles: frozenset[str]


class Refused(Exception):
    """The handshake is refused; the client's ``connect_error`` carries ``detail`` and ``{code, detail}``."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def authenticate(*, auth: Any, cookie_header: str, origin: str | None) -> Viewer:
    """The viewer of a handshake, or ``Refused``. Reads the database and the cache: call it in a thread."""
    if auth is not None and not isinstance(auth, dict):
        raise Refused("invalid_auth", 'auth must be an object: {"token": "…"} or {"ticket": "…"}.')
    auth = auth or {}
    for name in ("ticket", "token"):
        value = auth.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or not 0 < len(value) <= 200:
            raise Refused("invalid_auth", f"auth.{name} must be a non-empty string.")
        return _viewer_for_ticket(value) if name == "ticket" else _viewer_for_token(value)
    return _viewer_for_session(cookie_header, origin)


def _viewer_for_token(key: str) -> Viewer:
    identity = identity_for_token(key)
    if identity is None or not identity.is_active:
        raise Refused("authentication_failed", "Invalid token (unknown, or its user is inactive).")
    return _with_role(identity.user_id, identity.roles)


def _viewer_for_ticket(ticket: str) -> Viewer:
    try:
        user_id = redeem_ticket(ticket)  # used up whatever follows
    except Exception as exc:  # Redis down or hung: refuse this handshake, the client asks for a new ticket
        logger.warning("socket.io: could not redeem a ticket: %s", type(exc).__name__)
        raise Refused("service_unavailable", "Tickets cannot be checked right now; try again shortly.") from None
    user = None if user_id is None else get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Refused("authentication_failed", "Invalid ticket (unknown, expired or already used).")
    return _with_role(user.pk, roles_of(user))


def _viewer_for_session(cookie_header: str, origin: str | None) -> Viewer:
    session_key = parse_cookie(cookie_header).get(settings.SESSION_COOKIE_NAME) if cookie_header else None
    if not session_key:
        raise Refused(
            "not_authenticated",
            'Authentication required: pass auth: {"token": "…"} or {"ticket": "…"}, or log in to the admin.',
        )
    if origin is not None and not _page_of_this_site(origin):
        raise Refused("authentication_failed", "The session cookie is accepted only from pages of this site.")
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(request)  # checks the session's auth hash, as the admin does
    if not user.is_authenticated or not user.is_active:
        raise Refused("authentication_failed", "The session has expired; log in to the admin again.")
    return _with_role(user.pk, roles_of(user))


def _with_role(user_id: int, roles: frozenset[str]) -> Viewer:
    if not roles:
        raise Refused("permission_denied", NO_ROLE)
    return Viewer(user_id=user_id, roles=frozenset(roles))


def _page_of_this_site(origin: str) -> bool:
    """Whether a browser page's ``Origin`` names a host of ``ALLOWED_HOSTS`` (as ``inventory.ws_auth``)."""
    hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    try:
        netloc = urlsplit(origin).netloc
    except ValueError:
        return False
    domain, _ = split_domain_port(netloc)
    return bool(domain) and validate_host(domain, hosts)
