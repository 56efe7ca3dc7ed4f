"""Bench data, written with set-based SQL (INSERT ... SELECT generate_series), never through the API.

Items are inserted with ``available_quantity`` / ``reserved_quantity`` already set and without ledger
rows, and the overdue reservations of ``expire_sweep`` are inserted with their holds applied directly.
That is consistent for every benchmark here (reserved == what active reservations hold), but the ledger
of this throwaway database does not add up (``check_ledger`` would report drift): no benchmark reads it.

Columns a seed statement does not name get the model's default (so a new NOT NULL column with a
default does not break the bench); a NOT NULL column without one stops the seed with its name.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import connection, transaction
from rest_framework.authtoken.models import Token

from inventory.models import InventoryItem, InventoryTransaction, Product, Warehouse
from inventory.roles import WAREHOUSE_GROUP
from reservations.models import ReservationLine, StockReservation

HOT_STOCK = 10_000_000  # hot_sku_reserve: one item, never runs out
SPREAD_STOCK = 1_000_000  # spread_reserve: each of the catalog items in the spread warehouse
EXPIRY_STOCK = 1_000  # expire_sweep: each catalog item in the expiry warehouse, before the holds
WS_STOCK = 1_000
REORDER_POINT = 10
EXPIRY_SESSION = "bench-expiry"  # session_id of the overdue reservations of expire_sweep


def q(name: str) -> str:
    return connection.ops.quote_name(name)


def table(model) -> str:
    return q(model._meta.db_table)


def execute(sql: str, params: list | tuple | None = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.rowcount


def fetchall(sql: str, params: list | tuple | None = None) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchall()


def fetchone(sql: str, params: list | tuple | None = None) -> tuple:
    rows = fetchall(sql, params)
    return rows[0]


def insert_select(model, values: dict[str, str], source: str, *, returning: bool = False) -> list[int] | int:
    """``INSERT INTO <model> (...) SELECT <values> FROM <source>``: ``values`` maps field names to SQL
    expressions (written without ``%``: use ``mod()``); other columns get the model's default."""
    given = dict(values)
    columns: list[str] = []
    exprs: list[str] = []
    params: list = []
    for field in model._meta.concrete_fields:
        if getattr(field, "generated", False):
            continue
        key = field.attname if field.attname in given else field.name
        if key in given:
            columns.append(q(field.column))
            exprs.append(given.pop(key))
            continue
        if field.primary_key:
            continue
        columns.append(q(field.column))
        if field.has_default() or (not field.null and field.empty_strings_allowed):
            exprs.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            exprs.append("now()")
        elif field.null:
            exprs.append("NULL")
        else:
            raise RuntimeError(f"bench seed: {model.__name__}.{field.name} is NOT NULL and has no default; name it")
    if given:
        raise KeyError(f"bench seed: {model.__name__} has no field(s) {sorted(given)}")
    sql = f"INSERT INTO {table(model)} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM {source}"
    if returning:
        return sorted(row[0] for row in fetchall(sql + " RETURNING id", params))
    return execute(sql, params)


def contiguous(ids: list[int], what: str) -> tuple[int, int]:
    if not ids or ids[-1] - ids[0] + 1 != len(ids):
        raise RuntimeError(f"bench seed: the {what} ids are not contiguous")
    return ids[0], ids[-1]


def insert_products(prefix: str, count: int) -> tuple[int, int]:
    ids = insert_select(
        Product,
        {"sku": f"'{prefix}' || g", "name": f"'Bench product {prefix}' || g"},
        f"generate_series(1, {count}) AS g",
        returning=True,
    )
    return contiguous(ids, f"{prefix} product")


def insert_items(source: str, *, product: str, warehouse: str, available: str) -> int:
    return insert_select(
        InventoryItem,
        {
            "product_id": product,
            "warehouse_id": warehouse,
            "available_quantity": available,
            "reserved_quantity": "0",
            "reorder_point": str(REORDER_POINT),
            "last_movement_at": "now()",
        },
        source,
    )


@dataclass(frozen=True)
class BaseData:
    token: str
    warehouses: tuple[int, int]  # contiguous id range
    catalog: tuple[int, int]  # contiguous product id range: spread_reserve, cached_read, availability, expiry
    hot_product: int
    ws_product: int

    @property
    def spread_warehouse(self) -> int:
        return self.warehouses[0]

    @property
    def expiry_warehouse(self) -> int:
        return self.warehouses[0] + 1


@transaction.atomic
def seed_base(*, warehouses: int, catalog: int) -> BaseData:
    """Warehouses, the catalog (stocked in the spread and expiry warehouses), the hot and the ws item,
    and a warehouse-staff user with an API token."""
    w_ids = insert_select(
        Warehouse,
        {
            "code": "'BW' || lpad(g::text, 3, '0')",
            "name": "'Bench warehouse ' || g",
            "priority": "g",
            "is_active": "true",
        },
        f"generate_series(1, {warehouses}) AS g",
        returning=True,
    )
    w_range = contiguous(w_ids, "warehouse")
    spread_w, expiry_w = w_range[0], w_range[0] + 1
    lo, hi = insert_products("BENCH-", catalog)
    hot, _ = insert_products("BENCH-HOT-", 1)
    ws, _ = insert_products("BENCH-WS-", 1)
    insert_items(f"generate_series({lo}, {hi}) AS p", product="p", warehouse=str(spread_w), available=str(SPREAD_STOCK))
    insert_items(f"generate_series({lo}, {hi}) AS p", product="p", warehouse=str(expiry_w), available=str(EXPIRY_STOCK))
    insert_items(f"generate_series({hot}, {hot}) AS p", product="p", warehouse=str(spread_w), available=str(HOT_STOCK))
    insert_items(f"generate_series({ws}, {ws}) AS p", product="p", warehouse=str(spread_w), available=str(WS_STOCK))

    user = User.objects.create_user("bench", email="bench@example.invalid")
    user.groups.add(Group.objects.get(name=WAREHOUSE_GROUP))
    token = Token.objects.create(user=user)
    return BaseData(token=token.key, warehouses=w_range, catalog=(lo, hi), hot_product=hot, ws_product=ws)


def analyze(*models) -> None:
    for model in models:
        execute(f"VACUUM ANALYZE {table(model)}")


# --- pgbench baseline tables -------------------------------------------------------------------


def create_plain_tables(rows: int, stock: int) -> None:
    """The plain equivalent of items + reservations that the pgbench baselines reserve on."""
    execute("DROP TABLE IF EXISTS bench_reservations, bench_items")
    execute(
        "CREATE TABLE bench_items (id bigint PRIMARY KEY, available integer NOT NULL CHECK (available >= 0),"
        " reserved integer NOT NULL CHECK (reserved >= 0))"
    )
    execute(
        "CREATE TABLE bench_reservations (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), item_id bigint NOT NULL,"
        " quantity integer NOT NULL CHECK (quantity > 0), status varchar(20) NOT NULL,"
        " expires_at timestamptz NOT NULL, created_at timestamptz NOT NULL DEFAULT now())"
    )
    execute("CREATE INDEX ON bench_reservations (expires_at) WHERE status = 'active'")
    execute(f"INSERT INTO bench_items SELECT g, {stock}, 0 FROM generate_series(1, {rows}) AS g")
    execute("VACUUM ANALYZE bench_items")


def reset_plain_tables(stock: int) -> None:
    execute("TRUNCATE bench_reservations")
    execute(f"UPDATE bench_items SET available = {stock}, reserved = 0 WHERE reserved <> 0 OR available <> {stock}")
    execute("VACUUM ANALYZE bench_items")
    execute("VACUUM ANALYZE bench_reservations")


# --- expire_sweep ------------------------------------------------------------------------------


@transaction.atomic
def seed_overdue_reservations(count: int, catalog: tuple[int, int], warehouse: int) -> None:
    """``count`` overdue active one-line reservations (1..3 units) spread over the catalog's items in
    ``warehouse``, with their holds applied to the items (available -> reserved)."""
    lo, hi = catalog
    span = hi - lo + 1
    insert_select(
        StockReservation,
        {
            "id": f"md5('{EXPIRY_SESSION}-' || g)::uuid",
            "session_id": f"'{EXPIRY_SESSION}'",
            "reservation_type": "'order'",
            "status": "'active'",
            # random order of expiry: a batch of the sweep touches items all over the table
            "expires_at": "now() - interval '1 hour' - random() * interval '1 hour'",
            "created_at": "now() - interval '3 hours'",
        },
        f"generate_series(1, {count}) AS g",
    )
    items = table(InventoryItem)
    insert_select(
        ReservationLine,
        {
            "reservation_id": f"md5('{EXPIRY_SESSION}-' || g)::uuid",
            "item_id": "i.id",
            "product_id": "i.product_id",
            "warehouse_id": "i.warehouse_id",
            "quantity": "1 + mod(g, 3)",
        },
        f"generate_series(1, {count}) AS g JOIN {items} i"
        f" ON i.warehouse_id = {warehouse} AND i.product_id = {lo} + mod(g * 7919, {span})",
    )
    execute(
        f"UPDATE {items} i SET available_quantity = i.available_quantity - s.q,"
        f" reserved_quantity = i.reserved_quantity + s.q FROM ("
        f"SELECT l.item_id, sum(l.quantity) AS q FROM {table(ReservationLine)} l"
        f" JOIN {table(StockReservation)} r ON r.id = l.reservation_id"
        f" WHERE r.session_id = %s GROUP BY l.item_id) s WHERE i.id = s.item_id",
        [EXPIRY_SESSION],
    )


def copy_expiry_tables(warehouse: int) -> None:
    """Plain copies (CREATE TABLE AS) of the overdue reservations, their lines and the expiry warehouse's
    items, with the indexes the hand-written statement needs."""
    execute("DROP TABLE IF EXISTS bench_exp_reservations, bench_exp_lines, bench_exp_items")
    execute(
        f"CREATE TABLE bench_exp_reservations AS SELECT * FROM {table(StockReservation)} WHERE session_id = %s",
        [EXPIRY_SESSION],
    )
    execute("ALTER TABLE bench_exp_reservations ADD PRIMARY KEY (id)")
    execute("CREATE INDEX ON bench_exp_reservations (expires_at) WHERE status = 'active'")
    execute(
        f"CREATE TABLE bench_exp_lines AS SELECT l.* FROM {table(ReservationLine)} l"
        " JOIN bench_exp_reservations r ON r.id = l.reservation_id"
    )
    execute("ALTER TABLE bench_exp_lines ADD PRIMARY KEY (id)")
    execute("CREATE INDEX ON bench_exp_lines (reservation_id)")
    execute(f"CREATE TABLE bench_exp_items AS SELECT * FROM {table(InventoryItem)} WHERE warehouse_id = {warehouse}")
    execute("ALTER TABLE bench_exp_items ADD PRIMARY KEY (id)")
    for name in ("bench_exp_reservations", "bench_exp_lines", "bench_exp_items"):
        execute(f"VACUUM ANALYZE {name}")


# The same state change as the sweep, set-based, in one statement.
RAW_EXPIRE_SQL = """
WITH expired AS (
    UPDATE bench_exp_reservations SET status = 'expired', released_at = now()
    WHERE status = 'active' AND expires_at <= now()
    RETURNING id
), moved AS (
    SELECT l.item_id, sum(l.quantity) AS q
    FROM bench_exp_lines l JOIN expired e ON e.id = l.reservation_id
    GROUP BY l.item_id
)
UPDATE bench_exp_items i
SET available_quantity = i.available_quantity + moved.q,
    reserved_quantity = i.reserved_quantity - moved.q,
    updated_at = now()
FROM moved WHERE i.id = moved.item_id
"""


# --- low_stock_scan ----------------------------------------------------------------------------


@transaction.atomic
def seed_scan_items(products: int, warehouses: tuple[int, int]) -> tuple[int, int]:
    """``products`` more products stocked in every warehouse of the range; about 5 % of these items
    are at or below their reorder point. Returns the product id range."""
    lo, hi = insert_products("BENCH-SCAN-", products)
    w_lo, w_hi = warehouses
    insert_items(
        f"generate_series({lo}, {hi}) AS p CROSS JOIN generate_series({w_lo}, {w_hi}) AS w",
        product="p",
        warehouse="w",
        available=f"CASE WHEN mod(p * 31 + w * 17, 20) = 0 THEN mod(p + w, {REORDER_POINT + 1})"
        " ELSE 100 + mod(p * 7 + w, 900) END",
    )
    return lo, hi


# The low-stock scan's baseline does the same work by hand: find the low items, insert their alerts,
# insert an event per alert with the same JSON, into plain tables with the real ones' indexes.
def seed_sales_history(catalog: tuple[int, int], warehouse: int, *, start, days: int) -> int:
    """Sale rows for the catalog's items in ``warehouse`` over ``days`` days from ``start``: steady,
    intermittent and late-starting demand (by product id), so every forecast method is exercised."""
    lo, hi = catalog
    return insert_select(
        InventoryTransaction,
        {
            "transaction_number": "'BF-' || p || '-' || d",
            "product_id": "p",
            "warehouse_id": str(warehouse),
            "transaction_type": "'sale'",
            "quantity_change": "-(1 + mod(p * 7 + d * 3, 5))",
            "previous_quantity": "10",
            "new_quantity": "10 - (1 + mod(p * 7 + d * 3, 5))",
            "created_at": f"'{start.isoformat()}'::timestamptz + make_interval(days => d, hours => 12)",
        },
        f"generate_series({lo}, {hi}) AS p CROSS JOIN generate_series(0, {days - 1}) AS d"
        # thirds of the catalog: daily sales, sales one day in four, sales from day 60 on
        " WHERE CASE mod(p, 3) WHEN 0 THEN true WHEN 1 THEN mod(d + p, 4) = 0 ELSE d >= 60 END",
    )


RAW_SCAN_TABLES_SQL = """
DROP TABLE IF EXISTS bench_scan_alerts, bench_scan_events;
CREATE TABLE bench_scan_alerts (id bigserial PRIMARY KEY, item_id bigint NOT NULL, current_quantity integer NOT NULL,
    reorder_point integer NOT NULL, status varchar(20) NOT NULL, created_at timestamptz NOT NULL);
CREATE UNIQUE INDEX ON bench_scan_alerts (item_id) WHERE status IN ('open', 'acknowledged');
CREATE TABLE bench_scan_events (id bigint PRIMARY KEY, txid bigint NOT NULL, type varchar(40) NOT NULL,
    created_at timestamptz NOT NULL, product_id bigint, warehouse_id bigint, item_id bigint, data jsonb NOT NULL);
CREATE INDEX ON bench_scan_events (product_id, id);
CREATE INDEX ON bench_scan_events (warehouse_id, id);
CREATE INDEX ON bench_scan_events (created_at);
"""
RAW_LOW_STOCK_SQL = """
WITH low AS MATERIALIZED (
    SELECT i.id, i.product_id, i.warehouse_id, i.available_quantity, i.reorder_point, p.sku
    FROM inventory_inventoryitem i JOIN inventory_product p ON p.id = i.product_id
    WHERE i.available_quantity <= i.reorder_point
), a AS (
    INSERT INTO bench_scan_alerts (item_id, current_quantity, reorder_point, status, created_at)
    SELECT id, available_quantity, reorder_point, 'open', now() FROM low ORDER BY id
    RETURNING id, item_id, current_quantity, reorder_point, status
)
INSERT INTO bench_scan_events (id, txid, type, created_at, product_id, warehouse_id, item_id, data)
SELECT a.id, 0, 'low_stock.raised', now(), low.product_id, low.warehouse_id, low.id, jsonb_build_object(
    'alert_id', a.id, 'status', a.status, 'item_id', a.item_id, 'product_id', low.product_id, 'sku', low.sku,
    'warehouse_id', low.warehouse_id, 'current_quantity', low.available_quantity, 'reorder_point', low.reorder_point,
    'quantity_when_raised', a.current_quantity, 'reorder_point_when_raised', a.reorder_point)
FROM a JOIN low ON low.id = a.item_id
"""
