from __future__ import annotations

from django.db.models import Sum

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
