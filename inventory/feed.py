"""Reading the event log in order, never skipping an event that commits late.

On PostgreSQL an event's id starts with its transaction's id (``inventory.events``). A transaction
whose id is below the reader's snapshot ``xmin`` has finished: its events are all visible now or
never will be, and every event still to come has a larger id. So a reader takes only events below
``xmin * 2**20`` (the *horizon*), in id order, and a cursor that follows the last id it took never
misses one and never sees one twice, even when transactions commit out of id order. On SQLite
writers are serialised, so every visible event is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import Max, Q

from inventory.event_models import Event, EventType, RelayCursor

ID_SHIFT = 20  # an event id is txid * 2**ID_SHIFT + its place in the transaction (PostgreSQL)
PURGED_CURSOR = "purged"  # RelayCursor row: the largest id the retention purge has deleted
MAX_PAGE = 1000
EVENT_FAMILIES = sorted({value.split(".")[0] for value in EventType.values})


# The oldest transaction of THIS database that may still write events: only this database's transactions
# can, so one open elsewhere on the cluster (another app, a migration) does not hold the feed back. The
# snapshot's xmax is taken when the statement starts, before pg_stat_activity is read, so a transaction
# that gets its id in between has an id >= xmax. backend_xid is a 32-bit xid: widen it with xmax's epoch.
# xmax is the latest *completed* id + 1, so running transactions often have ids above it: only an id more
# than 2**31 above belongs to the previous epoch (xids wrap modulo 2**32, and live ones span < 2**31).
_LOCAL_HORIZON = """
SELECT snap.xmax, (
    SELECT min(
        ((snap.xmax >> 32) << 32 | a.backend_xid::text::bigint)
        - CASE WHEN ((snap.xmax >> 32) << 32 | a.backend_xid::text::bigint) > snap.xmax + 2147483648
               THEN 4294967296 ELSE 0 END
    )
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.backend_xid IS NOT NULL
)
FROM (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax) AS snap
"""
# Without the right to see other sessions' transaction ids, the cluster-wide xmin is the safe horizon.
_SEES_ALL_SESSIONS = (
    "SELECT current_setting('is_superuser') = 'on' OR pg_has_role(current_user, 'pg_read_all_stats', 'member')"
)


def horizon() -> int | None:
    """Events with a smaller id are final (PostgreSQL); None: every visible event is (SQLite).

    Call it before reading the events, in its own statement: the read's later snapshot then sees every
    transaction below the horizon that committed.
    """
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        if _sees_all_sessions(cursor):
            # pg_stat_activity is cached per transaction: drop the cache so the list is current.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(_LOCAL_HORIZON)
            xmax, oldest = cursor.fetchone()
            xmin = min(xmax, oldest) if oldest is not None else xmax
        else:
            cursor.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
            (xmin,) = cursor.fetchone()
    return xmin << ID_SHIFT


def _sees_all_sessions(cursor) -> bool:
    known = getattr(connection, "_feed_sees_all_sessions", None)
    if known is None:
        cursor.execute(_SEES_ALL_SESSIONS)
        known = bool(cursor.fetchone()[0])
        connection._feed_sees_all_sessions = known
    return known


def _final(after: int, limit_horizon: int | None) -> Q:
    condition = Q(id__gt=after)
    if limit_horizon is not None:
        condition &= Q(id__lt=limit_horizon)
    return condition


def type_filter(types: Sequence[str]) -> Q:
    """``inventory.updated``, a family ``reservation.*``, or ``*``; several are OR-ed."""
    condition = Q()
    for value in types:
        if value == "*":
            return Q()
        if value.endswith(".*"):
            condition |= Q(type__startswith=value[:-1])
        else:
            condition |= Q(type=value)
    return condition


def valid_type_pattern(value: str) -> bool:
    """Whether ``value`` names an event type, a known family (``reservation.*``) or ``*``."""
    if value == "*" or value in EventType.values:
        return True
    return value.endswith(".*") and value[:-2] in EVENT_FAMILIES


@dataclass(frozen=True)
class Page:
    events: list[Event]
    next_after: int


def read_events(
    *,
    after: int,
    limit: int = 100,
    types: Sequence[str] = (),
    product_id: int | None = None,
    warehouse_id: int | None = None,
    visible: Q | None = None,
) -> Page:
    """Final events after ``after``, oldest first, and the cursor for the next call.

    ``visible`` narrows the events to those the reader may see (``reservations.access.visible_events``).

    ``next_after`` is the last event returned, or, when fewer than ``limit`` matched, the newest
    final event whatever the filters (so a filtered reader does not rescan what it skipped).
    """
    # One snapshot for the horizon and the reads (REPEATABLE READ is not needed: the horizon only
    # grows, and what is below it no longer changes).
    with transaction.atomic():
        limit_horizon = horizon()
        condition = _final(after, limit_horizon) & type_filter(types)
        if product_id is not None:
            condition &= Q(product_id=product_id)
        if warehouse_id is not None:
            condition &= Q(warehouse_id=warehouse_id)
        if visible is not None:
            condition &= visible
        events = list(Event.objects.filter(condition).order_by("id")[:limit])
        if len(events) == limit:
            return Page(events, events[-1].id)
        newest = Event.objects.filter(_final(after, limit_horizon)).aggregate(newest=Max("id"))["newest"]
        return Page(events, max(after, newest or 0, events[-1].id if events else 0))


def latest_final_id() -> int:
    """The newest final event id (0 when there is none): where a reader that wants only new events starts."""
    with transaction.atomic():
        limit_horizon = horizon()
        newest = Event.objects.filter(_final(0, limit_horizon)).aggregate(newest=Max("id"))["newest"]
    return newest or 0


def tail_start(
    *, count: int, types: Sequence[str] = (), warehouse_id: int | None = None, visible: Q | None = None
) -> int:
    """The cursor from which the last ``count`` matching final events follow (a page that opens with history)."""
    with transaction.atomic():
        limit_horizon = horizon()
        condition = _final(0, limit_horizon) & type_filter(types)
        if warehouse_id is not None:
            condition &= Q(warehouse_id=warehouse_id)
        if visible is not None:
            condition &= visible
        ids = list(Event.objects.filter(condition).order_by("-id").values_list("id", flat=True)[:count])
    return ids[-1] - 1 if ids else latest_final_id()


def purged_through() -> int:
    """The largest event id the retention purge has deleted (0: nothing purged yet)."""
    row = RelayCursor.objects.filter(name=PURGED_CURSOR).values_list("position", flat=True).first()
    return row or 0
