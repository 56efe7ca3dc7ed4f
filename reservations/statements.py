"""Reserve, confirm and release as one PostgreSQL statement each (the checkout's hot path).

Each statement locks the rows it needs in the global order (the reservation, then items by id),
moves the units under a condition, writes the reservation, its lines, the ledger rows and the
events (``inventory.updated`` per item, ``reservation.*``), and returns the items' new state, so
the request needs one round trip plus COMMIT and reads nothing back afterwards. What the
statement cannot decide (a shortage, an unknown id, a reservation that is not active) comes back
as "nothing done"; the caller rolls back and asks the slower path why (a refusal may cost more).

On SQLite (the embedded default) ``reservations.services`` keeps its step-by-step path.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from django.db import DatabaseError, connection

from inventory.alerts import pg_alert_events_sql
from inventory.event_models import Event, EventType
from inventory.events import PG_EVENT_CTES, _dumps, _item_json_sql, pg_item_events_sql
from inventory.models import (
    ACTIVE_ALERT_STATUSES,
    AlertStatus,
    InventoryItem,
    InventoryTransaction,
    LowStockAlert,
    Product,
    TransactionType,
)
from reservations.access import EVENT_OWNER_KEY
from reservations.models import ReservationLine, ReservationStatus, StockReservation

_ITEMS = InventoryItem._meta.db_table
_PRODUCTS = Product._meta.db_table
_LEDGER = InventoryTransaction._meta.db_table
_EVENTS = Event._meta.db_table
_RESERVATIONS = StockReservation._meta.db_table
_LINES = ReservationLine._meta.db_table
_EVENT_COLUMNS = "id, txid, type, created_at, product_id, warehouse_id, item_id, data"


def _alert_events(source: str, first: str, *, resolve: bool) -> str:
    """CTEs that raise (and with ``resolve`` also resolve) the low-stock alerts of the items in CTE
    ``source`` as ``inventory.alerts`` does, with their events numbered after ``first``."""
    alerts = LowStockAlert._meta.db_table
    active = ", ".join(f"'{s}'" for s in ACTIVE_ALERT_STATUSES)

    sql = f"""
raised AS (
    INSERT INTO {alerts} (item_id, current_quantity, reorder_point, status, created_at)
    SELECT i.id, i.available_quantity, i.reorder_point, '{AlertStatus.OPEN.value}', %(now)s
    FROM {source} i WHERE i.available_quantity <= i.reorder_point ORDER BY i.id
    ON CONFLICT DO NOTHING RETURNING *
),
raised_events AS ({pg_alert_events_sql("raised", source, first=first, event_type=EventType.LOW_STOCK_RAISED.value)})"""
    if resolve:
        sql += f""",
resolved AS (
    UPDATE {alerts} a SET status = '{AlertStatus.RESOLVED.value}', resolved_at = %(now)s
    FROM {source} i WHERE a.item_id = i.id AND a.status IN ({active}) AND i.available_quantity > i.reorder_point
    RETURNING a.*
),
resolved_events AS ({
            pg_alert_events_sql(
                "resolved",
                source,
                first=f"{first} + (SELECT count(*) FROM raised)",
                event_type=EventType.LOW_STOCK_RESOLVED.value,
            )
        })"""
    return sql


def _ts(column: str) -> str:
    """A timestamp as DjangoJSONEncoder writes it (milliseconds, none when the microseconds are 0)."""
    return (
        f"CASE WHEN {column} IS NULL THEN NULL WHEN mod(date_part('microseconds', {column})::bigint, 1000000) = 0 "
        f"""THEN to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') """
        f"""ELSE to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END"""
    )


def _reservation_json(r: str, items: str) -> str:
    """``services.reservation_json`` in SQL, for reservation row ``r`` and its lines' JSON array ``items``."""
    return (
        f"jsonb_build_object('id', {r}.id::text, 'order_id', {r}.order_id, 'session_id', {r}.session_id, "
        f"'reservation_type', {r}.reservation_type, 'status', {r}.status, "
        f"'expires_at', {_ts(f'{r}.expires_at')}, 'created_at', {_ts(f'{r}.created_at')}, "
        f"'released_at', {_ts(f'{r}.released_at')}, 'fulfilled_at', {_ts(f'{r}.fulfilled_at')}, "
        f"'items', {items}, '{EVENT_OWNER_KEY}', {r}.created_by_id)"
    )


# --- reserve -----------------------------------------------------------------------------------------


# The statement refuses by raising (reservations_refuse, migration 0004): PostgreSQL then undoes all it
# did, so each can run on its own in autocommit (one round trip, no BEGIN or COMMIT of ours).
REFUSE = "reservations_refuse"
REFUSAL_SQLSTATE = "P0001"  # raise_exception
SHORT = "insufficient_stock"  # a line is short, or names an unknown product or warehouse
TAKEN = "order_already_reserved"  # the order has an active reservation already
UNMOVED = "held_units_missing"  # an item holds fewer reserved units than the lines (never expected)
NOT_ACTIVE = "not_active"  # no active, unexpired reservation (of this owner) with this id


@dataclass(frozen=True)
class Outcome:
    """What a statement did: ``refused`` names why it did nothing ("" when it did it all)."""

    refused: str
    items: list[SimpleNamespace]  # the items' new state, with ``taken`` and ``payload`` (item JSON)
    rows: list[tuple] = ()  # statement-specific extra columns


def _run(sql: str, params: dict[str, Any]) -> list[tuple] | str:
    """Execute; the refusal's reason when the statement refused by raising (and so changed nothing).

    The usual refusals (a shortage, an order already reserved, a reservation that is not active) are
    decided before anything is written and come back as rows, error-free: inside a transaction (an
    Idempotency-Key) the statement then needs no savepoint. The raised ones are races or broken
    invariants; inside a transaction they abort it, so they are raised as errors the caller cannot
    continue past.
    """
    try:
        with _binding_cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    except DatabaseError as exc:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) != REFUSAL_SQLSTATE:
            raise
        reason = str(cause.diag.message_primary)
        if connection.in_atomic_block or reason == UNMOVED:
            raise _refusal_error(reason) from exc
        return reason


# Django turns psycopg's prepared statements off (poolers in transaction mode cannot keep them); a
# threshold no query reaches keeps them off for everything but what asks with ``prepare=True``.
_ONLY_WHEN_ASKED = 2**31 - 1


@functools.cache
def _preparing_cursor_class() -> type:
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparingCursor(ServerBindingCursor):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            return super().execute(query, params, **{**kwargs, "prepare": True})

    try:  # the query metrics of django_prometheus' backend, as its own cursors have them
        from django_prometheus.db.common import ExportingCursorWrapper
    except ImportError:  # pragma: no cover - the app is always installed here
        return PreparingCursor
    return ExportingCursorWrapper(PreparingCursor, connection.alias, connection.vendor)


def _binding_cursor() -> Any:
    """A cursor that binds parameters on the server and runs the statement prepared: PostgreSQL then
    parses and plans each shape of these ~6 KB statements once per connection, not on every call
    (planning took about as long as running: 0.9 ms vs 0.8 ms for a one-line hold)."""
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _ONLY_WHEN_ASKED
    return connection._prepare_cursor(_preparing_cursor_class()(raw))


def _refusal_error(reason: str) -> Exception:
    from inventory.exceptions import InvalidState
    from reservations.exceptions import OrderAlreadyReserved

    if reason == TAKEN:
        return OrderAlreadyReserved("The order already has an active reservation.")
    return InvalidState("Some items hold fewer reserved units than their reservations (run check_ledger).")


def _items(rows: Sequence[tuple], first: int) -> list[SimpleNamespace]:
    """Items from the columns (id, product_id, warehouse_id, available, reorder_point, taken, version, json)."""
    seen: dict[int, SimpleNamespace] = {}
    for row in rows:
        item_id, product_id, warehouse_id, available, reorder_point, taken, version, payload = row[first : first + 8]
        if item_id is None or item_id in seen:
            continue
        seen[item_id] = SimpleNamespace(
            pk=item_id,
            product_id=product_id,
            warehouse_id=warehouse_id,
            available_quantity=available,
            reorder_point=reorder_point,
            is_low_stock=available <= reorder_point,
            taken=taken,
            version=version,
            payload=payload if isinstance(payload, dict) else json.loads(payload),
        )
    return list(seen.values())


_ITEM_COLUMNS = "i.id, i.product_id, i.warehouse_id, i.available_quantity, i.reorder_point, i.taken, i.version, {json}"


def reserve(
    *,
    reservation: StockReservation,
    lines: Sequence[ReservationLine],
    event: dict[str, Any],
    event_product_id: int | None,
    event_warehouse_id: int | None,
) -> Outcome:
    """Hold every line's units and insert the reservation, its lines and events, or do nothing.

    ``lines`` are unsaved, with product, warehouse, quantity and attributes; ``event`` is the data of
    ``reservation.created``. Nothing done: a line is short or unknown, or the order already has an
    active reservation (``rows[0][0]``: whether every item was held).
    """
    values = ", ".join(["(%s::int, %s::bigint, %s::bigint, %s::int, %s::jsonb)"] * len(lines))
    params: list[Any] = []
    for n, line in enumerate(lines):
        params += [n, line.product_id, line.warehouse_id, line.quantity, _dumps(line.product_attributes)]
    named = {
        "now": reservation.created_at,
        "id": reservation.pk,
        "order_id": reservation.order_id,
        "session_id": reservation.session_id,
        "type": reservation.reservation_type,
        "expires_at": reservation.expires_at,
        "created_by": reservation.created_by_id,
        "event": _dumps(event),
        "event_product": event_product_id,
        "event_warehouse": event_warehouse_id,
    }
    # Positional VALUES and named parameters cannot be mixed: the VALUES go in as named ones too.
    for index, value in enumerate(params):
        named[f"v{index}"] = value
    values = values.replace("%s", "{}").format(*(f"%(v{i})s" for i in range(len(params))))
    sql = f"""
WITH req(n, product_id, warehouse_id, quantity, attrs) AS (VALUES {values}),
want AS MATERIALIZED (
    SELECT product_id, warehouse_id, sum(quantity)::int AS q FROM req GROUP BY product_id, warehouse_id
),
locked AS MATERIALIZED (
    SELECT i.id, i.available_quantity AS available, w.q
    FROM {_ITEMS} i JOIN want w ON i.product_id = w.product_id AND i.warehouse_id = w.warehouse_id
    ORDER BY i.id FOR NO KEY UPDATE OF i
),
-- Decided on the locked rows (their newest versions), so a refusal writes nothing and needs no error.
ok AS MATERIALIZED (
    SELECT count(*) = (SELECT count(*) FROM want) AND coalesce(bool_and(available >= q), false) AS all_held,
        NOT EXISTS (SELECT 1 FROM {_RESERVATIONS} o WHERE o.order_id = %(order_id)s
            AND o.status = '{ReservationStatus.ACTIVE.value}') AS order_free
    FROM locked
),
held AS (
    UPDATE {_ITEMS} i SET available_quantity = i.available_quantity - l.q,
        reserved_quantity = i.reserved_quantity + l.q, version = i.version + 1, updated_at = %(now)s
    FROM locked l, ok WHERE i.id = l.id AND ok.all_held AND ok.order_free AND i.available_quantity >= l.q
    RETURNING i.*, l.q AS taken
),
res AS (
    INSERT INTO {_RESERVATIONS} (id, order_id, session_id, reservation_type, status, expires_at, created_at,
        created_by_id)
    SELECT %(id)s, %(order_id)s, %(session_id)s, %(type)s, '{ReservationStatus.ACTIVE.value}', %(expires_at)s,
        %(now)s, %(created_by)s
    FROM ok WHERE ok.all_held AND ok.order_free
    ON CONFLICT (order_id) WHERE status = '{ReservationStatus.ACTIVE.value}' AND order_id IS NOT NULL DO NOTHING
    RETURNING id
),
lns AS (
    INSERT INTO {_LINES} (reservation_id, item_id, product_id, warehouse_id, quantity, product_attributes)
    SELECT res.id, h.id, r.product_id, r.warehouse_id, r.quantity, r.attrs
    FROM res, req r JOIN held h ON h.product_id = r.product_id AND h.warehouse_id = r.warehouse_id
    ORDER BY r.n
    RETURNING id
),
{PG_EVENT_CTES},
item_events AS ({pg_item_events_sql("(SELECT held.* FROM held, res)", now="%(now)s")}),
reservation_event AS (
    INSERT INTO {_EVENTS} ({_EVENT_COLUMNS})
    SELECT base.last + (SELECT count(*) FROM held) + 1, base.txid, '{EventType.RESERVATION_CREATED.value}', %(now)s,
        %(event_product)s, %(event_warehouse)s, NULL, %(event)s::jsonb
    FROM base, res
),
booked AS (SELECT held.* FROM held, res),
{_alert_events("booked", "base.last + (SELECT count(*) FROM held) + 1", resolve=False)}
SELECT ok.all_held, ok.order_free,
    -- Only a concurrent insert of the same order can get here (the unique index): undo the holds.
    CASE WHEN ok.all_held AND ok.order_free AND (SELECT count(*) FROM res) = 0 THEN {REFUSE}('{TAKEN}') END,
    {_ITEM_COLUMNS.format(json=_item_json_sql())}
FROM ok LEFT JOIN (held i JOIN {_PRODUCTS} p ON p.id = i.product_id) ON ok.all_held AND ok.order_free
"""
    rows = _run(sql, named)
    if isinstance(rows, str):
        return Outcome(rows, [])
    all_held, order_free = rows[0][0], rows[0][1]
    if not order_free:
        return Outcome(TAKEN, [])
    if not all_held:
        return Outcome(SHORT, [])
    return Outcome("", _items(rows, 3), rows)


# --- confirm, release, expire ---------------------------------------------------------------------------

# A ledger number as ``inventory.services.new_transaction_number`` makes them (Crockford base32); the
# reference to ``ln.id`` makes PostgreSQL draw new characters for every row.
_TX_NUMBER = (
    "'TX-' || to_char(%(now)s::timestamptz AT TIME ZONE 'UTC', 'YYYYMMDD') || '-' || "
    "(SELECT string_agg(substr('0123456789ABCDEFGHJKMNPQRSTVWXYZ', 1 + floor(random() * 32)::int, 1), '') "
    "FROM generate_series(1, 10) WHERE ln.id IS NOT NULL)"
)

RESERVATION_COLUMNS = [field.column for field in StockReservation._meta.concrete_fields]


def _ending_sql(*, pick: str, status: str, stamp: str, sale: bool, event_type: str, final: str) -> str:
    """The statement that ends the reservations ``pick`` selects (a WHERE clause on the table) with
    ``status``: their units go back to available, or with ``sale`` off the shelf with ledger rows;
    ``inventory.updated``, ``reservation.*`` and low-stock events; ``final`` is the SELECT."""
    if sale:
        move = "reserved_quantity = i.reserved_quantity - l.q, last_movement_at = %(now)s"
    else:
        move = "reserved_quantity = i.reserved_quantity - l.q, available_quantity = i.available_quantity + l.q"
    ledger = ""
    if sale:
        # Each line its own row, chained: a line's previous on-hand is the item's before the statement
        # less the lines of the same item before it.
        ledger = f""",
ledger AS (
    INSERT INTO {_LEDGER} (transaction_number, product_id, warehouse_id, transaction_type, quantity_change,
        previous_quantity, new_quantity, reference_type, reference_id, reason, notes, created_by_id, created_at,
        batch_number)
    SELECT {_TX_NUMBER}, ln.product_id, ln.warehouse_id, '{TransactionType.SALE.value}', -ln.quantity,
        u.before - ln.before_line, u.before - ln.before_line - ln.quantity,
        'reservation', ln.reservation_id::text,
        CASE WHEN r.order_id IS NULL THEN 'Reservation confirmed' ELSE 'Order ' || r.order_id END,
        '', %(user)s, %(now)s, ''
    FROM (SELECT l2.*, coalesce(sum(l2.quantity) OVER (PARTITION BY l2.item_id ORDER BY l2.id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before_line FROM lines l2) ln
    JOIN r ON r.id = ln.reservation_id
    JOIN (SELECT id, total_quantity + taken AS before FROM moved) u ON u.id = ln.item_id
    ORDER BY ln.id
)"""
    line_json = (
        "jsonb_agg(jsonb_build_object('product_id', ln.product_id, 'warehouse_id', ln.warehouse_id, "
        "'quantity', ln.quantity, 'product_attributes', ln.product_attributes) ORDER BY ln.id)"
    )
    return f"""
WITH r AS (
    UPDATE {_RESERVATIONS} s SET status = '{status}', {stamp}
    WHERE {pick}
    RETURNING s.*
),
lines AS MATERIALIZED (SELECT ln.* FROM {_LINES} ln JOIN r ON ln.reservation_id = r.id),
per_reservation AS (
    SELECT ln.reservation_id, {line_json} AS items,
        CASE WHEN count(DISTINCT ln.product_id) = 1 THEN min(ln.product_id) END AS product_id,
        CASE WHEN count(DISTINCT ln.warehouse_id) = 1 THEN min(ln.warehouse_id) END AS warehouse_id
    FROM lines ln GROUP BY ln.reservation_id
),
want AS (SELECT item_id, sum(quantity)::int AS q FROM lines GROUP BY item_id),
locked AS MATERIALIZED (
    SELECT i.id, w.q FROM {_ITEMS} i JOIN want w ON w.item_id = i.id ORDER BY i.id FOR NO KEY UPDATE OF i
),
moved AS (
    UPDATE {_ITEMS} i SET {move}, version = i.version + 1, updated_at = %(now)s
    FROM locked l WHERE i.id = l.id AND i.reserved_quantity >= l.q
    RETURNING i.*, l.q AS taken
){ledger},
{PG_EVENT_CTES},
item_events AS ({pg_item_events_sql("moved", now="%(now)s")}),
reservation_events AS (
    INSERT INTO {_EVENTS} ({_EVENT_COLUMNS})
    SELECT base.last + (SELECT count(*) FROM moved) + row_number() OVER (ORDER BY r.created_at, r.id), base.txid,
        '{event_type}', %(now)s, pr.product_id, pr.warehouse_id, NULL,
        {_reservation_json("r", "pr.items")}
    FROM base, r JOIN per_reservation pr ON pr.reservation_id = r.id
),
{_alert_events("moved", "base.last + (SELECT count(*) FROM moved) + (SELECT count(*) FROM r)", resolve=not sale)}
{final}
"""


def finish(
    *,
    reservation_id: Any,
    now: datetime,
    confirm: bool,
    user_id: int | None,
    owner_id: int | None,
) -> Outcome:
    """Confirm (``sale`` ledger rows; reserved and on hand go down) or release (reserved back to
    available) an active, unexpired reservation, with its events; nothing done otherwise.

    ``owner_id``: only a reservation that user created. ``rows``: one per line, the reservation's
    columns first (``RESERVATION_COLUMNS``), then the line's, then the item's.
    """
    owned = "AND s.created_by_id = %(owner)s" if owner_id is not None else ""
    # A confirm of lot-tracked units picks lots (first-expired-first-out) in Python: this statement then
    # does nothing and the step-by-step path takes it.
    untracked = (
        f" AND NOT EXISTS (SELECT 1 FROM {_LINES} tl JOIN {_PRODUCTS} tp ON tp.id = tl.product_id "
        "WHERE tl.reservation_id = s.id AND tp.track_lots)"
    )
    final = f"""
SELECT CASE WHEN (SELECT count(*) FROM want) = (SELECT count(*) FROM moved) THEN true
        ELSE {REFUSE}('{UNMOVED}') END,
    {", ".join(f"r.{c}" for c in RESERVATION_COLUMNS)},
    ln.id, ln.item_id, ln.product_id, ln.warehouse_id, ln.quantity, ln.product_attributes,
    {_ITEM_COLUMNS.format(json=_item_json_sql())}
FROM r JOIN lines ln ON ln.reservation_id = r.id
    JOIN moved i ON i.id = ln.item_id JOIN {_PRODUCTS} p ON p.id = i.product_id
ORDER BY ln.id"""
    sql = _ending_sql(
        pick=f"s.id = %(id)s AND s.status = '{ReservationStatus.ACTIVE.value}' AND s.expires_at > %(now)s {owned}"
        + (untracked if confirm else ""),
        status=(ReservationStatus.FULFILLED if confirm else ReservationStatus.RELEASED).value,
        stamp="fulfilled_at = %(now)s" if confirm else "released_at = %(now)s, released_by_id = %(user)s",
        sale=confirm,
        event_type=(EventType.RESERVATION_CONFIRMED if confirm else EventType.RESERVATION_RELEASED).value,
        final=final,
    )
    params = {"id": reservation_id, "now": now, "user": user_id, "owner": owner_id}
    rows = _run(sql, params)
    if isinstance(rows, str):
        return Outcome(rows, [])
    if not rows:
        return Outcome(NOT_ACTIVE, [])  # nothing matched: no statement effect to undo
    return Outcome("", _items(rows, 1 + len(RESERVATION_COLUMNS) + 6), rows)


def expire_overdue(*, now: datetime, limit: int, holding_products: Sequence[int] | None = None) -> int:
    """Expire up to ``limit`` overdue active reservations (oldest expiry first) in one statement;
    returns how many. Rows another transaction holds are skipped (SKIP LOCKED), so sweeps run side by
    side. ``holding_products``: only reservations with a line of one of these products."""
    holding = ""
    if holding_products is not None:
        holding = f"AND o.id IN (SELECT reservation_id FROM {_LINES} WHERE product_id = ANY(%(products)s))"
    # = ANY(ARRAY(...)): the ids are picked once, then fetched by primary key; with IN (...) the
    # planner hashed the batch and scanned the whole reservations table for it.
    pick = (
        f"s.id = ANY(ARRAY(SELECT o.id FROM {_RESERVATIONS} o WHERE o.status = '{ReservationStatus.ACTIVE.value}' "
        f"AND o.expires_at <= %(now)s {holding} ORDER BY o.expires_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED))"
    )
    sql = _ending_sql(
        pick=pick,
        status=ReservationStatus.EXPIRED.value,
        stamp="released_at = %(now)s",
        sale=False,
        event_type=EventType.RESERVATION_EXPIRED.value,
        final=f"""SELECT (SELECT count(*) FROM r), CASE WHEN (SELECT count(*) FROM want) = (SELECT count(*) FROM moved)
        THEN true ELSE {REFUSE}('{UNMOVED}') END""",
    )
    params = {"now": now, "limit": limit, "products": list(holding_products or [])}
    rows = _run(sql, params)
    return rows[0][0]


def reservation_from_row(row: tuple) -> StockReservation:
    """The reservation (as updated) from a row of ``finish``."""
    values = row[1 : 1 + len(RESERVATION_COLUMNS)]
    return StockReservation.from_db("default", [f.attname for f in StockReservation._meta.concrete_fields], values)


def lines_from_rows(rows: Sequence[tuple]) -> list[ReservationLine]:
    start = 1 + len(RESERVATION_COLUMNS)
    lines = []
    for row in rows:
        line_id, item_id, product_id, warehouse_id, quantity, attributes = row[start : start + 6]
        lines.append(
            ReservationLine(
                id=line_id,
                reservation_id=row[1],
                item_id=item_id,
                product_id=product_id,
                warehouse_id=warehouse_id,
                quantity=quantity,
                product_attributes=json.loads(attributes) if isinstance(attributes, str) else attributes,
            )
        )
    return lines
