"""Token authentication without a query per request: token -> user and roles, remembered briefly.

Each process keeps what one token resolved to for ``AUTH_CACHE_SECONDS`` (default 1). Nothing is
invalidated by signals, so the bound holds whatever changed the database (the admin, a script, SQL):
revoking a token, deactivating a user or taking a role away is seen by every process at most that
long after it commits. A busy storefront token costs one lookup per process per second instead of
two queries per request (the token with its user, then the user's groups).
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from inventory.roles import STOREFRONT_GROUP, WAREHOUSE_GROUP

# Bounded: a flood of random keys cannot grow it without limit (misses are remembered too).
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class Identity:
    """What a token stands for: enough to build ``request.user`` without the database."""

    user_id: int
    username: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    roles: frozenset[str]

    def user(self):
        User = get_user_model()
        user = User(
            pk=self.user_id,
            username=self.username,
            is_active=self.is_active,
            is_staff=self.is_staff,
            is_superuser=self.is_superuser,
        )
        user._state.adding = False
        user._state.db = "default"
        user._stock_roles = self.roles  # read by inventory_site.permissions.roles_of
        return user


_entries: dict[str, tuple[float, Identity | None]] = {}
_lock = threading.Lock()


def _load(key: str) -> Identity | None:
    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None:
        return None
    user = token.user
    names = set(user.groups.filter(name__in=[WAREHOUSE_GROUP, STOREFRONT_GROUP]).values_list("name", flat=True))
    if user.is_superuser:
        names.add(WAREHOUSE_GROUP)
    return Identity(
        user_id=user.pk,
        username=user.get_username(),
        is_active=user.is_active,
        is_staff=user.is_staff,
        is_superuser=user.is_superuser,
        roles=frozenset(names),
    )


def identity_for_token(key: str) -> Identity | None:
    """The token's identity as of at most ``AUTH_CACHE_SECONDS`` ago; None for an unknown token."""
    ttl = settings.AUTH_CACHE_SECONDS
    if ttl <= 0:
        return _load(key)
    # Keys are secrets: the table holds their digests only.
    digest = hashlib.sha256(key.encode()).hexdigest()
    now = time.monotonic()
    entry = _entries.get(digest)
    if entry is not None and now - entry[0] < ttl:
        return entry[1]
    identity = _load(key)
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            cutoff = now - ttl
            for stale in [d for d, (at, _) in _entries.items() if at < cutoff] or list(_entries):
                del _entries[stale]
        _entries[digest] = (now, identity)
    return identity


def forget_tokens() -> None:
    """Drop every remembered token (tests that change users and must not wait for the bound)."""
    with _lock:
        _entries.clear()


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's ``Authorization: Token <key>``, resolved through ``identity_for_token``."""

    def authenticate_credentials(self, key: str):
        identity = identity_for_token(key)
        if identity is None:
            raise AuthenticationFailed("Invalid token.")
        if not identity.is_active:
            raise AuthenticationFailed("User inactive or deleted.")
        return identity.user(), key
