"""Lot expiry: write off expired lots, warn before lots expire (run by beat, ``inventory.tasks``).

A lot is sellable on its expiry day and expired from the day after. The sweep writes expired units off
through ``apply_movements`` (an outbound ``expired`` ledger row naming the lot), so lots, ledger, events,
low-stock alerts and caches follow as for any other movement. Only *available* units can go: units that
reservations hold stay until they are released (or confirmed, which fails for expired lots), and those
are the lot's shortfall, named by an open ``LotExpiryAlert`` and by ``lot.expired``. Every run writes
off whatever became available since, and resolves the alert once the lot's expired units are gone.

Everything is decided under the items' row locks (ascending id, a batch of items per transaction),
which is what serialises lot changes, so two sweeps at once never write a unit off twice or report
a shortfall twice: the second one sees what the first committed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from inventory import events
from inventory.event_models import EventType
from inventory.locks import lock_items_by_id
from inventory.lot_models import LotExpiryAlert, LotExpiryStatus, StockLot
from inventory.models import InventoryItem, Product, TransactionType
from inventory.services import lots
from inventory.services.ledger import LedgerDetails, Movement
from inventory.services.movements import apply_movements

ITEM_BATCH = 200  # items locked per transaction: a long backlog never holds many row locks for long
REFERENCE_TYPE = "lot_expiry"


@dataclass(frozen=True, kw_only=True)
class ExpirySweep:
    """What one ``write_off_expired_lots`` run did."""

    lots_written_off: int = 0
    units_written_off: int = 0
    # Expired units reservations still hold after the run (the open alerts' shortfalls, all lots).
    shortfall: int = 0
    alerts_raised: int = 0
    alerts_resolved: int = 0

    def __add__(self, other: ExpirySweep) -> ExpirySweep:
        return ExpirySweep(
            lots_written_off=self.lots_written_off + other.lots_written_off,
            units_written_off=self.units_written_off + other.units_written_off,
            alerts_raised=self.alerts_raised + other.alerts_raised,
            alerts_resolved=self.alerts_resolved + other.alerts_resolved,
        )


@dataclass(frozen=True)
class _Outcome:
    lot: StockLot
    written_off: int
    shortfall: int


def _expired(today: date) -> Q:
    # Only lots of tracked products: for any other product apply_movements would not book the lot, and
    # the lot would be "written off" again on every run.
    return Q(quantity__gt=0, expiry_date__lt=today, item__product__track_lots=True)


def _write_off_candidates(today: date) -> list[int]:
    """Items that may have something to do (read without locks: a hint, decided again under the lock).

    An expired lot whose units are all still held and whose shortfall was already reported, in an item
    with nothing available, is skipped: it would change nothing.
    """
    expired = StockLot.objects.filter(_expired(today)).filter(
        Q(item__available_quantity__gt=0) | ~Q(quantity=F("expired_shortfall_reported"))
    )
    # An open alert whose lot lost its units some other way (a damage write-off, a count) is resolved too.
    stale = LotExpiryAlert.objects.filter(status=LotExpiryStatus.OPEN).exclude(
        lot__quantity=F("shortfall"), lot__expiry_date__lt=today
    )
    ids = set(expired.values_list("item_id", flat=True)) | set(stale.values_list("item_id", flat=True))
    return sorted(ids)


def write_off_expired_lots(*, today: date | None = None, batch_size: int = ITEM_BATCH) -> ExpirySweep:
    """Write off the available units of every lot past its expiry date, and raise, update or resolve the
    shortfall alerts of the units reservations still hold; returns what was done."""
    today = today or timezone.localdate()
    ids = _write_off_candidates(today)
    total = ExpirySweep()
    for start in range(0, len(ids), batch_size):
        total += _write_off_batch(ids[start : start + batch_size], today)
    held = LotExpiryAlert.objects.filter(status=LotExpiryStatus.OPEN).aggregate(held=Sum("shortfall"))["held"]
    return replace(total, shortfall=held or 0)


@transaction.atomic
def _write_off_batch(item_ids: list[int], today: date) -> ExpirySweep:
    # Products before items: the order every movement and catalog update locks them in (lots.tracked_products).
    lots.tracked_products(InventoryItem.objects.filter(pk__in=item_ids).values_list("product_id", flat=True), lock=True)
    items = lock_items_by_id(item_ids)
    lots_by_item: dict[int, list[StockLot]] = defaultdict(list)
    # Meta.ordering is first-expired-first-out: the item's available units go to its oldest expiry first.
    for lot in StockLot.objects.filter(_expired(today), item_id__in=items):
        lots_by_item[lot.item_id].append(lot)
    open_alerts = {
        alert.lot_id: alert
        for alert in LotExpiryAlert.objects.filter(item_id__in=items, status=LotExpiryStatus.OPEN).select_related("lot")
    }
    outcomes: list[_Outcome] = []
    movements: list[Movement] = []
    for item_id in sorted(lots_by_item):
        item = items[item_id]
        available = item.available_quantity
        for lot in lots_by_item[item_id]:
            written_off = min(lot.quantity, available)
            available -= written_off
            outcomes.append(_Outcome(lot, written_off, lot.quantity - written_off))
            if written_off:
                movements.append(_write_off(item, lot, written_off))
    # Open alerts of lots that have no expired units left (written off by hand, counted out): resolved.
    looked_at = {outcome.lot.pk for outcome in outcomes}
    outcomes += [_Outcome(alert.lot, 0, 0) for lot_id, alert in open_alerts.items() if lot_id not in looked_at]

    apply_movements(movements)
    raised, resolved = _sync_alerts(outcomes, open_alerts)
    _report(outcomes, items)
    return ExpirySweep(
        lots_written_off=sum(1 for o in outcomes if o.written_off),
        units_written_off=sum(o.written_off for o in outcomes),
        alerts_raised=raised,
        alerts_resolved=resolved,
    )


def _write_off(item: InventoryItem, lot: StockLot, quantity: int) -> Movement:
    return Movement(
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        quantity_change=-quantity,
        transaction_type=TransactionType.EXPIRED,
        details=LedgerDetails(
            batch_number=lot.batch_number,
            reason=f"Lot expired on {lot.expiry_date.isoformat()}",
            reference_type=REFERENCE_TYPE,
            reference_id=str(lot.pk),
        ),
    )


def _sync_alerts(outcomes: list[_Outcome], open_alerts: dict[int, LotExpiryAlert]) -> tuple[int, int]:
    """One open alert per lot with a shortfall, naming it; resolved when the shortfall is gone."""
    now = timezone.now()
    new: list[LotExpiryAlert] = []
    changed: list[LotExpiryAlert] = []
    resolved = 0
    for outcome in outcomes:
        alert = open_alerts.get(outcome.lot.pk)
        if outcome.shortfall and alert is None:
            new.append(
                LotExpiryAlert(
                    item_id=outcome.lot.item_id,
                    lot=outcome.lot,
                    shortfall=outcome.shortfall,
                    shortfall_when_raised=outcome.shortfall,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif alert is not None and alert.shortfall != outcome.shortfall:
            # (An open alert's shortfall is never 0, so a lot with none left always lands here.)
            alert.shortfall = outcome.shortfall
            alert.updated_at = now
            if not outcome.shortfall:
                alert.status = LotExpiryStatus.RESOLVED
                alert.resolved_at = now
                resolved += 1
            changed.append(alert)
    LotExpiryAlert.objects.bulk_create(new)
    LotExpiryAlert.objects.bulk_update(changed, ["shortfall", "status", "resolved_at", "updated_at"])
    return len(new), resolved


def _report(outcomes: list[_Outcome], items: dict[int, InventoryItem]) -> None:
    """``lot.expired`` for a lot written off for the first time, and again whenever its shortfall changes."""
    reported = [
        o
        for o in outcomes
        if o.shortfall != o.lot.expired_shortfall_reported or (o.lot.expired_shortfall_reported == 0 and o.written_off)
    ]
    if not reported:
        return
    skus = _skus(items[o.lot.item_id].product_id for o in reported)
    new_events = []
    for outcome in reported:
        lot, item = outcome.lot, items[outcome.lot.item_id]
        lot.expired_shortfall_reported = outcome.shortfall
        new_events.append(
            _lot_event(
                EventType.LOT_EXPIRED,
                lot,
                item,
                skus[item.product_id],
                written_off=outcome.written_off,
                shortfall=outcome.shortfall,
            )
        )
    # Only this column: apply_movements already saved the lots' new quantities.
    StockLot.objects.bulk_update([o.lot for o in reported], ["expired_shortfall_reported"])
    events.record(new_events)


def _lot_event(event_type: str, lot: StockLot, item: InventoryItem, sku: str, **extra: int) -> events.NewEvent:
    """A ``lot.*`` event: the lot's item and batch, then what ``extra`` adds."""
    return events.NewEvent(
        type=event_type,
        product_id=item.product_id,
        warehouse_id=item.warehouse_id,
        item_id=item.pk,
        data={
            "product_id": item.product_id,
            "warehouse_id": item.warehouse_id,
            "item_id": item.pk,
            "sku": sku,
            "batch_number": lot.batch_number,
            "expiry_date": lot.expiry_date.isoformat() if lot.expiry_date else None,
            **extra,
        },
    )


def _skus(product_ids) -> dict[int, str]:
    return dict(Product.objects.filter(pk__in=set(product_ids)).values_list("pk", "sku"))


# --- lot.expiring --------------------------------------------------------------------------------------


def _expiring(today: date, warning_days: int) -> Q:
    return Q(
        quantity__gt=0,
        expiry_date__gte=today,
        expiry_date__lte=today + timedelta(days=warning_days),
        expiring_notified_at__isnull=True,
        item__product__track_lots=True,
    )


def notify_expiring_lots(
    *, today: date | None = None, warning_days: int | None = None, batch_size: int = ITEM_BATCH
) -> int:
    """Send ``lot.expiring`` once for every lot with units that expires within ``warning_days``
    (``LOT_EXPIRY_WARNING_DAYS``) and has not expired yet; returns how many were sent."""
    today = today or timezone.localdate()
    if warning_days is None:
        warning_days = settings.LOT_EXPIRY_WARNING_DAYS
    ids = sorted(set(StockLot.objects.filter(_expiring(today, warning_days)).values_list("item_id", flat=True)))
    sent = 0
    for start in range(0, len(ids), batch_size):
        sent += _notify_batch(ids[start : start + batch_size], today, warning_days)
    return sent


@transaction.atomic
def _notify_batch(item_ids: list[int], today: date, warning_days: int) -> int:
    # Under the items' locks: the quantity sent is the lot's committed one, and a concurrent sweep waits,
    # then finds the lots already notified.
    items = lock_items_by_id(item_ids)
    lots = list(StockLot.objects.filter(_expiring(today, warning_days), item_id__in=items).order_by("item_id", "pk"))
    if not lots:
        return 0
    skus = _skus(item.product_id for item in items.values())
    StockLot.objects.filter(pk__in=[lot.pk for lot in lots]).update(expiring_notified_at=timezone.now())
    new_events = []
    for lot in lots:
        item = items[lot.item_id]
        new_events.append(
            _lot_event(
                EventType.LOT_EXPIRING,
                lot,
                item,
                skus[item.product_id],
                quantity=lot.quantity,
                days_left=(lot.expiry_date - today).days,
            )
        )
    events.record(new_events)
    return len(lots)
