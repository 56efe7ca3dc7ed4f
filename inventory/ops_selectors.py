"""Reads of the ops dashboard (``/ops/``): warehouse tiles, the last hour's charts, and the latest stock
changes told as a person reads them (the amount, the type, who), all from data already kept.

An ``inventory.updated`` event carries an item's new state only. What the change was comes from what
the same transaction left behind: the amount from the item's previous event (its previous state), the
type and who from the ledger rows written with it (their ``created_at`` is the item's ``updated_at``)
or, for holds, from the ``reservation.*`` / ``transfer.*`` event of the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import BigIntegerField, Count, DateTimeField, F, Max, OuterRef, Q, Subquery, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Coalesce, Greatest, TruncMinute
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from inventory import feed
from inventory.event_models import Event, EventType
from inventory.models import (
    ACTIVE_ALERT_STATUSES,
    AlertStatus,
    InventoryTransaction,
    LowStockAlert,
    TransactionType,
    Warehouse,
)

WINDOW_MINUTES = 60
HISTORY = 100  # latest changes shown when the page opens
MAX_ALERTS = 500
ACTIVITY_PAGE = 1000

UPDATED = EventType.INVENTORY_UPDATED.value
RESERVATION_KINDS = {
    EventType.RESERVATION_CREATED.value: "created",
    EventType.RESERVATION_CONFIRMED.value: "confirmed",
    EventType.RESERVATION_RELEASED.value: "released",
    EventType.RESERVATION_EXPIRED.value: "expired",
}
ALERT_TYPES = (EventType.LOW_STOCK_RAISED.value, EventType.LOW_STOCK_RESOLVED.value)
# Holds leave no ledger row: the event of the same transaction names them.
HOLD_TYPES = {
    EventType.RESERVATION_CREATED.value: ("reserved", "Reserved", -1),
    EventType.RESERVATION_RELEASED.value: ("released", "Released", 1),
    EventType.RESERVATION_EXPIRED.value: ("reservation_expired", "Reservation expired", 1),
    EventType.TRANSFER_CREATED.value: ("transfer_hold", "Transfer hold", -1),
    EventType.TRANSFER_CANCELLED.value: ("transfer_cancelled", "Transfer cancelled", 1),
}
LEDGER_LABELS = dict(TransactionType.choices)


# --- tiles ----------------------------------------------------------------------------------------------


def warehouse_tiles() -> list[dict[str, Any]]:
    """Per warehouse: on hand, available, reserved, and items at or below their reorder point (one query)."""
    items = "inventory_items"
    rows = (
        Warehouse.objects.order_by("priority", "code")
        .annotate(
            items=Count(items),
            on_hand=Coalesce(Sum(f"{items}__total_quantity"), 0),
            available=Coalesce(Sum(f"{items}__available_quantity"), 0),
            reserved=Coalesce(Sum(f"{items}__reserved_quantity"), 0),
            low_items=Count(items, filter=Q(**{f"{items}__available_quantity__lte": F(f"{items}__reorder_point")})),
        )
        .values("id", "code", "name", "is_active", "items", "on_hand", "available", "reserved", "low_items")
    )
    return [{"warehouse_id": row.pop("id"), **row} for row in rows]


# --- charts ---------------------------------------------------------------------------------------------


def window(now: datetime) -> list[datetime]:
    """The chart minutes: the last ``WINDOW_MINUTES`` whole minutes, the current one last."""
    last = now.astimezone(UTC).replace(second=0, microsecond=0)
    return [last - timedelta(minutes=n) for n in range(WINDOW_MINUTES - 1, -1, -1)]


def _minute(column: str) -> TruncMinute:
    return TruncMinute(column, tzinfo=UTC)


def movements_per_minute(minutes: Sequence[datetime]) -> dict[int, list[int]]:
    """Ledger rows (on-hand movements) per warehouse and minute: ``{warehouse_id: [count per minute]}``."""
    start = minutes[0]
    index = {minute: n for n, minute in enumerate(minutes)}
    # Per warehouse, so PostgreSQL reads the (warehouse, created_at) index instead of the whole ledger.
    warehouse_ids = list(Warehouse.objects.values_list("pk", flat=True))
    rows = (
        InventoryTransaction.objects.filter(warehouse_id__in=warehouse_ids, created_at__gte=start)
        .annotate(minute=_minute("created_at"))
        .values("minute", "warehouse_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    series: dict[int, list[int]] = defaultdict(lambda: [0] * len(minutes))
    for row in rows:
        if row["minute"] in index:
            series[row["warehouse_id"]][index[row["minute"]]] += row["n"]
    return dict(series)


def reservations_per_minute(minutes: Sequence[datetime], *, visible: Q | None = None) -> dict[str, list[int]]:
    """``reservation.*`` events per kind (created, confirmed, released, expired) and minute."""
    index = {minute: n for n, minute in enumerate(minutes)}
    events = Event.objects.filter(created_at__gte=minutes[0], type__in=RESERVATION_KINDS)
    if visible is not None:
        events = events.filter(visible)
    rows = events.annotate(minute=_minute("created_at")).values("minute", "type").annotate(n=Count("id")).order_by()
    series = {kind: [0] * len(minutes) for kind in RESERVATION_KINDS.values()}
    for row in rows:
        if row["minute"] in index:
            series[RESERVATION_KINDS[row["type"]]][index[row["minute"]]] += row["n"]
    return series


def open_alerts_per_minute(minutes: Sequence[datetime]) -> list[int]:
    """Active (open or acknowledged) low-stock alerts at the end of each minute.

    One GROUP BY over the alerts alive in the window, by the minute each was raised (earlier ones
    share a minute before the window) and the minute it was resolved (none: still active).
    """
    before = minutes[0] - timedelta(minutes=1)
    rows = (
        LowStockAlert.objects.filter(
            Q(status__in=ACTIVE_ALERT_STATUSES) | Q(status=AlertStatus.RESOLVED, resolved_at__gte=minutes[0])
        )
        .annotate(
            raised=_minute(Greatest("created_at", Value(before, output_field=DateTimeField()))),
            resolved=_minute("resolved_at"),
        )
        .values("raised", "resolved")
        .annotate(n=Count("id"))
        .order_by()
    )
    levels = [0] * len(minutes)
    for row in rows:
        for n, minute in enumerate(minutes):
            if row["raised"] <= minute and (row["resolved"] is None or row["resolved"] > minute):
                levels[n] += row["n"]
    return levels


def charts(now: datetime, *, visible: Q | None = None) -> dict[str, Any]:
    minutes = window(now)
    return {
        "minutes": [_iso(minute) for minute in minutes],
        "movements": {str(k): v for k, v in movements_per_minute(minutes).items()},
        "reservations": reservations_per_minute(minutes, visible=visible),
        "open_alerts": open_alerts_per_minute(minutes),
    }


# --- alerts ---------------------------------------------------------------------------------------------


def active_alerts(*, limit: int = MAX_ALERTS) -> tuple[list[dict[str, Any]], int]:
    """The newest active alerts with the item's live available quantity and reorder point, and how many there are."""
    alerts = LowStockAlert.objects.filter(status__in=ACTIVE_ALERT_STATUSES)
    rows = alerts.order_by("-created_at", "-id").values(
        "id",
        "status",
        "created_at",
        product_id=F("item__product_id"),
        warehouse_id=F("item__warehouse_id"),
        sku=F("item__product__sku"),
        available_now=F("item__available_quantity"),
        reorder_point_now=F("item__reorder_point"),
    )[:limit]
    result = []
    for row in rows:
        # The names of the alerts API and of the low_stock.* events: live values.
        row["current_quantity"] = row.pop("available_now")
        row["reorder_point"] = row.pop("reorder_point_now")
        row["created_at"] = _iso(row["created_at"])
        result.append(row)
    return result, alerts.count()


# --- the latest changes, described ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Ledger:
    transaction_type: str
    quantity_change: int
    username: str | None


def describe_changes(events: Sequence[Event], *, show_users: bool = True) -> list[dict[str, Any]]:
    """``inventory.updated`` events as rows of the latest changes (same order as given).

    ``change`` is the on-hand change, or for holds (reserve, release, expiry) the available change;
    ``movements`` counts the ledger rows of the change (the movements chart adds them by ``moved_at``).
    """
    updates = [event for event in events if event.type == UPDATED]
    if not updates:
        return []
    previous = _previous_states(updates)
    ledger = _ledger_rows(updates)
    holds = _holds(updates)
    users = _usernames(
        {hold["user_id"] for hold in holds.values() if isinstance(hold.get("user_id"), int)} if show_users else ()
    )
    rows = []
    for event in updates:
        data = event.data
        key = (event.product_id, event.warehouse_id, data.get("updated_at"))
        booked = ledger.get(key, [])
        hold = holds.get(event.id)
        before = previous.get(event.id)
        on_hand, available = data["total_quantity"], data["available_quantity"]
        if before is not None:
            on_hand_change = on_hand - before["total_quantity"]
            available_change = available - before["available_quantity"]
        elif booked:  # no earlier event kept (purged, or the first): what the ledger rows say
            on_hand_change = sum(row.quantity_change for row in booked)
            sale = booked[-1].transaction_type == TransactionType.SALE
            available_change = 0 if sale else on_hand_change
        elif hold is not None:
            on_hand_change, available_change = 0, hold["units"]
        else:
            on_hand_change = available_change = None
        if booked:
            kind = booked[-1].transaction_type
            label = LEDGER_LABELS.get(kind, kind)
            who = booked[-1].username
        elif hold is not None:
            kind, label = hold["type"], hold["label"]
            who = hold.get("who") or users.get(hold.get("user_id"))
        elif on_hand_change == 0 and available_change == 0:
            kind, label, who = "settings", "Settings", None
        else:
            kind, label, who = "change", "Change", None
        change = on_hand_change if on_hand_change else available_change
        rows.append(
            {
                "event_id": event.id,
                "created_at": _iso(event.created_at),
                "product_id": event.product_id,
                "warehouse_id": event.warehouse_id,
                "sku": data.get("sku"),
                "available_quantity": available,
                "reserved_quantity": data["reserved_quantity"],
                "total_quantity": on_hand,
                "reorder_point": data["reorder_point"],
                "version": data.get("version"),
                "change": change,
                "on_hand_change": on_hand_change,
                "available_change": available_change,
                "type": kind,
                "type_label": label,
                # A ledger row or hold with nobody behind it was made by the system (the expiry sweep).
                "who": (who or ("system" if booked or hold is not None else None)) if show_users else None,
                "movements": len(booked),
                "moved_at": data.get("updated_at"),
            }
        )
    return rows


def _previous_states(updates: Sequence[Event]) -> dict[int, dict[str, Any]]:
    """Each event's previous state of its item: the newest earlier event of the item with a lower version.

    Within the list it is found in memory; for the oldest event of each item, with one query.
    """
    found: dict[int, dict[str, Any]] = {}
    by_item: dict[tuple[int, int], list[Event]] = defaultdict(list)
    for event in sorted(updates, key=lambda e: e.id):
        by_item[(event.product_id, event.warehouse_id)].append(event)
    firsts = []
    for chain in by_item.values():
        firsts.append(chain[0].id)
        for n, event in enumerate(chain[1:], start=1):
            version = event.data.get("version", 0)
            earlier = next((e for e in reversed(chain[:n]) if e.data.get("version", 0) < version), None)
            if earlier is not None:
                found[event.id] = earlier.data
            else:
                firsts.append(event.id)
    # The (product_id, id) index walked backwards: usually the first row it meets.
    before = (
        Event.objects.filter(
            type=UPDATED,
            product_id=OuterRef("product_id"),
            warehouse_id=OuterRef("warehouse_id"),
            id__lt=OuterRef("id"),
        )
        .annotate(version=Cast(KT("data__version"), BigIntegerField()))
        .filter(version__lt=OuterRef("version"))
        .order_by("-id")
        .values("data")[:1]
    )
    rows = (
        Event.objects.filter(id__in=firsts)
        .annotate(version=Cast(KT("data__version"), BigIntegerField()))
        .annotate(previous=Subquery(before))
        .values_list("id", "previous")
    )
    for event_id, data in rows:
        if data is not None:
            found[event_id] = data
    return found


def _ledger_rows(updates: Sequence[Event]) -> dict[tuple[int, int, str], list[_Ledger]]:
    """The ledger rows written with each change: same item, ``created_at`` = the item's ``updated_at``."""
    stamps: dict[datetime, str] = {}
    for event in updates:
        text = event.data.get("updated_at")
        moment = parse_datetime(text) if isinstance(text, str) else None
        if moment is not None:
            stamps[moment] = text
    if not stamps:
        return {}
    rows = (
        InventoryTransaction.objects.filter(
            created_at__in=list(stamps),
            product_id__in={e.product_id for e in updates},
            warehouse_id__in={e.warehouse_id for e in updates},
        )
        .order_by("id")
        .values_list(
            "product_id", "warehouse_id", "created_at", "transaction_type", "quantity_change", "created_by__username"
        )
    )
    found: dict[tuple[int, int, str], list[_Ledger]] = defaultdict(list)
    for product_id, warehouse_id, created_at, kind, change, username in rows:
        text = stamps.get(created_at)
        if text is not None:
            found[(product_id, warehouse_id, text)].append(_Ledger(kind, change, username))
    return found


def _same_transactions(updates: Sequence[Event]) -> Q:
    txids = sorted({event.txid for event in updates})
    condition = Q(txid__in=txids)
    if connection.vendor == "postgresql":
        # An event id starts with its transaction's id (inventory.feed): stay on the primary key.
        condition &= Q(id__gte=txids[0] << feed.ID_SHIFT, id__lt=(txids[-1] + 1) << feed.ID_SHIFT)
    return condition


def _holds(updates: Sequence[Event]) -> dict[int, dict[str, Any]]:
    """For changes that moved units between available and reserved: the hold's type, units and who."""
    siblings = Event.objects.filter(_same_transactions(updates), type__in=HOLD_TYPES)
    by_txid: dict[int, list[tuple[str, dict]]] = defaultdict(list)
    for txid, kind, data in siblings.values_list("txid", "type", "data"):
        by_txid[txid].append((kind, data))
    found: dict[int, dict[str, Any]] = {}
    for event in updates:
        units, hold = 0, None
        for kind, data in by_txid.get(event.txid, ()):
            quantity = _held_units(kind, data, event.product_id, event.warehouse_id)
            if quantity:
                code, label, sign = HOLD_TYPES[kind]
                units += sign * quantity
                if hold is None:
                    hold = {"type": code, "label": label}
                    if kind.startswith("transfer."):
                        hold["who"] = data.get("requested_by") or None
                    elif kind == EventType.RESERVATION_EXPIRED:
                        hold["who"] = "system"  # the sweep, not the reservation's owner
                    else:
                        hold["user_id"] = data.get("created_by")
        if hold is not None:
            found[event.id] = {**hold, "units": units}
    return found


def _held_units(kind: str, data: dict, product_id: int, warehouse_id: int) -> int:
    if kind.startswith("transfer."):
        same = data.get("product_id") == product_id and data.get("from_warehouse_id") == warehouse_id
        return data.get("quantity", 0) if same else 0
    return sum(
        line.get("quantity", 0)
        for line in data.get("items", ())
        if line.get("product_id") == product_id and line.get("warehouse_id") == warehouse_id
    )


def _usernames(user_ids: Iterable[int]) -> dict[int, str]:
    ids = set(user_ids)
    if not ids:
        return {}
    return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))


# --- what the page loads ----------------------------------------------------------------------------------


def dashboard(
    *, warehouse_id: int | None = None, visible: Q | None = None, show_users: bool = True, history: int = HISTORY
) -> dict[str, Any]:
    """Everything the page opens with, read in one snapshot, and where in the change feed it stands.

    ``next_after``: every final event up to it is in the figures; ``counted``: later events the snapshot
    already includes (their transactions committed before it, out of id order). A reader that follows
    the feed from ``next_after`` and does not count those again is exact.
    """
    # Before the snapshot: a transaction below the horizon has ended, so the snapshot sees all it did.
    limit_horizon = feed.horizon()
    now = timezone.now()
    outermost = not connection.in_atomic_block  # else the caller's transaction (a test) is the snapshot
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        final = Q() if limit_horizon is None else Q(id__lt=limit_horizon)
        next_after = Event.objects.filter(final).aggregate(newest=Max("id"))["newest"] or 0
        counted = []
        if limit_horizon is not None:
            counted = list(Event.objects.filter(id__gte=limit_horizon).order_by("id").values_list("id", flat=True))
        latest = Event.objects.filter(final, type=UPDATED)
        if warehouse_id is not None:
            latest = latest.filter(warehouse_id=warehouse_id)
        latest = list(reversed(latest.order_by("-id")[:history]))
        alerts, alert_count = active_alerts()
        return {
            "now": _iso(now),
            "next_after": next_after,
            "counted": counted,
            "warehouses": warehouse_tiles(),
            "charts": charts(now, visible=visible),
            "alerts": alerts,
            "alert_count": alert_count,
            "changes": describe_changes(latest, show_users=show_users),
        }


def activity(*, after: int, visible: Q | None = None, show_users: bool = True) -> dict[str, Any]:
    """What happened after ``after`` (oldest first), for a page that follows the feed, and the tiles now."""
    types = [UPDATED, *RESERVATION_KINDS, *ALERT_TYPES]
    page = feed.read_events(after=after, limit=ACTIVITY_PAGE, types=types, visible=visible)
    return {
        "next_after": page.next_after,
        "more": len(page.events) == ACTIVITY_PAGE,
        "changes": describe_changes(page.events, show_users=show_users),
        "reservations": [
            {"event_id": e.id, "kind": RESERVATION_KINDS[e.type], "created_at": _iso(e.created_at)}
            for e in page.events
            if e.type in RESERVATION_KINDS
        ],
        "alerts": [
            {"event_id": e.id, "type": e.type, "created_at": _iso(e.created_at), "data": e.data}
            for e in page.events
            if e.type in ALERT_TYPES
        ],
        "warehouses": warehouse_tiles(),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
