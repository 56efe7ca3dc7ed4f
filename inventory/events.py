"""The outbox: every committed change is an event row written in the same transaction as the change.

Only the write path calls this module (``inventory.services``, ``inventory.alerts``, ``inventory.catalog``,
and the reservation and transfer services). The relay (``inventory.relay``) reads the rows and does
what follows a change: cache refresh, live feed, ``stock_updates`` pub/sub, webhooks. So a change and
its announcement can never disagree, and a dead Redis or a crashed process loses nothing.

Ids: on PostgreSQL ``txid * 2**20 + n`` (the transaction's ``xid8`` and the event's place in it; see
``inventory.feed`` for why), on SQLite ``max(id) + n`` (writers there are serialised).

The request still refreshes the cache of what it changed once it commits (short timeouts), so a read
right after a write's response sees the write, as it always has.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from inventory import stock_cache
from inventory.event_models import Event, EventType
from inventory.feed import ID_SHIFT
from inventory.locks import locked
from inventory.models import InventoryItem, Product

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "inventory_events"  # PostgreSQL NOTIFY channel the relay LISTENs on
_CHUNK = 500

_EVENTS = Event._meta.db_table
_ITEMS = InventoryItem._meta.db_table
_PRODUCTS = Product._meta.db_table
_COLUMNS = "id, txid, type, created_at, product_id, warehouse_id, item_id, data"


@dataclass(frozen=True, kw_only=True)
class NewEvent:
    """An event to record; ``data`` is what consumers get."""

    type: str
    data: dict[str, Any]
    product_id: int | None = None
    warehouse_id: int | None = None
    item_id: int | None = None


# --- the SQL that numbers events -------------------------------------------------------------------

# PostgreSQL: the transaction's id, the last number it used (its events' ids share a 2**20 block), and
# a NOTIFY that wakes the relay when (and only if) the transaction commits.
PG_EVENT_CTES = f"""
tx AS MATERIALIZED (
    SELECT pg_current_xact_id()::text::bigint AS txid, pg_notify('{NOTIFY_CHANNEL}', '') AS woken
), base AS MATERIALIZED (
    SELECT tx.txid, COALESCE(
        (SELECT max(e.id) FROM {_EVENTS} e WHERE e.id >= tx.txid << {ID_SHIFT} AND e.id < (tx.txid + 1) << {ID_SHIFT}),
        (tx.txid << {ID_SHIFT}) - 1
    ) AS last
    FROM tx
)"""
_PG_BASE = f"WITH {PG_EVENT_CTES}"


def pg_item_events_sql(source: str, *, now: str) -> str:
    """``INSERT`` of ``inventory.updated`` for every item row of ``source`` (all item columns, aliased
    ``i``), numbered from ``base.last`` (``PG_EVENT_CTES``); ``now`` is the timestamp's placeholder.
    An item already changed in this transaction keeps one event, with its final state."""
    return (
        f"INSERT INTO {_EVENTS} ({_COLUMNS}) "
        f"SELECT base.last + row_number() OVER (ORDER BY i.id), base.txid, '{EventType.INVENTORY_UPDATED.value}', "
        f"{now}, i.product_id, i.warehouse_id, i.id, {_item_json_sql()} "
        f"FROM base, {source} i JOIN {_PRODUCTS} p ON p.id = i.product_id "
        f"ON CONFLICT (txid, item_id) WHERE type = '{EventType.INVENTORY_UPDATED.value}' "
        f"DO UPDATE SET data = EXCLUDED.data, created_at = EXCLUDED.created_at"
    )


def _ts_sql(column: str) -> str:
    """An ISO 8601 UTC timestamp with microseconds, as ``stock_cache.iso`` writes it."""
    if connection.vendor == "postgresql":
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]' (UTC, the fraction left out when zero).
    fraction = f"substr(substr({column}, 21) || '000000', 1, 6)"
    return f"(substr({column}, 1, 10) || 'T' || substr({column}, 12, 8) || '.' || {fraction} || 'Z')"


def _item_json_sql() -> str:
    """The item JSON (``stock_cache.item_payload``) of row ``i`` joined to product ``p``, in SQL."""
    postgres = connection.vendor == "postgresql"
    build = "jsonb_build_object" if postgres else "json_object"
    count_date = "to_char(i.last_count_date, 'YYYY-MM-DD')" if postgres else "i.last_count_date"
    pairs = [
        ("id", "i.id"),
        ("product_id", "i.product_id"),
        ("warehouse_id", "i.warehouse_id"),
        ("sku", "p.sku"),
        ("available_quantity", "i.available_quantity"),
        ("reserved_quantity", "i.reserved_quantity"),
        ("damaged_quantity", "i.damaged_quantity"),
        ("quality_control_quantity", "i.quality_control_quantity"),
        ("safety_stock_quantity", "i.safety_stock_quantity"),
        (
            "total_quantity",
            "i.available_quantity + i.reserved_quantity + i.damaged_quantity + i.quality_control_quantity "
            "+ i.safety_stock_quantity",
        ),
        ("next_expiry_date", "to_char(i.next_expiry_date, 'YYYY-MM-DD')" if postgres else "i.next_expiry_date"),
        ("reorder_point", "i.reorder_point"),
        ("reorder_quantity", "i.reorder_quantity"),
        ("max_stock_level", "i.max_stock_level"),
        ("barcode", "i.barcode"),
        ("location", f"{build}('zone', i.location_zone, 'aisle', i.location_aisle, 'shelf', i.location_shelf)"),
        ("last_count_date", count_date),
        ("last_movement_at", _ts_sql("i.last_movement_at")),
        ("updated_at", _ts_sql("i.updated_at")),
        ("version", "i.version"),
    ]
    return f"{build}(" + ", ".join(f"'{key}', {value}" for key, value in pairs) + ")"


def _sqlite_token() -> int:
    """SQLite has no transaction id: a random token, kept until the transaction commits.

    A rolled-back transaction leaves its token behind for the next one, which is harmless: none of
    its rows survived. ``on_commit`` is registered on every call because a rolled-back savepoint
    drops the callbacks registered inside it.
    """
    token = getattr(connection, "_event_tx_token", None)
    if token is None:
        token = secrets.randbits(62)
        connection._event_tx_token = token
    transaction.on_commit(partial(_forget_token, connection))
    return token


def _forget_token(conn) -> None:
    conn._event_tx_token = None


# --- recording ---------------------------------------------------------------------------------------


def items_changed(item_ids: Iterable[int]) -> None:
    """Record ``inventory.updated`` for these items with their current state (call after writing them).

    One statement for any number of items. An item changed again later in the same transaction keeps
    one event, whose data is its final state.
    """
    ids = sorted(set(item_ids))
    if not ids:
        return
    now = timezone.now()
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                source = f"(SELECT * FROM {_ITEMS} WHERE id = ANY(%s))"
                cursor.execute(f"{_PG_BASE} {pg_item_events_sql(source, now='%s')}", [now, chunk])
            else:
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    f"INSERT INTO {_EVENTS} ({_COLUMNS}) "
                    f"SELECT (SELECT COALESCE(MAX(id), 0) FROM {_EVENTS}) + row_number() OVER (ORDER BY i.id), "
                    f"%s, %s, %s, i.product_id, i.warehouse_id, i.id, {_item_json_sql()} "
                    f"FROM {_ITEMS} i JOIN {_PRODUCTS} p ON p.id = i.product_id WHERE i.id IN ({marks}) "
                    f"ON CONFLICT (txid, item_id) WHERE type = 'inventory.updated' "
                    f"DO UPDATE SET data = excluded.data, created_at = excluded.created_at",
                    [
                        _sqlite_token(),
                        EventType.INVENTORY_UPDATED.value,
                        connection.ops.adapt_datetimefield_value(now),
                        *chunk,
                    ],
                )
    transaction.on_commit(partial(refresh_cache, tuple(ids)))


def products_changed(product_ids: Iterable[int]) -> None:
    """A product field that is part of its items' JSON (the SKU) changed: every item of it changed.

    The items' versions go up so caches and consumers take the new JSON over the old.
    """
    ids = sorted(set(product_ids))
    if not ids:
        return
    # Versions bump under the items' row locks, taken in key order like every other write.
    item_ids = [item.pk for item in locked(InventoryItem.objects.filter(product_id__in=ids).only("pk"))]
    InventoryItem.objects.filter(pk__in=item_ids).update(version=F("version") + 1, updated_at=timezone.now())
    items_changed(item_ids)


def record(events: Sequence[NewEvent]) -> None:
    """Record events whose data the caller built (reservations, transfers, alerts), in order."""
    if not events:
        return
    now = timezone.now()
    for start in range(0, len(events), _CHUNK):
        chunk = events[start : start + _CHUNK]
        rows: list[Any] = []
        for n, event in enumerate(chunk, start=1):
            rows += [n, event.type, now, event.product_id, event.warehouse_id, event.item_id, _dumps(event.data)]
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                values = ", ".join(
                    ["(%s::int, %s, %s::timestamptz, %s::bigint, %s::bigint, %s::bigint, %s::jsonb)"] * len(chunk)
                )
                cursor.execute(
                    f"{_PG_BASE} INSERT INTO {_EVENTS} ({_COLUMNS}) "
                    f"SELECT base.last + v.n, base.txid, v.type, v.created_at, v.product_id, v.warehouse_id, "
                    f"v.item_id, v.data FROM base, (VALUES {values}) "
                    f"AS v(n, type, created_at, product_id, warehouse_id, item_id, data) ORDER BY v.n",
                    rows,
                )
            else:
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    f"WITH v(n, type, created_at, product_id, warehouse_id, item_id, data) AS (VALUES {values}) "
                    f"INSERT INTO {_EVENTS} ({_COLUMNS}) "
                    f"SELECT (SELECT COALESCE(MAX(id), 0) FROM {_EVENTS}) + v.n, %s, v.type, v.created_at, "
                    f"v.product_id, v.warehouse_id, v.item_id, v.data FROM v WHERE true ORDER BY v.n",
                    [*_sqlite_rows(rows), _sqlite_token()],
                )


def _sqlite_rows(rows: list[Any]) -> list[Any]:
    # SQLite stores datetimes as text; Django's adapter gives the format the rest of the table uses.
    return [connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in rows]


def _dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"))


# --- after commit, in the process that made the change -------------------------------------------------


def refresh_cache(item_ids: tuple[int, ...]) -> None:
    """Read-your-writes: refresh the cached stock of the products of these items (never raises).

    The relay does the same for every process; this only makes the writer's own next read exact.
    """
    try:
        touched_products = InventoryItem.objects.filter(pk__in=item_ids).values("product_id")
        items = stock_cache.item_rows(InventoryItem.objects.filter(product_id__in=touched_products))
        stock_cache.cache_product_items(items)
    except Exception:
        logger.exception("refreshing the stock cache failed for items %s", item_ids)


# --- retention ---------------------------------------------------------------------------------------


def purge_events(*, older_than_days: int, batch_size: int = 10_000) -> int:
    """Delete events older than the cut-off, oldest first; returns how many.

    The largest purged id is kept (``feed.PURGED_CURSOR``), so a feed reader whose cursor fell behind
    it is told (410) instead of silently missing events.
    """
    from datetime import timedelta

    from inventory.event_models import RelayCursor
    from inventory.feed import PURGED_CURSOR

    cutoff = timezone.now() - timedelta(days=older_than_days)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                Event.objects.filter(created_at__lt=cutoff).order_by("id").values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                return total
            Event.objects.filter(id__in=ids).delete()
            mark, _ = RelayCursor.objects.select_for_update().get_or_create(name=PURGED_CURSOR)
            if ids[-1] > mark.position:
                RelayCursor.objects.filter(name=PURGED_CURSOR).update(position=ids[-1], updated_at=timezone.now())
        total += len(ids)
