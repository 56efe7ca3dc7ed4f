"""Reserve, confirm, release, extend and expire stock reservations.

Quantities move only through ``inventory.services`` (hold, release, consume). Lock order is
always: reservation rows first, then inventory items in ascending primary key.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from inventory import events, stock_cache
from inventory import services as stock
from inventory.event_models import EventType
from inventory.exceptions import InsufficientStock, InvalidInput, NotFound
from inventory.locks import lock_candidates
from inventory.models import InventoryItem, Product, TransactionType, Warehouse
from reservations import access, statements
from reservations.exceptions import OrderAlreadyReserved, ReservationExpired, ReservationNotActive
from reservations.models import ReservationLine, ReservationStatus, ReservationType, StockReservation

MAX_EXPIRES_IN = 86400
SWEEP_BATCH = 1000


@dataclass(frozen=True, kw_only=True)
class LineRequest:
    """One requested line; ``warehouse_id`` None means "allocate for me"."""

    product_id: int
    quantity: int
    warehouse_id: int | None = None
    product_attributes: dict[str, Any] = field(default_factory=dict)


def _expiry(expires_in: int | None, now: datetime) -> datetime:
    seconds = settings.RESERVATION_TTL if expires_in is None else expires_in
    if not 1 <= seconds <= MAX_EXPIRES_IN:
        raise InvalidInput(f"expires_in must be between 1 and {MAX_EXPIRES_IN} seconds.", field="expires_in")
    return now + timedelta(seconds=seconds)


def _candidate_items(lines: Sequence[LineRequest]) -> list[InventoryItem]:
    """Lock every item a request may draw from: named ones, and all active warehouses of the rest."""
    condition = Q()
    for line in lines:
        if line.warehouse_id is not None:
            condition |= Q(product_id=line.product_id, warehouse_id=line.warehouse_id)
    if auto := {line.product_id for line in lines if line.warehouse_id is None}:
        condition |= Q(product_id__in=auto, warehouse__is_active=True)
    return lock_candidates(InventoryItem.objects.filter(condition))


def _allocate(lines: Sequence[LineRequest], items: list[InventoryItem]) -> list[tuple[LineRequest, InventoryItem, int]]:
    """Decide where each unit comes from; raise InsufficientStock naming every short product.

    Lines naming a warehouse are served first; the rest draw from active warehouses by
    priority, then most available, splitting across warehouses when one cannot cover a line.
    """
    by_key = {(i.product_id, i.warehouse_id): i for i in items}
    free = {i.pk: i.available_quantity for i in items}
    priorities: dict[int, int] = {}
    if any(line.warehouse_id is None for line in lines):
        priorities = dict(
            Warehouse.objects.filter(pk__in={i.warehouse_id for i in items}).values_list("pk", "priority")
        )
    allocations: list[tuple[LineRequest, InventoryItem, int]] = []
    short: dict[tuple[int, int | None], int] = defaultdict(int)
    for line in sorted(lines, key=lambda ln: ln.warehouse_id is None):
        if line.warehouse_id is not None:
            item = by_key.get((line.product_id, line.warehouse_id))
            if item is None or free[item.pk] < line.quantity:
                short[(line.product_id, line.warehouse_id)] += line.quantity
                continue
            free[item.pk] -= line.quantity
            allocations.append((line, item, line.quantity))
            continue
        options = sorted(
            (i for i in items if i.product_id == line.product_id and free[i.pk] > 0),
            key=lambda i: (priorities.get(i.warehouse_id, 0), -free[i.pk], i.warehouse_id),
        )
        if sum(free[i.pk] for i in options) < line.quantity:
            short[(line.product_id, None)] += line.quantity
            continue
        remaining = line.quantity
        for item in options:
            take = min(remaining, free[item.pk])
            free[item.pk] -= take
            allocations.append((line, item, take))
            remaining -= take
            if not remaining:
                break
    if short:
        shortages = []
        for (product_id, warehouse_id), requested in sorted(short.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            pool = [i for i in items if i.product_id == product_id and warehouse_id in (None, i.warehouse_id)]
            shortages.append(
                {
                    "product_id": product_id,
                    "warehouse_id": warehouse_id,
                    "requested": requested,
                    "available_quantity": sum(i.available_quantity for i in pool),
                }
            )
        raise InsufficientStock.for_shortages(shortages)
    return allocations


def _check_references(lines: Sequence[LineRequest]) -> None:
    product_ids = {line.product_id for line in lines}
    found = set(Product.objects.filter(pk__in=product_ids).values_list("pk", flat=True))
    if missing := product_ids - found:
        raise NotFound(f"Unknown product {min(missing)}.", product_id=min(missing))
    warehouse_ids = {line.warehouse_id for line in lines if line.warehouse_id is not None}
    found = set(Warehouse.objects.filter(pk__in=warehouse_ids).values_list("pk", flat=True))
    if missing := warehouse_ids - found:
        raise NotFound(f"Unknown warehouse {min(missing)}.", warehouse_id=min(missing))


def reservation_json(reservation: StockReservation, lines: Sequence[ReservationLine]) -> dict[str, Any]:
    """The reservation as the API shows it (the ``data`` of ``reservation.*`` events)."""
    return {
        "id": str(reservation.pk),
        "order_id": reservation.order_id,
        "session_id": reservation.session_id,
        "reservation_type": reservation.reservation_type,
        "status": reservation.status,
        "expires_at": reservation.expires_at,
        "created_at": reservation.created_at,
        "released_at": reservation.released_at,
        "fulfilled_at": reservation.fulfilled_at,
        "items": [
            {
                "product_id": line.product_id,
                "warehouse_id": line.warehouse_id,
                "quantity": line.quantity,
                "product_attributes": line.product_attributes,
            }
            for line in lines
        ],
    }


def _event(reservation: StockReservation, lines: Sequence[ReservationLine], event_type: str) -> events.NewEvent:
    # product_id / warehouse_id name the one product or warehouse of the lines, when there is one.
    products = {line.product_id for line in lines}
    warehouses = {line.warehouse_id for line in lines}
    return events.NewEvent(
        type=event_type,
        product_id=products.pop() if len(products) == 1 else None,
        warehouse_id=warehouses.pop() if len(warehouses) == 1 else None,
        # The creator lets the change feed show a storefront its own reservation events only.
        data={**reservation_json(reservation, lines), access.EVENT_OWNER_KEY: reservation.created_by_id},
    )


def _record_reservation_events(reservation_ids: Iterable, event_type: str) -> None:
    """Record ``event_type`` for these reservations as they now stand (set-based: a sweep's batch)."""
    ids = list(reservation_ids)
    if not ids:
        return
    lines: dict[Any, list[ReservationLine]] = defaultdict(list)
    for line in ReservationLine.objects.filter(reservation_id__in=ids).order_by("pk"):
        lines[line.reservation_id].append(line)
    rows = StockReservation.objects.filter(pk__in=ids).order_by("created_at", "pk")
    events.record([_event(r, lines[r.pk], event_type) for r in rows])


def _insert_reservation(reservation: StockReservation) -> None:
    if reservation.order_id is None:
        reservation.save(force_insert=True)
        return
    # The pre-check in reserve_stock can lose a race; the partial unique constraint cannot.
    try:
        with transaction.atomic():
            reservation.save(force_insert=True)
    except IntegrityError as exc:
        raise OrderAlreadyReserved.for_order(reservation.order_id) from exc


def _one_statement(lines: Sequence[LineRequest]) -> bool:
    """Reserve in one statement (``reservations.statements``): PostgreSQL, every line names its warehouse."""
    return connection.vendor == "postgresql" and all(line.warehouse_id is not None for line in lines)


def _reserve_once(lines: Sequence[LineRequest], reservation: StockReservation) -> StockReservation:
    if _one_statement(lines):
        return _reserve_in_one_statement(lines, reservation)
    with transaction.atomic():
        if all(line.warehouse_id is not None for line in lines):
            return _reserve_named(lines, reservation)
        return _reserve_allocated(lines, reservation)


def _reserve_in_one_statement(lines: Sequence[LineRequest], reservation: StockReservation) -> StockReservation:
    """The hot path: one statement (and no transaction of ours: it is atomic on its own)."""
    rows = [
        ReservationLine(
            reservation=reservation,
            product_id=line.product_id,
            warehouse_id=line.warehouse_id,
            quantity=line.quantity,
            product_attributes=line.product_attributes,
        )
        for line in lines
    ]
    event = _event(reservation, rows, EventType.RESERVATION_CREATED)
    outcome = statements.reserve(
        reservation=reservation,
        lines=rows,
        event=event.data,
        event_product_id=event.product_id,
        event_warehouse_id=event.warehouse_id,
    )
    if outcome.refused == statements.TAKEN:
        raise OrderAlreadyReserved.for_order(reservation.order_id)
    if outcome.refused:
        # Nothing was written; say why, as the step-by-step path would.
        if (
            reservation.order_id
            and StockReservation.objects.filter(order_id=reservation.order_id, status=ReservationStatus.ACTIVE).exists()
        ):
            raise OrderAlreadyReserved.for_order(reservation.order_id)
        _check_references(lines)
        raise stock.shortage_error([((line.product_id, line.warehouse_id), line.quantity) for line in lines])
    item_ids = {(item.product_id, item.warehouse_id): item.pk for item in outcome.items}
    for row in rows:
        row.item_id = item_ids[(row.product_id, row.warehouse_id)]
    reservation._state.adding = False
    reservation.prefetched_lines = rows
    _after_statement(outcome)
    return reservation


def _after_statement(outcome: statements.Outcome) -> None:
    """Read-your-writes from what the statement returned: nothing is read back from the database."""
    transaction.on_commit(partial(stock_cache.store_item_payloads, [item.payload for item in outcome.items]))


def _reserve_named(lines: Sequence[LineRequest], reservation: StockReservation) -> StockReservation:
    """Every line names its warehouse (the storefront's usual case, and the hot path).

    The reservation and its lines are written first, without touching stock; then one conditional
    UPDATE per item moves the units. A hot item's row is locked only from that UPDATE to commit.
    """
    keys = [(line.product_id, line.warehouse_id) for line in lines]
    ids = stock.item_ids(keys)
    if len(ids) < len(set(keys)):
        _check_references(lines)  # an unknown product or warehouse is a 404, not a shortage
    _insert_reservation(reservation)
    reservation.prefetched_lines = ReservationLine.objects.bulk_create(
        [
            ReservationLine(
                reservation=reservation,
                item_id=ids[key],
                product_id=key[0],
                warehouse_id=key[1],
                quantity=line.quantity,
                product_attributes=line.product_attributes,
            )
            for line, key in zip(lines, keys, strict=True)
            if key in ids
        ]
    )
    stock.hold_stock_in_transaction([(key, line.quantity) for line, key in zip(lines, keys, strict=True)], ids=ids)
    events.record([_event(reservation, reservation.prefetched_lines, EventType.RESERVATION_CREATED)])
    return reservation


def _reserve_allocated(lines: Sequence[LineRequest], reservation: StockReservation) -> StockReservation:
    """Some lines let us choose the warehouse: lock every candidate item, then allocate."""
    try:
        allocations = _allocate(lines, _candidate_items(lines))
    except InsufficientStock:
        _check_references(lines)
        raise
    stock.hold_locked_items([(item, quantity) for _, item, quantity in allocations])
    _insert_reservation(reservation)
    reservation.prefetched_lines = ReservationLine.objects.bulk_create(
        [
            ReservationLine(
                reservation=reservation,
                item=item,
                product_id=item.product_id,
                warehouse_id=item.warehouse_id,
                quantity=quantity,
                product_attributes=line.product_attributes,
            )
            for line, item, quantity in allocations
        ]
    )
    events.record([_event(reservation, reservation.prefetched_lines, EventType.RESERVATION_CREATED)])
    return reservation


def reserve_stock(
    *,
    lines: Sequence[LineRequest],
    order_id: str | None = None,
    session_id: str | None = None,
    reservation_type: str = ReservationType.ORDER,
    expires_in: int | None = None,
    user: AbstractBaseUser | None = None,
) -> StockReservation:
    """Hold stock for every line, or for none (409 ``insufficient_stock`` naming the short products).

    When a line cannot be met, overdue reservations still holding those products are expired
    first and the request is tried once more, so an unswept hold never refuses a sale.
    """
    if not lines:
        raise InvalidInput("A reservation needs at least one line.", field="items")
    if any(line.quantity <= 0 for line in lines):
        raise InvalidInput("quantity must be positive.", field="quantity")
    if reservation_type not in ReservationType.values:
        raise InvalidInput(f"Unknown reservation type {reservation_type!r}.", field="reservation_type")
    now = timezone.now()
    expires_at = _expiry(expires_in, now)
    # (The one-statement path checks the order in the statement itself.)
    if (
        order_id
        and not _one_statement(lines)
        and StockReservation.objects.filter(order_id=order_id, status=ReservationStatus.ACTIVE).exists()
    ):
        raise OrderAlreadyReserved.for_order(order_id)

    def attempt() -> StockReservation:
        reservation = StockReservation(
            order_id=order_id or None,
            session_id=session_id or None,
            reservation_type=reservation_type,
            expires_at=expires_at,
            created_at=now,
            created_by=user if user is not None and user.is_authenticated else None,
        )
        return _reserve_once(lines, reservation)

    try:
        return attempt()
    except InsufficientStock:
        if not expire_overdue_holding({line.product_id for line in lines}):
            raise
    return attempt()


def _lock_reservation(reservation_id: uuid.UUID | str, user: AbstractBaseUser | None) -> StockReservation:
    # Ownership is part of the locking query: another storefront's reservation is simply not found.
    try:
        return access.visible_reservations(user).select_for_update().get(pk=reservation_id)
    except (StockReservation.DoesNotExist, ValueError, TypeError) as exc:
        raise access.unknown_reservation(reservation_id) from exc


def _held_by_item(reservation_ids: Iterable) -> dict[int, int]:
    rows = (
        ReservationLine.objects.filter(reservation_id__in=list(reservation_ids))
        .values("item_id")
        .annotate(units=Sum("quantity"))
        .order_by()
    )
    return {row["item_id"]: row["units"] for row in rows}


def _expire_locked(reservation_ids: list, now: datetime) -> int:
    """Expire reservations whose rows this transaction has locked: return their units, set-based."""
    if not reservation_ids:
        return 0
    stock.release_held_stock(_held_by_item(reservation_ids))
    expired = StockReservation.objects.filter(pk__in=reservation_ids).update(
        status=ReservationStatus.EXPIRED, released_at=now
    )
    _record_reservation_events(reservation_ids, EventType.RESERVATION_EXPIRED)
    return expired


def _not_active(reservation: StockReservation) -> Exception:
    if reservation.status == ReservationStatus.EXPIRED:
        return ReservationExpired(reservation_id=str(reservation.pk))
    return ReservationNotActive(
        f"The reservation is {reservation.status}, not active.",
        reservation_id=str(reservation.pk),
        status=reservation.status,
    )


def _with_active(reservation_id, action, user: AbstractBaseUser | None) -> StockReservation:
    """Lock the reservation (404 unless ``user`` may see it) and run ``action`` on it if active;
    expire it on the spot if overdue."""
    with transaction.atomic():
        reservation = _lock_reservation(reservation_id, user)
        if reservation.status != ReservationStatus.ACTIVE:
            raise _not_active(reservation)
        now = timezone.now()
        if reservation.expires_at > now:
            return action(reservation, now)
        _expire_locked([reservation.pk], now)
    # Raised after the block so the expiry itself commits (and, under an Idempotency-Key, is kept).
    raise ReservationExpired(reservation_id=str(reservation.pk), keeps_changes=True)


def _end_in_one_statement(reservation_id, user: AbstractBaseUser | None, *, confirm: bool) -> StockReservation | None:
    """Confirm or release in one statement (PostgreSQL); None when it did nothing (not found, not
    active, overdue): the step-by-step path then finds out why and answers (or expires it)."""
    if connection.vendor != "postgresql":
        return None
    try:
        reservation_id = uuid.UUID(str(reservation_id))
    except ValueError:
        return None
    acting = user if user is not None and user.is_authenticated else None
    outcome = statements.finish(
        reservation_id=reservation_id,
        now=timezone.now(),
        confirm=confirm,
        user_id=acting.pk if acting is not None else None,
        owner_id=None if access.sees_every_reservation(user) else getattr(acting, "pk", -1),
    )
    if outcome.refused:
        return None
    reservation = statements.reservation_from_row(outcome.rows[0])
    reservation.prefetched_lines = statements.lines_from_rows(outcome.rows)
    _after_statement(outcome)
    return reservation


def confirm_reservation(*, reservation_id, user: AbstractBaseUser | None = None) -> StockReservation:
    """Payment went through: the held units leave the shelf, one ``sale`` ledger row per line.

    ``user`` acts (and, unless warehouse staff, only on reservations it created: ``reservations.access``).
    """

    def confirm(reservation: StockReservation, now: datetime) -> StockReservation:
        lines = list(reservation.lines.all())
        stock.consume_held_stock(
            [(line.item_id, line.quantity) for line in lines],
            transaction_type=TransactionType.SALE,
            details=stock.LedgerDetails(
                reference_type="reservation",
                reference_id=str(reservation.pk),
                reason=f"Order {reservation.order_id}" if reservation.order_id else "Reservation confirmed",
            ),
            user=user,
        )
        reservation.status = ReservationStatus.FULFILLED
        reservation.fulfilled_at = now
        reservation.save(update_fields=["status", "fulfilled_at"])
        reservation.prefetched_lines = lines
        events.record([_event(reservation, lines, EventType.RESERVATION_CONFIRMED)])
        return reservation

    return _end_in_one_statement(reservation_id, user, confirm=True) or _with_active(reservation_id, confirm, user)


def release_reservation(*, reservation_id, user: AbstractBaseUser | None = None) -> StockReservation:
    """Cancel the hold: the units become available again (``user`` as in ``confirm_reservation``)."""

    def release(reservation: StockReservation, now: datetime) -> StockReservation:
        stock.release_held_stock(_held_by_item([reservation.pk]))
        reservation.status = ReservationStatus.RELEASED
        reservation.released_at = now
        reservation.released_by = user if user is not None and user.is_authenticated else None
        reservation.save(update_fields=["status", "released_at", "released_by"])
        lines = list(reservation.lines.all())
        reservation.prefetched_lines = lines
        events.record([_event(reservation, lines, EventType.RESERVATION_RELEASED)])
        return reservation

    if done := _end_in_one_statement(reservation_id, user, confirm=False):
        return done

    return _with_active(reservation_id, release, user)


def extend_reservation(*, reservation_id, expires_in: int, user: AbstractBaseUser | None = None) -> StockReservation:
    """Keep a hold for a checkout that takes longer: expires ``expires_in`` seconds from now (``user`` as in
    ``confirm_reservation``)."""

    def extend(reservation: StockReservation, now: datetime) -> StockReservation:
        reservation.expires_at = _expiry(expires_in, now)
        reservation.save(update_fields=["expires_at"])
        return reservation

    return _with_active(reservation_id, extend, user)


def get_reservation(*, reservation_id: uuid.UUID | str, user: AbstractBaseUser | None = None) -> StockReservation:
    """The reservation with its lines, as it stands now: one past ``expires_at`` is expired on the
    spot (as confirm does), so a read never says ``active`` for a hold the sweep has not reached yet.

    404 unless ``user`` may see it (``reservations.access``); no user: an internal read, sees all.
    """
    reservation = access.visible_reservations(user).prefetch_related("lines").filter(pk=reservation_id).first()
    if reservation is None:
        raise access.unknown_reservation(reservation_id)
    now = timezone.now()
    if reservation.status != ReservationStatus.ACTIVE or reservation.expires_at > now:
        return reservation
    with transaction.atomic():
        # The status condition is re-checked under the lock: a confirm or the sweep may have won.
        overdue = list(
            StockReservation.objects.filter(pk=reservation.pk, status=ReservationStatus.ACTIVE, expires_at__lte=now)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        _expire_locked(overdue, now)
    return StockReservation.objects.prefetch_related("lines").get(pk=reservation.pk)


def expire_reservations(*, batch_size: int = SWEEP_BATCH, now: datetime | None = None) -> int:
    """Expire every overdue active reservation, in batches; returns how many.

    ``skip_locked`` lets two sweepers (or a sweeper and a confirm) work side by side: a row
    one of them holds is simply not seen by the other, so nothing is released twice.
    """
    now = now or timezone.now()
    total = 0
    if connection.vendor == "postgresql":
        # One statement per batch: the reservations, their items, their events (statements.expire_overdue).
        while True:
            expired = statements.expire_overdue(now=now, limit=batch_size)
            total += expired
            if expired < batch_size:
                return total
    while True:
        with transaction.atomic():
            ids = list(
                StockReservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lte=now)
                .order_by("expires_at")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            expired = _expire_locked(ids, now)
        total += expired
        if len(ids) < batch_size:
            return total


def expire_overdue_holding(product_ids: Iterable[int]) -> int:
    """Expire overdue reservations that hold any of these products (a sale is waiting on them)."""
    now = timezone.now()
    if connection.vendor == "postgresql":
        return statements.expire_overdue(now=now, limit=SWEEP_BATCH, holding_products=sorted(set(product_ids)))
    with transaction.atomic():
        holding = ReservationLine.objects.filter(product_id__in=list(product_ids)).values("reservation_id")
        ids = list(
            StockReservation.objects.filter(status=ReservationStatus.ACTIVE, expires_at__lte=now, pk__in=holding)
            .order_by("pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        return _expire_locked(ids, now)


def purge_finished_reservations(*, older_than_days: int = 30, batch_size: int = SWEEP_BATCH) -> int:
    """Delete expired, released and fulfilled reservations older than the cut-off (the ledger keeps sales).

    Each batch adds what it deletes to ``PurgedReservationTally`` in the same transaction, so the
    reservation counters of ``/metrics`` (table + tally) never go down. ``skip_locked``: two purges
    running at once never delete, or tally, the same reservation twice.
    """
    from django.db.models import F

    from reservations.models import PurgedReservationTally
    from reservations.selectors import reservation_counts

    cutoff = timezone.now() - timedelta(days=older_than_days)
    total = 0
    while True:
        with transaction.atomic():
            ids = list(
                StockReservation.objects.exclude(status=ReservationStatus.ACTIVE)
                .filter(created_at__lt=cutoff)
                .order_by("pk")
                .select_for_update(skip_locked=True)
                .values_list("pk", flat=True)[:batch_size]
            )
            counts = reservation_counts(ReservationLine.objects.filter(reservation_id__in=ids)) if ids else []
            for warehouse_id, reservation_type, reservations, expiries in counts:
                tally, _ = PurgedReservationTally.objects.get_or_create(
                    warehouse_id=warehouse_id, reservation_type=reservation_type
                )
                PurgedReservationTally.objects.filter(pk=tally.pk).update(
                    reservations=F("reservations") + reservations, expiries=F("expiries") + expiries
                )
            ReservationLine.objects.filter(reservation_id__in=ids).delete()
            deleted, _ = StockReservation.objects.filter(pk__in=ids).delete()
        total += deleted
        if len(ids) < batch_size:
            return total
