"""API rate limits: ``API_THROTTLE_RATE`` per authenticated user, ``API_THROTTLE_ANON_RATE`` per client IP.

A sliding window counter: a fixed-window count for this window and the one before it, the previous
one weighted by how much of it still overlaps the last ``period`` seconds. That never lets a client
send twice the rate across a window boundary (a plain fixed window does), and needs only two
counters per client.

With django-redis the whole decision (increment, read the previous window, give the request back
if it is refused) is one Lua script, atomic in Redis: any number of server processes together admit
at most the rate. DRF's own ``SimpleRateThrottle`` reads a list and writes it back, so concurrent
processes overwrite each other's hits. On the local-memory cache (the embedded default, one process)
the same steps run under a lock.

Throttling fails open: if Redis does not answer, the request goes on unthrottled, and for a second
after a failure the throttle does not ask again, so a dead Redis costs one short timeout per second,
not one per request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from inventory_site.env import parse_rate

logger = logging.getLogger(__name__)

# KEYS: this window's counter, the previous window's. ARGV: limit, weight of the previous window
# (0..1), counter lifetime in ms. Returns {admitted 1/0, this window's count, previous window's count}.
_SLIDING_WINDOW_SCRIPT = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
if previous * tonumber(ARGV[2]) + current > tonumber(ARGV[1]) then
  current = redis.call('DECR', KEYS[1])
  return {0, current, previous}
end
return {1, current, previous}
"""

_BREAKER_SECONDS = 1.0
# Per cache location: a test (or a second cache) on another Redis keeps its own state.
_down_until: dict[str, float] = {}
_local_lock = threading.Lock()


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int | None = None  # whole seconds until a request would be admitted again


def retry_after(limit: int, period: int, elapsed: float, current: int, previous: int) -> int:
    """Seconds until one more request fits, if nothing else is admitted meanwhile (at least 1)."""
    # Later in this window the previous window's weight keeps shrinking ...
    if previous and current + 1 <= limit:
        wait = period * (1 - (limit - current - 1) / previous) - elapsed
        if wait < period - elapsed:
            return max(1, math.ceil(wait))
    # ... else in the next one, where this window's count is the one that fades out.
    into_next = period * (1 - (limit - 1) / current) if current > limit - 1 else 0.0
    return max(1, math.ceil(period - elapsed + into_next))


def _location() -> str:
    return str(settings.CACHES["default"].get("LOCATION", "default"))


def _redis_client() -> Any | None:
    """The cache's own Redis client when the cache is django-redis, else None."""
    client = getattr(cache, "client", None)
    if client is None or not hasattr(client, "get_client"):
        return None
    return client


def _hit_redis(client: Any, keys: list[str], limit: int, weight: float, ttl_ms: int) -> tuple[int, int, int]:
    raw = client.get_client(write=True)
    script = raw.register_script(_SLIDING_WINDOW_SCRIPT)
    admitted, current, previous = script(keys=[client.make_key(k) for k in keys], args=[limit, weight, ttl_ms])
    return int(admitted), int(current), int(previous)


def _hit_local(keys: list[str], limit: int, weight: float, ttl: int) -> tuple[int, int, int]:
    # The local-memory cache lives in this process: a process-wide lock makes the steps atomic.
    with _local_lock:
        cache.add(keys[0], 0, ttl)
        current = cache.incr(keys[0])
        previous = int(cache.get(keys[1]) or 0)
        if previous * weight + current > limit:
            return 0, cache.decr(keys[0]), previous
        return 1, current, previous


def hit(key: str, limit: int, period: int) -> Decision:
    """Count one request against ``limit`` per ``period`` seconds for ``key``; refused requests do not count."""
    location = _location()
    if time.monotonic() < _down_until.get(location, 0.0):
        return Decision(True)
    now = time.time()
    window, elapsed = divmod(now, period)
    keys = [f"{key}:{int(window)}", f"{key}:{int(window) - 1}"]
    weight = 1 - elapsed / period
    try:
        client = _redis_client()
        if client is not None:
            # A counter must outlive its own window and the next (where it is the previous one).
            admitted, current, previous = _hit_redis(client, keys, limit, weight, (2 * period + 1) * 1000)
        else:
            admitted, current, previous = _hit_local(keys, limit, weight, 2 * period + 1)
    except Exception as exc:  # fail open: a missing rate limit is better than a failed request
        _down_until[location] = time.monotonic() + _BREAKER_SECONDS
        logger.warning("throttle: cache unavailable, not throttling for %.0f s: %s", _BREAKER_SECONDS, exc)
        return Decision(True)
    if admitted:
        return Decision(True)
    return Decision(False, retry_after(limit, period, elapsed, current, previous))


class _RateThrottle(BaseThrottle):
    """Counts requests of one identity (``identity``) against the rate in the setting named by ``setting``."""

    scope = ""
    setting = ""

    def __init__(self) -> None:
        self._wait: int | None = None

    def identity(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        rate = parse_rate(getattr(settings, self.setting))
        ident = self.identity(request)
        if rate is None or ident is None:
            return True
        decision = hit(f"throttle:{self.scope}:{ident}", *rate)
        self._wait = decision.retry_after
        return decision.allowed

    def wait(self) -> int | None:
        return self._wait


class UserRateThrottle(_RateThrottle):
    """``API_THROTTLE_RATE`` per authenticated user (a token belongs to one user)."""

    scope = "user"
    setting = "API_THROTTLE_RATE"

    def identity(self, request: Request) -> str | None:
        user = request.user
        return str(user.pk) if user is not None and user.is_authenticated else None


class AnonRateThrottle(_RateThrottle):
    """``API_THROTTLE_ANON_RATE`` per client IP, for requests without valid credentials."""

    scope = "anon"
    setting = "API_THROTTLE_ANON_RATE"

    def identity(self, request: Request) -> str | None:
        user = request.user
        if user is not None and user.is_authenticated:
            return None
        # The peer address only, never X-Forwarded-For as sent: a client could name any address there.
        # Behind a proxy, uvicorn puts the real client here (--proxy-headers, FORWARDED_ALLOW_IPS).
        return request.META.get("REMOTE_ADDR") or "unknown"


def throttle_refused_credentials(request: Request | None, view: Any) -> exceptions.Throttled | None:
    """Count a request refused for missing or bad credentials against its IP's anonymous rate.

    DRF checks throttles only after authentication and permissions pass, so without this a 401 would
    never be throttled and tokens could be guessed at any speed. Returns the 429 to answer instead,
    once the IP is over its rate.
    """
    if request is None or view is None or AnonRateThrottle not in _throttle_classes(view):
        return None
    throttle = AnonRateThrottle()
    if throttle.allow_request(request, view):
        return None
    return exceptions.Throttled(throttle.wait())


def _throttle_classes(view: Any) -> list[type]:
    return list(getattr(view, "throttle_classes", ()))
