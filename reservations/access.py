"""Who may see and act on which reservation.

A storefront user sees only the reservations it created (``StockReservation.created_by``); warehouse
staff (group ``warehouse`` or superuser) see all, and so do internal callers, which pass no user (the
expiry sweep, management commands). A reservation the user may not see is refused exactly like an
unknown id (404 ``not_found``, same body), so one storefront cannot probe another's ids.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Q, QuerySet

from inventory.event_models import EventType
from inventory.exceptions import NotFound
from inventory_site.permissions import is_warehouse_staff
from reservations.models import StockReservation

RESERVATION_EVENT_PREFIX = EventType.RESERVATION_CREATED.value.split(".")[0] + "."
# The key of ``reservation.*`` event data naming the creating user (reservations.services._event).
EVENT_OWNER_KEY = "created_by"

User = AbstractBaseUser | AnonymousUser


def sees_every_reservation(user: User | None) -> bool:
    """Warehouse staff and internal callers (no user) see every reservation."""
    return user is None or is_warehouse_staff(user)


def visible_reservations(user: User | None) -> QuerySet[StockReservation]:
    """The reservations ``user`` may see and act on, as a queryset to narrow further (one query)."""
    reservations = StockReservation.objects.all()
    if sees_every_reservation(user):
        return reservations
    if not user.is_authenticated:
        return reservations.none()
    return reservations.filter(created_by_id=user.pk)


def unknown_reservation(reservation_id: uuid.UUID | str) -> NotFound:
    """The refusal for an id that does not exist or that the user may not see: the two are identical."""
    return NotFound(f"Unknown reservation {reservation_id}.", reservation_id=str(reservation_id))


def visible_events(user: User | None) -> Q | None:
    """The change-feed events ``user`` may read (None: all of them).

    Storefront users read every event except other users' ``reservation.*`` ones (their data names
    orders and carts of other storefronts).
    """
    if sees_every_reservation(user):
        return None
    not_a_reservation = ~Q(type__startswith=RESERVATION_EVENT_PREFIX)
    if not user.is_authenticated:
        return not_a_reservation
    return not_a_reservation | Q(**{f"data__{EVENT_OWNER_KEY}": user.pk})
