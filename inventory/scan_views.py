"""The scan station, ``/admin/inventory/scan/``: a page for a USB barcode scanner (it types the code, then Enter).

The flow needs no JavaScript. Scan a code (Enter): the page shows the item and its on-hand, the focus in
the quantity. Type the quantity (Enter): it is booked through the services, and the page comes back
(post/redirect/get) with the focus in the code field and the booking in the list, with an Undo. The
warehouse and mode are chosen once and kept in the URL (a bookmark per station) and the session.
A lot-tracked product shows its lots and asks for the batch (received, counted, or damaged: empty takes the
earliest expiry first); Move state moves the scanned units between available, damaged, quality control and
safety stock. Every refusal is a message on the page and changes nothing.
"""

from __future__ import annotations

import json
import logging
import secrets
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from inventory import scan, services
from inventory.exceptions import DomainError, QuantityMismatch
from inventory.models import InventoryItem, StockState, Warehouse, state_field
from inventory.scan import Mode, Receipt, ScanError, Target
from inventory.scan_forms import BARCODE_DIGITS, KEPT, ScanForm, StationForm

logger = logging.getLogger(__name__)

STATION_SESSION_KEY = "scan_station"
KEPT_SESSION_KEY = "scan_station_kept"  # {mode: the values a run of scans shares (scan_forms.KEPT)}
PERMISSION = "inventory.change_inventoryitem"
_SUBMITTED_SECONDS = 3600


def require_stock_permission(request: HttpRequest) -> None:
    """Stock pages of the back office are for staff who may change items (group ``warehouse``)."""
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied


def _station(request: HttpRequest) -> tuple[StationForm, Warehouse | None, str]:
    """The station's warehouse and mode: from the URL when it names them, else as last used."""
    if "warehouse" in request.GET or "mode" in request.GET:
        form = StationForm(request.GET)
    else:
        form = StationForm(request.session.get(STATION_SESSION_KEY) or None)
    if form.is_bound and form.is_valid():
        warehouse, mode = form.cleaned_data["warehouse"], form.cleaned_data["mode"]
        request.session[STATION_SESSION_KEY] = {"warehouse": str(warehouse.pk), "mode": mode}
        return form, warehouse, mode
    if form.is_bound and "warehouse" not in request.GET:
        request.session.pop(STATION_SESSION_KEY, None)  # e.g. that warehouse was deactivated since
        form = StationForm()
    return form, None, ""


def _station_url(warehouse: Warehouse, mode: str) -> str:
    return f"{reverse('scan_station')}?{urlencode({'warehouse': warehouse.pk, 'mode': mode})}"


def _first_submission(form_id: str) -> bool:
    """True the first time a form is posted: a double Enter (or a scanner's extra one) books once."""
    if not form_id:
        return True
    try:
        return bool(cache.add(f"scan-form:{form_id}", 1, timeout=_SUBMITTED_SECONDS))
    except Exception:  # the cache is down: book (each booking is listed and can be undone)
        logger.warning("scan station: the cache is unavailable; double-submit guard skipped", exc_info=True)
        return True


def _focused(form: ScanForm, name: str) -> ScanForm:
    form.fields[name].widget.attrs["autofocus"] = True
    return form


def _form(data: QueryDict | None, mode: str, target: Target | None, **kwargs) -> ScanForm:
    """The scan form for ``target``: a lot-tracked product's has its batch fields."""
    tracked = target is not None and target.tracked
    requires_expiry = tracked and target.product.requires_expiry
    return ScanForm(data, mode=mode, tracked=tracked, requires_expiry=requires_expiry, **kwargs)


def _fresh(mode: str, target: Target | None = None, **initial) -> ScanForm:
    if target is not None and target.tracked:
        initial.setdefault("shown_lots", json.dumps(scan.lot_quantities(target.item)))
    return _form(None, mode, target, initial={**initial, "form_id": secrets.token_urlsafe(12)})


def _again(data: QueryDict, mode: str, target: Target | None, **changes) -> ScanForm:
    """The posted form again (typed values and field errors kept) with some values changed and a new id."""
    data = data.copy()
    for name, value in {**changes, "form_id": secrets.token_urlsafe(12)}.items():
        data[name] = "" if value is None else str(value)
    form = _form(data, mode, target)
    form.is_valid()
    return form


def _page(
    request: HttpRequest,
    *,
    station: StationForm,
    warehouse: Warehouse | None = None,
    mode: str = "",
    form: ScanForm | None = None,
    target: Target | None = None,
    error: str = "",
    note: str = "",
) -> TemplateResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Scan station",
        "station": station,
        "warehouse": warehouse,
        "mode": mode,
        "mode_label": Mode(mode).label if mode else "",
        "form": form,
        "target": target,
        "today": timezone.localdate(),
        "error": error,
        "note": note,
        "bookings": scan.recent_bookings(request.user),
        "state_moves": scan.recent_state_moves(request.user) if mode == Mode.MOVE_STATE else [],
        "station_url": _station_url(warehouse, mode) if warehouse else "",
    }
    return TemplateResponse(request, "admin/inventory/scan.html", context)


def _kept(request: HttpRequest, mode: str) -> dict[str, str]:
    return request.session.get(KEPT_SESSION_KEY, {}).get(mode, {})


def scan_station(request: HttpRequest) -> HttpResponse:
    require_stock_permission(request)
    station, warehouse, mode = _station(request)
    if warehouse is None:
        error = "Choose the warehouse and the mode first." if request.method == "POST" else ""
        return _page(request, station=station, error=error)
    if request.method == "POST" and "undo" in request.POST:
        return _undo(request, _station_url(warehouse, mode))
    if request.method == "POST" and "undo_move" in request.POST:
        return _undo_move(request, _station_url(warehouse, mode))
    if request.method == "POST":
        return _scan(request, station, warehouse, mode)
    form = _fresh(mode, **_kept(request, mode))
    return _page(request, station=station, warehouse=warehouse, mode=mode, form=_focused(form, "code"))


def _lot_problems(mode: str, target: Target, data: dict) -> dict[str, str]:
    """What a lot-tracked product's booking lacks, by field: said here, next to the field, before the
    services would refuse it."""
    if not target.tracked:
        return {}
    sku, batch = target.product.sku, (data.get("batch_number") or "").strip()
    if mode == Mode.RECEIVE:
        problems = {}
        if not batch:
            problems["batch_number"] = f"{sku} is lot-tracked: type the batch number printed on the goods."
        if target.product.requires_expiry and data.get("expiry_date") is None:
            problems["expiry_date"] = f"Lots of {sku} must carry an expiry date: type the one on the goods."
        return problems
    if mode == Mode.COUNT:
        if not batch:
            return {"batch_number": f"{sku} is counted batch by batch: type (or scan) the batch you counted."}
        new_batch = batch not in scan.lot_quantities(target.item)
        if new_batch and target.product.requires_expiry and data.get("expiry_date") is None and data["quantity"]:
            return {"expiry_date": f"Batch {batch} is new here: type its expiry date."}
    return {}


def _scan(request: HttpRequest, station: StationForm, warehouse: Warehouse, mode: str) -> HttpResponse:
    page = {"station": station, "warehouse": warehouse, "mode": mode}
    code = request.POST.get("code", "").strip()
    kept = ScanForm(request.POST, mode=mode).kept_values()
    try:
        target = scan.resolve_code(code, warehouse=warehouse)
    except ScanError as exc:
        return _page(request, **page, form=_focused(_fresh(mode, **kept), "code"), error=str(exc))
    form = _form(request.POST, mode, target)
    form.is_valid()

    typed = request.POST.get("quantity", "").strip()
    if "quantity" in form.errors and len(typed) >= BARCODE_DIGITS:
        # The next article was scanned while the focus was still in the quantity field: show that one.
        try:
            scanned = scan.resolve_code(typed, warehouse=warehouse)
        except ScanError:
            pass
        else:
            form = _fresh(mode, scanned, code=typed, shown_code=typed, shown_on_hand=scanned.on_hand, **kept)
            note = f"{typed} was scanned into the quantity field: it is shown here, nothing was booked for {code}."
            return _page(request, **page, form=_focused(form, "quantity"), target=scanned, note=note)

    same = request.POST.get("shown_code", "").strip() == code
    shown = form.cleaned_data.get("shown_on_hand") if same else None
    if shown is None:
        shown = target.on_hand  # what this page now shows; a count booked from it is checked against it
    shown_lots = form.cleaned_data.get("shown_lots") if same else None
    if shown_lots is None and target.tracked:
        shown_lots = scan.lot_quantities(target.item)
    lots_json = json.dumps(shown_lots) if target.tracked else ""
    if form.errors:
        form = _again(request.POST, mode, target, shown_code=code, shown_on_hand=shown, shown_lots=lots_json)
        return _page(request, **page, form=_focused(form, next(iter(form.errors))), target=target)
    quantity = form.cleaned_data["quantity"]
    if quantity is None:  # a look-up: show the item, then the quantity
        form = _fresh(mode, target, code=code, shown_code=code, shown_on_hand=target.on_hand, **kept)
        return _page(request, **page, form=_focused(form, "quantity"), target=target)
    if problems := _lot_problems(mode, target, form.cleaned_data):
        form = _again(request.POST, mode, target, shown_code=code, shown_on_hand=shown, shown_lots=lots_json)
        for name, problem in problems.items():
            form.add_error(name, problem)
        return _page(request, **page, form=_focused(form, next(iter(problems))), target=target)

    if not _first_submission(form.cleaned_data["form_id"]):
        messages.info(request, "That booking was already made (the form was sent twice).")
        return HttpResponseRedirect(_station_url(warehouse, mode))
    data = form.cleaned_data
    batch = (data.get("batch_number") or "").strip()
    expected = None
    if mode == Mode.COUNT and same:
        # A lot-tracked item is counted per batch: the batch's units are what the count is checked against.
        expected = shown_lots.get(batch, 0) if target.tracked else shown
    try:
        item = scan.book_scan(
            mode=mode,
            target=target,
            quantity=quantity,
            user=request.user,
            expected_on_hand=expected,
            receipt=_receipt(form) if mode == Mode.RECEIVE else None,
            reason=data.get("reason", ""),
            batch_number=batch,
            expiry_date=data.get("expiry_date"),
            from_state=data.get("from_state") or StockState.AVAILABLE,
            to_state=data.get("to_state") or StockState.DAMAGED,
        )
    except QuantityMismatch as exc:
        now = exc.data["actual_quantity"]
        target = scan.resolve_code(code, warehouse=warehouse)
        if target.tracked:
            error = (
                f"Batch {batch} changed since you scanned: {now} in it now, not {expected}. Nothing was booked. "
                f"Check your count and press Enter to book it against {now}."
            )
            lots_json = json.dumps({**shown_lots, batch: now})
            form = _again(
                request.POST, mode, target, shown_code=code, shown_on_hand=target.on_hand, shown_lots=lots_json
            )
        else:
            error = (
                f"Stock moved since you scanned: {now} on hand now, not {shown}. Nothing was booked. "
                f"Check your count and press Enter to book it against {now}."
            )
            form = _again(request.POST, mode, target, shown_code=code, shown_on_hand=now)
        return _page(request, **page, form=_focused(form, "quantity"), target=target, error=error)
    except DomainError as exc:
        target = scan.resolve_code(code, warehouse=warehouse)
        form = _again(request.POST, mode, target, shown_code=code, shown_on_hand=shown, shown_lots=lots_json)
        error = f"{exc.detail} Nothing was booked."
        return _page(request, **page, form=_focused(form, "quantity"), target=target, error=error)
    if mode in KEPT:
        request.session[KEPT_SESSION_KEY] = {**request.session.get(KEPT_SESSION_KEY, {}), mode: kept}
    messages.success(request, _booked(mode, target, quantity, item, expected, data))
    return HttpResponseRedirect(_station_url(warehouse, mode))


def _receipt(form: ScanForm) -> Receipt:
    data = form.cleaned_data
    return Receipt(
        cost_per_unit=data.get("cost_per_unit"),
        supplier_id=data.get("supplier_id"),
        batch_number=(data.get("batch_number") or "").strip(),
        expiry_date=data.get("expiry_date"),
        reference_id=data.get("reference_id", ""),
    )


def _booked(mode: str, target: Target, quantity: int, item: InventoryItem, before: int | None, data: dict) -> str:
    what = f"{target.product.sku} ({target.product.name}) in {target.warehouse.code}"
    on_hand = item.total_quantity
    batch = (data.get("batch_number") or "").strip()
    if mode == Mode.RECEIVE:
        lot = ""
        if batch:
            expiry = data.get("expiry_date") or scan.known_expiry(item, batch, None)
            lot = f", batch {batch}" + (f" (expires {expiry.isoformat()})" if expiry else "")
        return f"Received {quantity} × {what}{lot}: {on_hand} on hand."
    if mode == Mode.DAMAGED:
        lot = ""
        if target.tracked:
            lot = f" from batch {batch}" if batch else " (earliest expiry first)"
        return f"Moved {quantity} × {what} out as damaged{lot}: {on_hand} on hand."
    if mode == Mode.MOVE_STATE:
        source, goal = StockState(data["from_state"]), StockState(data["to_state"])
        return (
            f"Moved {quantity} × {what} from {source.label.lower()} to {goal.label.lower()}: "
            f"{getattr(item, state_field(source))} {source.label.lower()}, "
            f"{getattr(item, state_field(goal))} {goal.label.lower()} ({on_hand} on hand)."
        )
    if target.tracked:
        counted = f"Counted batch {batch} of {what}: {quantity} in the batch"
        if before is not None and before != quantity:
            counted += f" (was {before}, {quantity - before:+d})"
        elif before == quantity:
            counted += " (no change)"
        return f"{counted}; {on_hand} on hand."
    if before is None or before == on_hand:
        return f"Counted {what}: {on_hand} on hand" + (" (no change)." if before == on_hand else ".")
    return f"Counted {what}: {on_hand} on hand (was {before}, {on_hand - before:+d})."


class _UndoForm(forms.Form):
    undo = forms.IntegerField(min_value=1)


def _undo(request: HttpRequest, station_url: str) -> HttpResponse:
    form = _UndoForm(request.POST)
    row = scan.own_booking(request.user, form.cleaned_data["undo"]) if form.is_valid() else None
    if row is None:
        messages.error(request, "Only your own bookings from this station can be undone here.")
        return HttpResponseRedirect(station_url)
    try:
        item, reversing = services.reverse_transaction(transaction_id=row.pk, user=request.user)
    except DomainError as exc:
        messages.error(request, f"{exc.detail} Nothing was booked.")
    else:
        messages.success(
            request,
            f"Undid {row.transaction_number} ({row.product.sku} {row.quantity_change:+d} in {row.warehouse.code}): "
            f"booked {reversing.quantity_change:+d}, {item.total_quantity} on hand.",
        )
    return HttpResponseRedirect(station_url)


class _UndoMoveForm(forms.Form):
    undo_move = forms.IntegerField(min_value=1)


def _undo_move(request: HttpRequest, station_url: str) -> HttpResponse:
    form = _UndoMoveForm(request.POST)
    try:
        undone = (
            scan.undo_state_move(user=request.user, move_id=form.cleaned_data["undo_move"]) if form.is_valid() else None
        )
    except DomainError as exc:
        messages.error(request, f"{exc.detail} Nothing was moved.")
        return HttpResponseRedirect(station_url)
    if undone is None:
        messages.error(request, "Only your own state moves can be undone here.")
        return HttpResponseRedirect(station_url)
    item, move = undone
    source, goal = StockState(move.from_state), StockState(move.to_state)
    messages.success(
        request,
        f"Moved {move.quantity} × {item.product.sku} in {item.warehouse.code} back from {source.label.lower()} "
        f"to {goal.label.lower()}: {getattr(item, state_field(goal))} {goal.label.lower()}.",
    )
    return HttpResponseRedirect(station_url)
