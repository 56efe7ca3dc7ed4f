"""Low-stock alerts: raised when an item's available quantity falls to its reorder point or below,
resolved when it rises above it again.

Two ways in, both set-based and safe to run at the same time:

- the write path: ``services.movements._save_quantities`` calls ``sync_low_stock_alerts`` with the items it
  just changed, inside the write's transaction and while holding their row locks;
- the periodic scan ``scan_low_stock`` (Celery beat), which catches what does not go through the
  write path (a reorder point edited, a count).

Both insert with ``ON CONFLICT DO NOTHING`` against the partial unique constraint (one open or
acknowledged alert per item), so a race between them never raises an alert twice. Raising and
resolving write ``low_stock.raised`` / ``low_stock.resolved`` events in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from inventory import events
from inventory.event_models import Event, EventType
from inventory.exceptions import InvalidState, NotFound
from inventory.models import ACTIVE_ALERT_STATUSES, AlertStatus, InventoryItem, LowStockAlert, Product

_INSERT_CHUNK = 1000


def _quoted(model, *field_names: str) -> tuple[str, list[str]]:
    quote = connection.ops.quote_name
    columns = [quote(model._meta.get_field(name).column) for name in field_names]
    return quote(model._meta.db_table), columns


_ALERT_FIELDS = ("item", "current_quantity", "reorder_point", "status", "created_at")


def _insert_alerts(rows: Sequence[tuple[int, int, int]], now: datetime) -> list[int]:
    """Insert open alerts for ``(item_id, current_quantity, reorder_point)`` rows, skipping items that
    already have an active one (even one a concurrent transaction is inserting). Returns the new ids."""
    table, columns = _quoted(LowStockAlert, *_ALERT_FIELDS)
    created_at = connection.ops.adapt_datetimefield_value(now)
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _INSERT_CHUNK):
            chunk = rows[start : start + _INSERT_CHUNK]
            values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
            params: list = []
            for item_id, quantity, reorder_point in chunk:
                params += [item_id, quantity, reorder_point, AlertStatus.OPEN.value, created_at]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values} ON CONFLICT DO NOTHING RETURNING id",
                params,
            )
            ids += [row[0] for row in cursor.fetchall()]
    return ids


def alert_events(alert_ids: Iterable[int], event_type: str) -> list[events.NewEvent]:
    """``low_stock.raised`` / ``low_stock.resolved`` for these alerts, with the item's live figures."""
    ids = sorted(set(alert_ids))
    if not ids:
        return []
    rows = (
        LowStockAlert.objects.filter(pk__in=ids)
        .order_by("pk")
        .values(
            "pk",
            "status",
            "item_id",
            "item__product_id",
            "item__warehouse_id",
            "item__product__sku",
            "item__available_quantity",
            "item__reorder_point",
            "current_quantity",
            "reorder_point",
        )
    )
    return [
        events.NewEvent(
            type=event_type,
            product_id=row["item__product_id"],
            warehouse_id=row["item__warehouse_id"],
            item_id=row["item_id"],
            data={
                "alert_id": row["pk"],
                "status": row["status"],
                "item_id": row["item_id"],
                "product_id": row["item__product_id"],
                "sku": row["item__product__sku"],
                "warehouse_id": row["item__warehouse_id"],
                "current_quantity": row["item__available_quantity"],
                "reorder_point": row["item__reorder_point"],
                "quantity_when_raised": row["current_quantity"],
                "reorder_point_when_raised": row["reorder_point"],
            },
        )
        for row in rows
    ]


def _record(raised: Iterable[int], resolved: Iterable[int]) -> None:
    events.record(
        alert_events(raised, EventType.LOW_STOCK_RAISED) + alert_events(resolved, EventType.LOW_STOCK_RESOLVED)
    )


def _resolve(alert_ids_sql: str, params: list, now: datetime) -> list[int]:
    """Resolve the active alerts the subquery names; returns the ids this statement resolved.

    The status condition stays on the updated table itself, so of two concurrent resolvers (a scan
    and the write path) only one resolves an alert: PostgreSQL re-checks it on the new row version.
    """
    table, (pk, status, resolved_at) = _quoted(LowStockAlert, "id", "status", "resolved_at")
    active = ", ".join(["%s"] * len(ACTIVE_ALERT_STATUSES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {status} = %s, {resolved_at} = %s "
            f"WHERE {status} IN ({active}) AND {pk} IN ({alert_ids_sql}) RETURNING {pk}",
            [
                AlertStatus.RESOLVED.value,
                connection.ops.adapt_datetimefield_value(now),
                *(s.value for s in ACTIVE_ALERT_STATUSES),
                *params,
            ],
        )
        return [row[0] for row in cursor.fetchall()]


def _rose_from_low(item) -> bool:
    at_lock = getattr(item, "available_at_lock", -1)
    return item.available_quantity > at_lock and at_lock <= item.reorder_point


def sync_low_stock_alerts(items: Iterable[InventoryItem]) -> None:
    """Raise or resolve the alerts of items whose quantities just changed (in memory and in the database).

    Call inside the write's transaction while holding SELECT FOR UPDATE on the items. One query to
    read the items' active alerts, then at most one UPDATE and one INSERT.
    """
    # Only a low item, or one that rose from at or below its point, can need a change: an item that was
    # above its point when locked had no active alert. Skipping the rest keeps the common reserve, sale
    # and release paths free of this query. (``available_at_lock`` -1: always look.)
    by_id = {item.pk: item for item in items if item.is_low_stock or _rose_from_low(item)}
    if not by_id:
        return
    active = dict(
        LowStockAlert.objects.filter(item_id__in=by_id, status__in=ACTIVE_ALERT_STATUSES).values_list("item_id", "pk")
    )
    now = timezone.now()
    to_resolve = [alert_id for item_id, alert_id in active.items() if not by_id[item_id].is_low_stock]
    resolved = _resolve(", ".join(["%s"] * len(to_resolve)), to_resolve, now) if to_resolve else []
    to_raise = sorted(
        (item.pk, item.available_quantity, item.reorder_point)
        for item in by_id.values()
        if item.is_low_stock and item.pk not in active
    )
    _record(_insert_alerts(to_raise, now) if to_raise else [], resolved)


def alert_json_sql(alert: str) -> str:
    """The data of ``low_stock.*`` events (as ``alert_events`` builds it) in SQL: alert row ``alert``,
    item ``i``, product ``p``."""
    return (
        f"jsonb_build_object('alert_id', {alert}.id, 'status', {alert}.status, 'item_id', {alert}.item_id, "
        "'product_id', i.product_id, 'sku', p.sku, 'warehouse_id', i.warehouse_id, "
        "'current_quantity', i.available_quantity, 'reorder_point', i.reorder_point, "
        f"'quantity_when_raised', {alert}.current_quantity, 'reorder_point_when_raised', {alert}.reorder_point)"
    )


def pg_alert_events_sql(alerts: str, items: str, *, first: str, event_type: str) -> str:
    """``INSERT`` of a ``low_stock.*`` event for every alert row of ``alerts``, whose item rows come from
    ``items``, numbered from ``first`` (an expression over ``PG_EVENT_CTES``' ``base``); ``%(now)s``."""
    table = Event._meta.db_table
    products = Product._meta.db_table
    return (
        f"INSERT INTO {table} (id, txid, type, created_at, product_id, warehouse_id, item_id, data) "
        f"SELECT {first} + row_number() OVER (ORDER BY a.id), base.txid, '{event_type}', %(now)s, "
        f"i.product_id, i.warehouse_id, i.id, {alert_json_sql('a')} "
        f"FROM base, {alerts} a JOIN {items} i ON i.id = a.item_id JOIN {products} p ON p.id = i.product_id"
    )


def _scan_in_one_statement(now: datetime) -> tuple[int, int]:
    """``scan_low_stock`` on PostgreSQL: find, raise, resolve and write every event in one statement."""
    alerts = LowStockAlert._meta.db_table
    items = InventoryItem._meta.db_table
    active = ", ".join(f"'{status.value}'" for status in ACTIVE_ALERT_STATUSES)
    # ORDER BY: concurrent scans insert in the same order, so they queue instead of deadlocking. The CTE
    # is filtered first (the partial low-stock index serves it) and only then sorted.
    sql = f"""WITH {events.PG_EVENT_CTES},
low AS MATERIALIZED (
    SELECT i.id, i.available_quantity, i.reorder_point FROM {items} i WHERE i.available_quantity <= i.reorder_point
),
raised AS (
    INSERT INTO {alerts} (item_id, current_quantity, reorder_point, status, created_at)
    SELECT low.id, low.available_quantity, low.reorder_point, '{AlertStatus.OPEN.value}', %(now)s FROM low
    WHERE NOT EXISTS (SELECT 1 FROM {alerts} a WHERE a.item_id = low.id AND a.status IN ({active}))
    ORDER BY low.id ON CONFLICT DO NOTHING RETURNING *
),
resolved AS (
    UPDATE {alerts} a SET status = '{AlertStatus.RESOLVED.value}', resolved_at = %(now)s
    FROM {items} i WHERE i.id = a.item_id AND a.status IN ({active}) AND i.available_quantity > i.reorder_point
    RETURNING a.*
),
raised_events AS ({
        pg_alert_events_sql("raised", items, first="base.last", event_type=EventType.LOW_STOCK_RAISED.value)
    }),
resolved_events AS ({
        pg_alert_events_sql(
            "resolved",
            items,
            first="base.last + (SELECT count(*) FROM raised)",
            event_type=EventType.LOW_STOCK_RESOLVED.value,
        )
    })
SELECT (SELECT count(*) FROM raised), (SELECT count(*) FROM resolved)"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"now": now})
        raised, resolved = cursor.fetchone()
    return raised, resolved


@transaction.atomic
def scan_low_stock() -> tuple[int, int]:
    """Raise an alert for every item at or below its reorder point that has none, resolve every active
    alert whose item is above it; returns (raised, resolved). Two statements whatever the number of items."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return _scan_in_one_statement(now)
    alerts, columns = _quoted(LowStockAlert, *_ALERT_FIELDS)
    items, (item_pk, available, reorder_point) = _quoted(InventoryItem, "id", "available_quantity", "reorder_point")
    alert_item, alert_status = _quoted(LowStockAlert, "item", "status")[1]
    with connection.cursor() as cursor:
        # ORDER BY: concurrent scans insert in the same order, so they queue instead of deadlocking.
        # The CTE is filtered first (the partial low-stock index serves it) and only then sorted;
        # a plain ORDER BY id would walk the whole primary key index of every item instead.
        materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
        cursor.execute(
            f"WITH low AS {materialized}(SELECT i.{item_pk} AS id, i.{available} AS available, "
            f"i.{reorder_point} AS reorder_point FROM {items} i WHERE i.{available} <= i.{reorder_point}) "
            f"INSERT INTO {alerts} ({', '.join(columns)}) "
            f"SELECT low.id, low.available, low.reorder_point, %s, %s FROM low "
            f"WHERE NOT EXISTS ("
            f"SELECT 1 FROM {alerts} a WHERE a.{alert_item} = low.id AND a.{alert_status} IN (%s, %s)"
            f") ORDER BY low.id ON CONFLICT DO NOTHING RETURNING id",
            [
                AlertStatus.OPEN.value,
                connection.ops.adapt_datetimefield_value(now),
                *(s.value for s in ACTIVE_ALERT_STATUSES),
            ],
        )
        raised = [row[0] for row in cursor.fetchall()]
    resolved = _resolve(
        f"SELECT a.id FROM {alerts} a JOIN {items} i ON i.{item_pk} = a.{alert_item} "
        f"WHERE i.{available} > i.{reorder_point}",
        [],
        now,
    )
    _record(raised, resolved)
    return len(raised), len(resolved)


@transaction.atomic
def acknowledge_alert(*, alert_id: int, user: AbstractBaseUser) -> LowStockAlert:
    """Mark an open alert as seen by ``user``; acknowledging it again changes nothing."""
    alert = (
        LowStockAlert.objects.select_for_update(of=("self",))
        .select_related("item__product", "acknowledged_by")
        .filter(pk=alert_id)
        .first()
    )
    if alert is None:
        raise NotFound(f"Unknown low-stock alert {alert_id}.", alert_id=alert_id)
    if alert.status == AlertStatus.RESOLVED:
        raise InvalidState(
            f"Low-stock alert {alert_id} is resolved; there is nothing to acknowledge.",
            alert_id=alert_id,
            status=alert.status,
        )
    if alert.status == AlertStatus.OPEN:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = timezone.now()
        alert.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    return alert


def acknowledge_alerts(alert_ids: Iterable[int], *, user: AbstractBaseUser) -> int:
    """Acknowledge those of the given alerts that are open (one UPDATE); returns how many."""
    return LowStockAlert.objects.filter(pk__in=list(alert_ids), status=AlertStatus.OPEN).update(
        status=AlertStatus.ACKNOWLEDGED, acknowledged_by=user, acknowledged_at=timezone.now()
    )
