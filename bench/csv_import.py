"""``csv_import_10k``: a 10,000-row CSV file previewed and applied through the back office's own view.

The file is posted to ``/admin/inventory/import/`` with Django's test client in this process (the full
view: session, permission check, parsing, the three look-ups, the preview page, the kept file, then
Apply: the file read again, the one-transaction booking with its ledger rows, alerts and events, the
summary page). The value is preview + apply. The baseline, measured in the same run, is raw COPY of
the same rows the import wrote (its 10,000 ledger rows and its 7,000 item rows) into plain tables with
the real ones' indexes, in one transaction: what storing the result costs with no application at all.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from bench import seed

if TYPE_CHECKING:  # bench.benchmarks imports this module to list it; its helpers are imported when it runs
    from bench.benchmarks import Context, Result

ROWS = 10_000
RECEIPTS = 7_000  # receipts of 7,000 products not stocked in the warehouse yet (the import creates the items),
COUNTS = 1_500  # then counts of the first 1,500 of them (each 3 below what the receipt left),
DAMAGES = ROWS - RECEIPTS - COUNTS  # and damage (-2) of the next 1,500
WAREHOUSE_CODE = "BW-CSV"
TARGET_SECONDS = 10


def _file(skus: list[str]) -> bytes:
    lines = ["sku,warehouse,quantity_change,transaction_type,counted_quantity,cost_per_unit,batch_number,reference_id"]
    for n, sku in enumerate(skus[:RECEIPTS]):
        lines.append(f"{sku},{WAREHOUSE_CODE},{10 + n % 40},purchase,,1.25,B-{n % 97},PO-{n // 100}")
    for n, sku in enumerate(skus[:COUNTS]):
        lines.append(f"{sku},{WAREHOUSE_CODE},,,{7 + n % 40},,,")
    for sku in skus[COUNTS : COUNTS + DAMAGES]:
        lines.append(f"{sku},{WAREHOUSE_CODE},-2,damage,,,,")
    return ("\n".join(lines) + "\n").encode()


def _expected_on_hand(n: int) -> int:
    received = 10 + n % 40
    if n < COUNTS:
        return received - 3
    if n < COUNTS + DAMAGES:
        return received - 2
    return received


def _raw_copy(warehouse_id: int) -> float:
    """Seconds to COPY the import's ledger and item rows into plain copies of their tables (one transaction)."""
    from django.db import connection

    from inventory.models import InventoryItem, InventoryTransaction

    ledger, items = seed.table(InventoryTransaction), seed.table(InventoryItem)
    ledger_columns = [f.column for f in InventoryTransaction._meta.concrete_fields if not f.primary_key]
    stored = [f for f in InventoryItem._meta.concrete_fields if not getattr(f, "generated", False)]
    item_columns = [f.column for f in stored if not f.primary_key]
    ledger_rows = seed.fetchall(
        f"SELECT {', '.join(ledger_columns)} FROM {ledger} WHERE warehouse_id = %s ORDER BY id", [warehouse_id]
    )
    item_rows = seed.fetchall(f"SELECT {', '.join(item_columns)} FROM {items} WHERE warehouse_id = %s", [warehouse_id])
    seed.execute(f"CREATE TABLE bench_csv_ledger (LIKE {ledger} INCLUDING ALL)")
    seed.execute(f"CREATE TABLE bench_csv_items (LIKE {items} INCLUDING ALL)")
    try:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            for table, columns, rows in (
                ("bench_csv_items", item_columns, item_rows),
                ("bench_csv_ledger", ledger_columns, ledger_rows),
            ):
                with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            cursor.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        seed.execute("DROP TABLE bench_csv_ledger, bench_csv_items")


def csv_import_10k(ctx: Context) -> Result:
    from django.contrib.auth.models import User
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from bench.benchmarks import Result, drain_note, drained_after, event_counts, newest_event_id, watch_relay
    from inventory.models import InventoryItem, InventoryTransaction, Product, Warehouse

    lo, _ = ctx.data.catalog
    skus = list(Product.objects.filter(pk__gte=lo).order_by("pk").values_list("sku", flat=True)[:RECEIPTS])
    warehouse = Warehouse.objects.create(code=WAREHOUSE_CODE, name="Bench CSV import", priority=1000)
    user = Token.objects.get(key=ctx.data.token).user
    User.objects.filter(pk=user.pk).update(is_staff=True)  # the back office is for staff
    client = Client()
    client.force_login(user)
    data = _file(skus)

    first_event = newest_event_id()
    with watch_relay(ctx) as watch:
        began = time.time()
        started = time.perf_counter()
        preview = client.post(
            "/admin/inventory/import/", {"file": SimpleUploadedFile("bench.csv", data, content_type="text/csv")}
        )
        previewed = time.perf_counter() - started
        token = re.search(rb'name="token" value="([^"]+)"', preview.content)
        if preview.status_code != 200 or token is None:
            raise RuntimeError(f"the preview was refused: {preview.status_code} {preview.content[:2000]!r}")
        started = time.perf_counter()
        applied = client.post("/admin/inventory/import/", {"token": token.group(1).decode()})
        applying = time.perf_counter() - started
        ours = previewed + applying
        last_event = newest_event_id()
        drained = drained_after(watch, last_event, since=began, timeout=ctx.relay_timeout)
    counts = event_counts(first_event, last_event)
    drain = drain_note(drained, counts, since_what="from the upload")
    print(f"   csv_import_10k: preview {previewed:.2f}s, apply {applying:.2f}s; {drain}", flush=True)

    totals = dict(InventoryItem.objects.filter(warehouse=warehouse).values_list("product__sku", "total_quantity"))
    wrong = [sku for n, sku in enumerate(skus) if totals.get(sku) != _expected_on_hand(n)]
    ledger = InventoryTransaction.objects.filter(warehouse=warehouse, reference_type="csv_import")
    (unbalanced,) = seed.fetchone(
        f"SELECT count(*) FROM {seed.table(InventoryItem)} i LEFT JOIN (SELECT product_id, sum(quantity_change) s"
        f" FROM {seed.table(InventoryTransaction)} WHERE warehouse_id = %s GROUP BY product_id) l"
        " ON l.product_id = i.product_id WHERE i.warehouse_id = %s AND coalesce(l.s, 0) <> i.total_quantity",
        [warehouse.pk, warehouse.pk],
    )
    ok = applied.status_code == 200 and b'id="import-summary"' in applied.content
    ctx.check(
        "csv_import_10k.end_state",
        ok and not wrong and ledger.count() == ROWS and unbalanced == 0 and len(totals) == RECEIPTS,
        f"apply status {applied.status_code}; {len(totals)} items, {len(wrong)} with a wrong on-hand;"
        f" {ledger.count()} ledger rows (expected {ROWS}); {unbalanced} items whose ledger does not add up",
    )
    ctx.check(
        "csv_import_10k.relay",
        all(v is not None for v in drained.values()) and counts.get("inventory.updated", 0) == RECEIPTS,
        f"{drain}; expected {RECEIPTS} inventory.updated events (one per item)",
    )
    raw = _raw_copy(warehouse.pk)
    r = None if not raw else ours / raw
    relay_took = drained.get("redis")
    notes = (
        f"{ROWS} rows ({RECEIPTS} receipts creating their items, {COUNTS} counts, {DAMAGES} damages) posted to"
        f" the import view in-process: preview {previewed:.2f}s + apply {applying:.2f}s (one transaction, with"
        f" alerts, events and the read-your-writes cache refresh); baseline = raw COPY of the same"
        f" {ROWS} ledger + {RECEIPTS} item rows into plain tables with the real ones' indexes: {raw:.2f}s;"
        f" the relay finished {'n/a' if relay_took is None else f'{relay_took:.2f} s'} after the upload"
    )
    met = ours <= TARGET_SECONDS
    return Result("csv_import_10k", ours, "s", raw, "s", r, f"<= {TARGET_SECONDS} s", met, notes)
