"""WebSocket authentication: a ticket (``?ticket=``, from ``POST /api/v1/ws-tickets``), else a DRF token
(``?token=<key>``), else the Django session.

A ticket or token that is given but unknown, expired, already used (tickets), or whose user is
inactive makes the connection anonymous: it does not fall back to the session, so a bad credential
is always refused.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from rest_framework.authtoken.models import Token

from inventory.ws_tickets import redeem_ticket

logger = logging.getLogger(__name__)


@database_sync_to_async
def _user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


@database_sync_to_async
def _user_for_ticket(ticket: str):
    """Redeem the ticket (it is used up whatever follows) and return its user, if still active."""
    try:
        user_id = redeem_ticket(ticket)
    except Exception as exc:  # Redis down or hung: refuse this handshake, the client retries
        logger.warning("ws-tickets: could not redeem a ticket: %s", type(exc).__name__)
        return AnonymousUser()
    user = None if user_id is None else get_user_model().objects.filter(pk=user_id, is_active=True).first()
    return user or AnonymousUser()


def _credential_from_query(scope) -> tuple[str, str] | None:
    """``("ticket", value)`` or ``("token", value)`` from the query string; a ticket wins over a token."""
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    for name in ("ticket", "token"):
        values = query.get(name)
        if values:
            return name, values[-1]
    return None


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from ``?ticket=`` or ``?token=``; leaves the session user in place when
    there is neither."""

    async def __call__(self, scope, receive, send):
        credential = _credential_from_query(scope)
        if credential is not None:
            name, value = credential
            user = await (_user_for_ticket(value) if name == "ticket" else _user_for_token(value))
            scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)


def TokenAuthMiddlewareStack(inner):
    """Session auth (cookies) first, then a ticket or token overrides it when one is given."""
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


class BrowserOriginValidator(OriginValidator):
    """Refuse a browser page from another site; let non-browser clients (no Origin header) through.

    The check protects the session cookie from cross-site pages, and browsers always send Origin.
    A server-side client (the storefront, a script) sends no Origin and authenticates with a token.
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return super().valid_origin(parsed_origin)


def OriginCheck(application):
    hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    return BrowserOriginValidator(application, hosts)
