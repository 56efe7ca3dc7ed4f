"""Compact cells for the back-office lists, so a list fits a 1366-px laptop screen, and the pieces
several lists share (item columns, read-only admins).

Shared by the admin of every app (reservations and transfers import it: it is the lowest app).
The CSS classes used here are styled in ``inventory/static/inventory/admin_lists.css``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

MINUS = "\u2212"  # a real minus sign: as wide as "+", so the column of changes lines up
LIST_CSS = "inventory/admin_lists.css"


def signed(number: int) -> str:
    """``+5`` or ``−2`` (a typographic minus)."""
    return f"+{number}" if number > 0 else f"{MINUS}{-number}" if number < 0 else "0"


def change_cell(number: int) -> SafeString:
    """A quantity change, green when stock came in and red when it went out."""
    tone = "in" if number > 0 else "out"
    return format_html('<span class="qty-change qty-{}">{}</span>', tone, signed(number))


def badge(text: str, tone: str) -> SafeString:
    """A small coloured label; ``tone`` is one of the CSS's: ``danger``, ``warn``, ``ok``, ``muted``, ``info``."""
    return format_html('<span class="badge badge-{}">{}</span>', tone, text)


def short_datetime(moment: datetime | None) -> SafeString | str:
    """``21 Nov 14:05`` this year, ``21 Nov 2025`` before; the full local time on hover."""
    if moment is None:
        return "–"
    local = timezone.localtime(moment)
    text = f"{local.day} {local:%b %H:%M}" if local.year == timezone.localdate().year else f"{local.day} {local:%b %Y}"
    return format_html(
        '<time datetime="{}" title="{}">{}</time>', local.isoformat(), f"{local:%Y-%m-%d %H:%M:%S %Z}", text
    )


def abbreviated(text: str, *, title: str | None = None) -> SafeString:
    """Text cut to the column's width by CSS (ellipsis); the whole of it on hover."""
    return format_html('<span class="clip" title="{}">{}</span>', title or text, text)


def time_left(expires_at: datetime, now: datetime | None = None) -> str:
    """``45 s left``, ``12 min left``, ``2 h 5 min left``, or ``expired`` once past."""
    seconds = int((expires_at - (now or timezone.now())).total_seconds())
    if seconds <= 0:
        return "expired"
    if seconds < 60:
        return f"{seconds} s left"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min left"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min left" if minutes else f"{hours} h left"
    return f"{hours // 24} days left"


class ItemColumns:
    """The "SKU" and "WH" columns of a list whose rows belong to an inventory item (``obj.item``);
    list ``item__product`` and ``item__warehouse`` in ``list_select_related``."""

    @admin.display(description="SKU", ordering="item__product__sku")
    def sku(self, obj: Any) -> str:
        return obj.item.product.sku

    @admin.display(description="WH", ordering="item__warehouse__code")
    def warehouse(self, obj: Any) -> str:
        return obj.item.warehouse.code


class ReadOnlyAdmin:
    """Rows the services write and staff only look at: no add, change or delete in the admin (a ModelAdmin
    or an inline; without the change permission Django shows every field read-only)."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
