"""Stock from a CSV file: read it, preview what every row would change, book all rows or none.

Columns (header names, any order, case and spaces ignored): ``sku``, ``warehouse`` (its code), and per
row either ``counted_quantity`` (a cycle count of the on-hand) or ``quantity_change`` with
``transaction_type`` (purchase, return, adjustment, damage, theft, expired); optional ``cost_per_unit``,
``batch_number``, ``expiry_date`` (YYYY-MM-DD), ``reference_id``, ``reason``. Comma, semicolon or tab
separated, UTF-8 (a BOM is fine). Numbers follow the back office's rules (``inventory.forms``).

A lot-tracked product's rows name their lot as the services do: a receipt (any inbound row) and a count
need ``batch_number`` (a count is of that batch), ``expiry_date`` too when its lots must carry one;
outbound rows take the batch named, or the earliest expiry first.

The preview reads the file with four queries whatever its length (products, warehouses, items, the
tracked items' lots) and plays the rows in order against the current stock and lots, so a count after a
receipt of the same item sees the receipt. Apply books the same rows through ``services.apply_stock_lines``
in one transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
import secrets
import zlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.cache import cache
from django.utils import timezone

from inventory import services
from inventory.exceptions import DomainError, QuantityMismatch
from inventory.forms import DecimalInputField, WholeNumberField
from inventory.models import InventoryItem, Product, StockLot, TransactionType, Warehouse
from inventory.services.lines import items_filter

logger = logging.getLogger(__name__)

REFERENCE_TYPE = "csv_import"  # reference_type of the ledger rows an import writes
MAX_ROWS = 20_000
MAX_BYTES = 5 * 1024 * 1024
REQUIRED = ("sku", "warehouse")
COUNT = "counted_quantity"
CHANGE = ("quantity_change", "transaction_type")
OPTIONAL = ("cost_per_unit", "batch_number", "expiry_date", "reference_id", "reason")
COLUMNS = (*REQUIRED, COUNT, *CHANGE, *OPTIONAL)
CHANGE_TYPES = tuple(t.value for t in services.ADJUSTABLE_TYPES)
_LENGTHS = {"batch_number": 100, "reference_id": 100, "reason": 255}
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_QUANTITY = WholeNumberField()
_COST = DecimalInputField(max_digits=10, decimal_places=2, min_value=0)


class ImportFileError(Exception):
    """The file as a whole cannot be read (encoding, header, size): no row is looked at."""


@dataclass
class Row:
    """One data row of the file and, after the preview, what it would change."""

    line: int  # line number in the file (the header is line 1)
    sku: str
    warehouse_code: str
    kind: str = ""  # "count" or "change" (empty: neither quantity given)
    counted_quantity: int | None = None
    quantity_change: int | None = None
    transaction_type: str = ""
    cost_per_unit: Decimal | None = None
    batch_number: str = ""
    expiry_date: date | None = None
    reference_id: str = ""
    reason: str = ""
    errors: list[str] = field(default_factory=list)
    product_id: int | None = None
    warehouse_id: int | None = None
    tracked: bool = False  # the product is lot-tracked
    before: int | None = None  # on hand before this row (after the rows above it)
    after: int | None = None
    lot_before: int | None = None  # a lot-tracked count's batch: its units before this row
    known_expiry: date | None = None  # the named batch's expiry, shown when the row gives none

    @property
    def batch_label(self) -> str:
        """The batch a row names, as the preview lists it: with its expiry, and for a count what it held."""
        if not self.batch_number:
            return "earliest expiry first" if self.tracked and self.kind == "change" and not self.errors else ""
        parts = [self.batch_number]
        if expiry := self.expiry_date or self.known_expiry:
            parts.append(f"exp. {expiry.isoformat()}")
        if self.lot_before is not None:
            parts.append(f"held {self.lot_before}")
        return ", ".join(parts)

    @property
    def expected(self) -> int | None:
        """What a count is checked against when applied: the on hand, or for a lot-tracked product the batch's units."""
        if not self.is_count:
            return None
        return self.lot_before if self.tracked else self.before

    @property
    def is_count(self) -> bool:
        return self.kind == "count"

    @property
    def change(self) -> int | None:
        return None if self.before is None or self.after is None else self.after - self.before

    @property
    def type_label(self) -> str:
        kind = TransactionType.COUNT if self.is_count else self.transaction_type
        return TransactionType(kind).label if kind in TransactionType.values else self.transaction_type


@dataclass
class Preview:
    rows: list[Row]
    sha256: str
    filename: str

    @property
    def error_rows(self) -> list[Row]:
        return [r for r in self.rows if r.errors]

    @property
    def units_in(self) -> int:
        return sum(r.change for r in self.rows if r.change and r.change > 0)

    @property
    def units_out(self) -> int:
        return -sum(r.change for r in self.rows if r.change and r.change < 0)

    @property
    def items(self) -> int:
        return len({(r.product_id, r.warehouse_id) for r in self.rows if r.product_id and r.warehouse_id})

    @property
    def counts(self) -> int:
        return sum(1 for r in self.rows if r.is_count)


@dataclass(frozen=True)
class Summary:
    rows: int
    ledger_rows: int
    units_in: int
    units_out: int
    items: int
    import_id: str
    filename: str


# --- reading ----------------------------------------------------------------------------------------


def decode(data: bytes) -> str:
    if not data.strip():
        raise ImportFileError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise ImportFileError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportFileError(
            "The file is not UTF-8 text. Save it as “CSV UTF-8 (comma delimited)” and upload it again."
        ) from None
    if "\x00" in text:
        raise ImportFileError("The file is not a CSV text file.")
    return text


def _dialect(header_line: str) -> str:
    counts = {sep: header_line.count(sep) for sep in (",", ";", "\t")}
    return max(counts, key=counts.get)


def _header(cells: list[str]) -> list[str]:
    names = [re.sub(r"\s+", "_", c.strip().lower()) for c in cells]
    if duplicated := sorted(n for n, k in Counter(names).items() if k > 1 and n):
        raise ImportFileError(f"The header names {', '.join(duplicated)} more than once.")
    if unknown := [n for n in names if n and n not in COLUMNS]:
        raise ImportFileError(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}. Columns: {', '.join(COLUMNS)}."
        )
    if missing := [n for n in REQUIRED if n not in names]:
        raise ImportFileError(f"Missing column{'s' if len(missing) > 1 else ''} {', '.join(missing)}.")
    if COUNT not in names and not all(n in names for n in CHANGE):
        if "quantity_change" in names:
            raise ImportFileError("quantity_change needs a transaction_type column (purchase, adjustment, …).")
        raise ImportFileError(
            "Missing quantity columns: counted_quantity (a count), or quantity_change and transaction_type."
        )
    return names


def _text(row: Row, name: str, value: str) -> str:
    if len(value) > (limit := _LENGTHS[name]):
        row.errors.append(f"{name} is longer than {limit} characters.")
        return ""
    return value


def _whole(row: Row, name: str, value: str) -> int | None:
    try:
        number = _QUANTITY.to_python(value)
    except forms.ValidationError as exc:
        row.errors.append(f"{name} “{value}”: {' '.join(exc.messages)}")
        return None
    if abs(number) > services.MAX_QUANTITY:
        row.errors.append(f"{name} {value} is too large (at most {services.MAX_QUANTITY}).")
        return None
    return number


def _row(line: int, values: dict[str, str]) -> Row:
    """Parse one row's cells; problems are collected on the row, never raised."""
    row = Row(line=line, sku=values.get("sku", ""), warehouse_code=values.get("warehouse", ""))
    if not row.sku:
        row.errors.append("sku is empty.")
    if not row.warehouse_code:
        row.errors.append("warehouse is empty.")
    counted, change = values.get(COUNT, ""), values.get("quantity_change", "")
    kind = values.get("transaction_type", "").lower()
    if counted and change:
        row.errors.append("Fill either counted_quantity or quantity_change, not both.")
    elif counted:
        row.kind = "count"
        row.counted_quantity = _whole(row, COUNT, counted)
        if row.counted_quantity is not None and row.counted_quantity < 0:
            row.errors.append("counted_quantity cannot be negative.")
        if kind not in ("", TransactionType.COUNT):
            row.errors.append(f"A count has no transaction_type (got “{kind}”).")
    elif change:
        row.kind = "change"
        row.quantity_change = _whole(row, "quantity_change", change)
        row.transaction_type = kind
        if not kind:
            row.errors.append("transaction_type is empty.")
        elif kind not in CHANGE_TYPES:
            row.errors.append(f"transaction_type “{kind}” is not one of {', '.join(CHANGE_TYPES)}.")
        elif row.quantity_change == 0:
            row.errors.append("quantity_change is 0: nothing to book.")
        elif row.quantity_change is not None:
            if kind in services.INBOUND_ONLY and row.quantity_change < 0:
                row.errors.append(f"A {kind} adds stock: quantity_change must be positive.")
            if kind in services.OUTBOUND_ONLY and row.quantity_change > 0:
                row.errors.append(f"A {kind} removes stock: quantity_change must be negative.")
    else:
        row.errors.append("No quantity: fill counted_quantity or quantity_change.")
    if cost := values.get("cost_per_unit", ""):
        try:
            row.cost_per_unit = _COST.clean(cost)
        except forms.ValidationError as exc:
            row.errors.append(f"cost_per_unit “{cost}”: {' '.join(exc.messages)}")
    if expiry := values.get("expiry_date", ""):
        try:
            if not _ISO_DATE.fullmatch(expiry):
                raise ValueError
            row.expiry_date = date.fromisoformat(expiry)
        except ValueError:
            row.errors.append(f"expiry_date “{expiry}” is not a date written YYYY-MM-DD.")
    for name in ("batch_number", "reference_id", "reason"):
        setattr(row, name, _text(row, name, values.get(name, "")))
    return row


def parse(text: str) -> list[Row]:
    """The file's data rows (blank lines skipped); raises ImportFileError when the file cannot be read."""
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_dialect(first_line), strict=True)
    try:
        header = _header(next(reader, []))
        rows: list[Row] = []
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if len(rows) == MAX_ROWS:
                raise ImportFileError(f"The file has more than {MAX_ROWS} rows; split it.")
            values = {name: cell.strip() for name, cell in zip(header, cells, strict=False) if name}
            row = _row(reader.line_num, values)
            if extra := [c for c in cells[len(header) :] if c.strip()]:
                row.errors.append(f"{len(header) + len(extra)} values but the header names {len(header)} columns.")
            rows.append(row)
    except csv.Error as exc:
        raise ImportFileError(f"Line {reader.line_num} cannot be read as CSV: {exc}.") from None
    if not rows:
        raise ImportFileError("The file has a header but no rows.")
    return rows


# --- preview ----------------------------------------------------------------------------------------


def _warehouses(codes: set[str]) -> dict[str, Warehouse]:
    """Warehouses by code as written; a code in another case matches when only one warehouse has it."""
    found = {w.code: w for w in Warehouse.objects.all()}
    by_upper: dict[str, list[Warehouse]] = {}
    for warehouse in found.values():
        by_upper.setdefault(warehouse.code.upper(), []).append(warehouse)
    result = {}
    for code in codes:
        if code in found:
            result[code] = found[code]
        elif len(candidates := by_upper.get(code.upper(), [])) == 1:
            result[code] = candidates[0]
    return result


_NEW_LOT = 2**62  # lots new in the file are received after every stored one (their ids are smaller)


@dataclass
class _Lot:
    """A lot as the preview plays the rows: its units and its place in first-expired-first-out order."""

    quantity: int
    expiry_date: date | None
    received_date: date
    order: int  # the lot's id (lots new in the file come after every stored one)

    @property
    def fefo(self) -> tuple:
        return (self.expiry_date is None, self.expiry_date or date.max, self.received_date, self.order)


def _stored_lots(keys: set[tuple[int, int]]) -> dict[tuple[int, int], dict[str, _Lot]]:
    """The lots of these (lot-tracked) items, by item and batch."""
    lots: dict[tuple[int, int], dict[str, _Lot]] = {key: {} for key in keys}
    if not keys:
        return lots
    stored = StockLot.objects.filter(item__in=InventoryItem.objects.filter(items_filter(keys))).values_list(
        "item__product_id", "item__warehouse_id", "batch_number", "quantity", "expiry_date", "received_date", "pk"
    )
    for product_id, warehouse_id, batch, quantity, expiry, received, pk in stored.iterator():
        lots[(product_id, warehouse_id)][batch] = _Lot(quantity, expiry, received, pk)
    return lots


def _play_lots(row: Row, lots: dict[str, _Lot], *, requires_expiry: bool, change: int, today: date) -> None:
    """Play a lot-tracked row's ``change`` on the item's lots, or put on the row why the services would refuse it."""
    batch, lot = row.batch_number, lots.get(row.batch_number)
    if change > 0:
        if lot is not None and row.expiry_date and lot.expiry_date not in (None, row.expiry_date):
            row.errors.append(f"Batch {batch} expires on {lot.expiry_date.isoformat()}, not {row.expiry_date}.")
            return
        expiry = row.expiry_date or (
            lot.expiry_date if lot and row.transaction_type != TransactionType.PURCHASE else None
        )
        if requires_expiry and expiry is None:
            row.errors.append(f"Lots of {row.sku} must carry an expiry date: fill expiry_date (YYYY-MM-DD).")
            return
        if lot is None:
            lot = lots[batch] = _Lot(0, expiry, today, _NEW_LOT + len(lots))
        elif lot.expiry_date is None:
            lot.expiry_date = expiry
        lot.quantity += change
        return
    wanted = -change
    if batch:
        if lot is None:
            row.errors.append(f"{row.sku} has no batch {batch} in {row.warehouse_code}.")
        elif lot.quantity < wanted:
            row.errors.append(f"Batch {batch} holds {lot.quantity}; cannot remove {wanted}.")
        else:
            lot.quantity -= wanted
        return
    # No batch: earliest expiry first, as the services take them (imports book no sales, so expired lots count).
    for lot in sorted((lot for lot in lots.values() if lot.quantity > 0), key=lambda lot: lot.fefo):
        taken = min(wanted, lot.quantity)
        lot.quantity -= taken
        wanted -= taken
        if not wanted:
            return


def preview(rows: list[Row], *, sha256: str = "", filename: str = "") -> Preview:
    """Look every row up and play them in order against the current stock and lots (nothing is written)."""
    products = {
        sku: (pk, tracked, requires_expiry)
        for sku, pk, tracked, requires_expiry in Product.objects.filter(sku__in={r.sku for r in rows if r.sku})
        .values_list("sku", "pk", "track_lots", "requires_expiry")
        .iterator()
    }
    warehouses = _warehouses({r.warehouse_code for r in rows if r.warehouse_code})
    requires_expiry: dict[int, bool] = {}
    for row in rows:
        if row.sku and row.sku not in products:
            row.errors.append(f"Unknown SKU {row.sku}.")
        if row.warehouse_code and row.warehouse_code not in warehouses:
            row.errors.append(f"Unknown warehouse {row.warehouse_code}.")
        if row.sku in products:
            row.product_id, row.tracked, requires_expiry[row.product_id] = products[row.sku]
        warehouse = warehouses.get(row.warehouse_code)
        row.warehouse_id = warehouse.pk if warehouse else None
    keys = {(r.product_id, r.warehouse_id) for r in rows if r.product_id and r.warehouse_id}
    # (available, reserved, not for sale: damaged, quality control, safety stock) per item; an item not stocked
    # yet starts at zero (a receipt or count creates it). Only available units leave, by a movement or a count.
    stock = {
        (p, w): [a, r, t - a - r]
        for p, w, a, r, t in InventoryItem.objects.filter(items_filter(keys)).values_list(
            "product_id", "warehouse_id", "available_quantity", "reserved_quantity", "total_quantity"
        )
    }
    lots = _stored_lots({(r.product_id, r.warehouse_id) for r in rows if r.tracked and r.warehouse_id})
    today = timezone.localdate()
    for row in rows:
        if row.product_id is None or row.warehouse_id is None:
            continue
        key = (row.product_id, row.warehouse_id)
        state = stock.setdefault(key, [0, 0, 0])
        available, reserved, kept_back = state
        row.before = available + reserved + kept_back
        if row.errors:  # shown with the on-hand it would start from; later rows play on without it
            continue
        inbound = row.is_count or (row.quantity_change or 0) > 0
        if row.tracked and inbound and not row.batch_number:
            what = "a count is of one batch" if row.is_count else "inbound units join a batch"
            row.errors.append(f"{row.sku} is lot-tracked: fill batch_number ({what}).")
            continue
        if row.tracked and row.batch_number in lots[key]:
            row.known_expiry = lots[key][row.batch_number].expiry_date
        if row.is_count:
            change = row.counted_quantity - row.before
            if row.tracked:
                lot = lots[key].get(row.batch_number)
                row.lot_before = lot.quantity if lot else 0
                change = row.counted_quantity - row.lot_before
            if available + change < 0:
                counted = f"{row.counted_quantity} in batch {row.batch_number}" if row.tracked else row.counted_quantity
                held = f"{reserved} are reserved"
                if kept_back:
                    held = f"{reserved + kept_back} are reserved or not for sale ({reserved} reserved)"
                row.errors.append(f"Counted {counted} but {held}.")
                continue
        else:
            change = row.quantity_change
            if available + change < 0:
                others = "".join(
                    f", {n} {what}" for n, what in ((reserved, "reserved"), (kept_back, "not for sale")) if n
                )
                row.errors.append(f"Would leave {available + change} available (only {available} available{others}).")
                continue
        if row.before + change > services.MAX_QUANTITY:
            row.errors.append(f"On hand would exceed {services.MAX_QUANTITY}.")
            continue
        if row.cost_per_unit is not None and row.cost_per_unit * abs(change) > services.MAX_TOTAL_COST:
            row.errors.append(f"cost_per_unit × {abs(change)} units is more than the ledger's largest total cost.")
            continue
        if row.tracked and change:
            _play_lots(row, lots[key], requires_expiry=requires_expiry[row.product_id], change=change, today=today)
            if row.errors:
                continue
        row.after = row.before + change
        state[0] = available + change
    return Preview(rows=rows, sha256=sha256, filename=filename)


def read(data: bytes, *, filename: str = "") -> tuple[str, Preview]:
    """Decode, parse and preview an uploaded file; returns (its text, the preview)."""
    text = decode(data)
    digest = hashlib.sha256(text.encode()).hexdigest()
    return text, preview(parse(text), sha256=digest, filename=filename)


# --- keeping the file between preview and apply -------------------------------------------------------
#
# The file's text is kept in the cache (Redis: shared by every web process, expires by itself) under a
# random key, for an hour; the page carries only a signed token naming that key, the user and the text's
# SHA-256. Not the session: it is stored in the database and read on every admin request, and a
# 10,000-row file would weigh on each. Not a hidden form field: the file would travel to the browser and
# back and run into DATA_UPLOAD_MAX_MEMORY_SIZE. Apply reads the same text again (checked against the
# hash), previews it again against the stock of that moment, and deletes the key first: a second click
# on Apply finds nothing to apply. Counts also carry the on-hand the preview showed, so a count is
# refused if its item moved between the preview and the apply.

_SALT = "inventory.csv_import"
KEEP_SECONDS = 3600


def _cache_key(key: str) -> str:
    return f"csv-import:{key}"


def keep(text: str, result: Preview, *, user: AbstractBaseUser) -> str:
    """Keep a previewed file for Apply; returns the token for the page."""
    key = secrets.token_urlsafe(16)
    expected = [r.expected for r in result.rows]
    # Compressed (a 10,000-row file shrinks about fivefold): the cache's socket timeout is short.
    packed = zlib.compress(text.encode(), 1)
    entry = {"text": packed, "filename": result.filename, "sha256": result.sha256, "expected": expected}
    try:
        cache.set(_cache_key(key), entry, timeout=KEEP_SECONDS)
    except Exception as exc:
        logger.warning("csv import: the cache is unavailable", exc_info=True)
        raise ImportFileError("The preview cannot be kept right now (cache unavailable); try again shortly.") from exc
    return signing.dumps({"key": key, "user": user.pk, "sha256": result.sha256}, salt=_SALT)


def take(token: str, *, user: AbstractBaseUser) -> tuple[str, str, list[int | None]]:
    """The kept file of ``token`` (text, file name, on-hand each count expects), once only."""
    stale = ImportFileError("This preview has expired or was applied already. Upload the file again.")
    try:
        data = signing.loads(token, salt=_SALT, max_age=KEEP_SECONDS)
    except signing.BadSignature:
        raise stale from None
    if data.get("user") != user.pk:
        raise stale
    try:
        entry = cache.get(_cache_key(data["key"]))
        # Deleting is the claim: of two clicks on Apply only one finds the key to delete.
        claimed = entry is not None and cache.delete(_cache_key(data["key"]))
    except Exception as exc:
        logger.warning("csv import: the cache is unavailable", exc_info=True)
        raise ImportFileError("The preview cannot be read right now (cache unavailable); try again shortly.") from exc
    text = zlib.decompress(entry["text"]).decode() if claimed else ""
    if not claimed or hashlib.sha256(text.encode()).hexdigest() != data["sha256"]:
        raise stale
    return text, entry["filename"], entry["expected"]


# --- apply ------------------------------------------------------------------------------------------


class ApplyRefused(Exception):
    """Nothing was booked; ``preview`` is the file previewed again, with the reason on its rows."""

    def __init__(self, message: str, preview: Preview) -> None:
        super().__init__(message)
        self.preview = preview


def _line(row: Row, *, expected: int | None, import_id: str, filename: str, today: date) -> services.StockLine:
    details = services.LedgerDetails(
        reason=row.reason,
        notes=f"CSV import {import_id} ({filename}), line {row.line}",
        reference_type=REFERENCE_TYPE,
        reference_id=row.reference_id or import_id,
        cost_per_unit=row.cost_per_unit,
        batch_number=row.batch_number,
        received_date=today if row.transaction_type == TransactionType.PURCHASE else None,
        # Blank: units added to a batch the item has keep the batch's date (services.lots).
        expiry_date=row.expiry_date,
    )
    if row.is_count:
        return services.Count(
            product_id=row.product_id,
            warehouse_id=row.warehouse_id,
            counted_quantity=row.counted_quantity,
            expected_quantity=expected,
            details=details,
        )
    return services.Movement(
        product_id=row.product_id,
        warehouse_id=row.warehouse_id,
        quantity_change=row.quantity_change,
        transaction_type=row.transaction_type,
        details=details,
    )


def apply(text: str, *, filename: str, expected: list[int | None], user: AbstractBaseUser) -> Summary:
    """Book every row of a previewed file in one transaction, or none (raises ApplyRefused)."""
    again = preview(parse(text), sha256=hashlib.sha256(text.encode()).hexdigest(), filename=filename)
    if again.error_rows:
        raise ApplyRefused("Nothing was booked: some rows are no longer valid (see below).", again)
    if len(expected) != len(again.rows):
        raise ApplyRefused("Nothing was booked: the file changed since the preview.", again)
    now = timezone.now()
    import_id = f"IMP-{now:%Y%m%d}-{secrets.token_hex(4).upper()}"
    today = timezone.localdate(now)
    lines = [
        _line(r, expected=e, import_id=import_id, filename=filename, today=today)
        for r, e in zip(again.rows, expected, strict=True)
    ]
    try:
        services.apply_stock_lines(lines, user=user)
    except DomainError as exc:
        row = again.rows[exc.data["line"]] if "line" in exc.data else None
        where = f"line {row.line} ({row.sku} in {row.warehouse_code}): " if row else ""
        if row is not None and not isinstance(exc, QuantityMismatch):
            # The preview of now missed it (stock moved between the two): the row is in error.
            row.errors.append(exc.detail)
        # A count whose item moved since the first preview is fine against the new one: Apply is offered again.
        raise ApplyRefused(f"Nothing was booked: {where}{exc.detail}", again) from exc
    changed = [r for r in again.rows if r.change]
    return Summary(
        rows=len(again.rows),
        ledger_rows=len(changed),
        units_in=again.units_in,
        units_out=again.units_out,
        items=again.items,
        import_id=import_id,
        filename=filename,
    )
