from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from reservations.models import ReservationLine, ReservationStatus


def held_by_active_reservations() -> dict[int, int]:
    """Units each item holds for active reservations: ``{item_id: units}``, one aggregate query."""
    rows = (
        ReservationLine.objects.filter(reservation__status=ReservationStatus.ACTIVE)
        .values("item_id")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    return {row["item_id"]: row["units"] for row in rows}


def reservation_counts(lines: QuerySet[ReservationLine]) -> list[tuple[int, str, int, int]]:
    """``(warehouse_id, reservation_type, reservations, expiries)`` for the reservations holding these lines.

    A reservation counts once in each warehouse it holds stock in; one aggregate query. Shared by
    ``/metrics`` and the purge's tally, so both count the same way.
    """
    return list(
        lines.values_list("warehouse_id", "reservation__reservation_type")
        .annotate(
            reservations=Count("reservation_id", distinct=True),
            expiries=Count("reservation_id", distinct=True, filter=Q(reservation__status=ReservationStatus.EXPIRED)),
        )
        .order_by()
    )
