"""Admin login lockout (django-axes): the client address it counts by, the backend, and the lockout page.

Failures are counted per username *and* client address; see README, "Admin login lockout".
"""

from __future__ import annotations

import ipaddress
import math
from datetime import datetime, timedelta

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.db.models import Max
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

LOCKOUT_TEMPLATE = "admin/login_locked_out.html"


def client_ip(request: HttpRequest) -> str | None:
    """The address failures are counted against: the connection's peer as the ASGI server reports it.

    Never X-Forwarded-For itself: a client can put anything there. uvicorn replaces the peer with the
    client a proxy names only for the proxies listed in ``FORWARDED_ALLOW_IPS``. A value that is not an
    IP address (a unix socket, a proxy's "unknown") counts as no address rather than failing the insert
    into the ``inet`` column.
    """
    raw = (request.META.get("REMOTE_ADDR") or "").strip()
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])  # drop an IPv6 zone ("fe80::1%eth0")
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped  # "::ffff:1.2.3.4" on a dual-stack socket is the same client as 1.2.3.4
    return str(address)


class LockoutBackend(AxesStandaloneBackend):
    """axes' check before ``ModelBackend``: a locked-out username+address is refused, even with the right password.

    Only a call without a request (Django's test client ``login()``, a shell) is let through to the next
    backend: it is not a login from a client, so there is no address to count against (axes would raise).
    """

    def authenticate(
        self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs
    ):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def unlocks_at(request: HttpRequest, username: str | None) -> datetime:
    """When the lockout of ``username`` from this request's address ends: its latest failure plus the cool-off."""
    latest = AccessAttempt.objects.filter(username=username, ip_address=client_ip(request)).aggregate(
        latest=Max("attempt_time")
    )["latest"]
    cool_off = get_cool_off(request) or timedelta(0)
    return (latest or timezone.now()) + cool_off


def lockout_response(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """The admin's "Too many failed login attempts" page (AXES_LOCKOUT_CALLABLE), with Retry-After.

    axes calls it as ``(request, original_response, credentials)``, but its async middleware as
    ``(request, credentials)``: the credentials are read from the request instead (axes keeps them there).
    """
    username = get_client_username(request, getattr(request, "axes_credentials", None))
    until = unlocks_at(request, username)
    retry_after = max(1, math.ceil((until - timezone.now()).total_seconds()))
    context = {
        **admin.site.each_context(request),
        "title": "Too many failed login attempts",
        "username": username or "",
        "retry_in": _retry_in(retry_after),
        "unlocks_at_text": _clock_time(until),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
    }
    response = render(request, LOCKOUT_TEMPLATE, context, status=settings.AXES_HTTP_RESPONSE_CODE)
    response["Retry-After"] = str(retry_after)
    return response


def _retry_in(seconds: int) -> str:
    """When to retry, in words: "in 15 minutes", "in 1 minute", "in 40 seconds"."""
    if seconds < 60:
        return f"in {seconds} second{'s' if seconds != 1 else ''}"
    minutes = math.ceil(seconds / 60)
    return f"in {minutes} minute{'s' if minutes != 1 else ''}"


def _clock_time(moment: datetime) -> str:
    """A moment as a clock reading: "14:05 UTC" today, "2026-11-22 14:05 UTC" on another day."""
    local = timezone.localtime(moment)
    shown = "%H:%M %Z" if local.date() == timezone.localdate() else "%Y-%m-%d %H:%M %Z"
    return local.strftime(shown)
