"""WebSocket authentication: a DRF token in the query string (``?token=<key>``), else the Django session.

A token that is given but unknown (or whose user is inactive) makes the connection anonymous: it
does not fall back to the session, so a bad credential is always refused.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _user_for_token(key: str):
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


def _token_from_query(scope) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin1"))
    values = query.get("token")
    return values[-1] if values else None


class TokenAuthMiddleware(BaseMiddleware):
    """Sets ``scope["user"]`` from ``?token=``; leaves the session user in place when there is none."""

    async def __call__(self, scope, receive, send):
        key = _token_from_query(scope)
        if key is not None:
            scope = dict(scope, user=await _user_for_token(key))
        return await super().__call__(scope, receive, send)


def TokenAuthMiddlewareStack(inner):
    """Session auth (cookies) first, then the token overrides it when one is given."""
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
