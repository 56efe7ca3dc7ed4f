"""WebSocket tickets: short-lived, single-use credentials for ``/ws/inventory/?ticket=...``.

A ticket stands for a user for ``WS_TICKET_TTL`` seconds and opens one connection. It lives in the
shared cache (Redis with ``REDIS_URL``, so any web process can redeem it), keyed by a hash of the
ticket: whoever can read the cache sees neither tickets nor tokens.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.cache import cache

_KEY_PREFIX = "ws-ticket:"


class TicketStoreUnavailable(Exception):
    """The cache could not store the ticket (Redis down or hung)."""


def ticket_key(ticket: str) -> str:
    """The cache key of a ticket: a hash, so the ticket itself is never stored."""
    return _KEY_PREFIX + hashlib.sha256(ticket.encode("utf-8", "surrogatepass")).hexdigest()


def issue_ticket(user) -> str:
    """A new ticket for ``user``, valid for ``WS_TICKET_TTL`` seconds and one connection."""
    ticket = secrets.token_urlsafe(32)
    try:
        cache.set(ticket_key(ticket), user.pk, timeout=settings.WS_TICKET_TTL)
    except Exception as exc:  # django-redis raises its own and redis-py's errors
        raise TicketStoreUnavailable(str(exc)) from exc
    return ticket


def redeem_ticket(ticket: str) -> int | None:
    """The id of the ticket's user, once: None for an unknown, expired or already used ticket.

    Of concurrent redemptions only one succeeds: the delete that removes the key (Redis ``DEL``
    answering 1, or locmem's delete under its lock) is the one that wins.
    """
    key = ticket_key(ticket)
    user_id = cache.get(key)
    if user_id is None:
        return None
    if not cache.delete(key):
        return None  # another connection redeemed it between our get and delete (or it just expired)
    return user_id
