"""The scan station, ``/admin/inventory/scan/``: a page for a USB barcode scanner (it types the code, then Enter).

The flow needs no JavaScript. Scan a code (Enter): the page shows the item and its on-hand, the focus in
the quantity. Type the quantity (Enter): it is booked through the services, and the page comes back
(post/redirect/get) with the focus in the code field and the booking in the list, with an Undo. The
warehouse and mode are chosen once and kept in the URL (a bookmark per station) and the session.
Every refusal is a message on the page and changes nothing.
"""

from __future__ import annotations

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

from inventory import scan, services
from inventory.exceptions import DomainError, QuantityMismatch
from inventory.models import Warehouse
from inventory.scan import Mode, Receipt, ScanError, Target
from inventory.scan_forms import BARCODE_DIGITS, ScanForm, StationForm

logger = logging.getLogger(__name__)

STATION_SESSION_KEY = "scan_station"
DELIVERY_SESSION_KEY = "scan_station_delivery"
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


def _fresh(mode: str, **initial) -> ScanForm:
    return ScanForm(mode=mode, initial={**initial, "form_id": secrets.token_urlsafe(12)})


def _again(data: QueryDict, mode: str, **changes) -> ScanForm:
    """The posted form again (typed values and field errors kept) with some values changed and a new id."""
    data = data.copy()
    for name, value in {**changes, "form_id": secrets.token_urlsafe(12)}.items():
        data[name] = "" if value is None else str(value)
    form = ScanForm(data, mode=mode)
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
        "error": error,
        "note": note,
        "bookings": scan.recent_bookings(request.user),
        "station_url": _station_url(warehouse, mode) if warehouse else "",
    }
    return TemplateResponse(request, "admin/inventory/scan.html", context)


def scan_station(request: HttpRequest) -> HttpResponse:
    require_stock_permission(request)
    station, warehouse, mode = _station(request)
    if warehouse is None:
        error = "Choose the warehouse and the mode first." if request.method == "POST" else ""
        return _page(request, station=station, error=error)
    if request.method == "POST" and "undo" in request.POST:
        return _undo(request, _station_url(warehouse, mode))
    if request.method == "POST":
        return _scan(request, station, warehouse, mode)
    delivery = request.session.get(DELIVERY_SESSION_KEY, {}) if mode == Mode.RECEIVE else {}
    form = _fresh(mode, **delivery)
    return _page(request, station=station, warehouse=warehouse, mode=mode, form=_focused(form, "code"))


def _scan(request: HttpRequest, station: StationForm, warehouse: Warehouse, mode: str) -> HttpResponse:
    form = ScanForm(request.POST, mode=mode)
    form.is_valid()
    page = {"station": station, "warehouse": warehouse, "mode": mode}
    code = request.POST.get("code", "").strip()
    delivery = form.delivery_values()
    try:
        target = scan.resolve_code(code, warehouse=warehouse)
    except ScanError as exc:
        return _page(request, **page, form=_focused(_fresh(mode, **delivery), "code"), error=str(exc))

    typed = request.POST.get("quantity", "").strip()
    if "quantity" in form.errors and len(typed) >= BARCODE_DIGITS:
        # The next article was scanned while the focus was still in the quantity field: show that one.
        try:
            scanned = scan.resolve_code(typed, warehouse=warehouse)
        except ScanError:
            pass
        else:
            form = _fresh(mode, code=typed, shown_code=typed, shown_on_hand=scanned.on_hand, **delivery)
            note = f"{typed} was scanned into the quantity field: it is shown here, nothing was booked for {code}."
            return _page(request, **page, form=_focused(form, "quantity"), target=scanned, note=note)

    shown = form.cleaned_data.get("shown_on_hand") if request.POST.get("shown_code", "").strip() == code else None
    if shown is None:
        shown = target.on_hand  # what this page now shows; a count booked from it is checked against it
    if form.errors:
        form = _again(request.POST, mode, shown_code=code, shown_on_hand=shown)
        return _page(request, **page, form=_focused(form, next(iter(form.errors))), target=target)
    quantity = form.cleaned_data["quantity"]
    if quantity is None:  # a look-up: show the item, then the quantity
        form = _fresh(mode, code=code, shown_code=code, shown_on_hand=target.on_hand, **delivery)
        return _page(request, **page, form=_focused(form, "quantity"), target=target)

    if not _first_submission(form.cleaned_data["form_id"]):
        messages.info(request, "That booking was already made (the form was sent twice).")
        return HttpResponseRedirect(_station_url(warehouse, mode))
    expected = shown if mode == Mode.COUNT and request.POST.get("shown_code", "").strip() == code else None
    try:
        item = scan.book_scan(
            mode=mode,
            target=target,
            quantity=quantity,
            user=request.user,
            expected_on_hand=expected,
            receipt=_receipt(form) if mode == Mode.RECEIVE else None,
            reason=form.cleaned_data.get("reason", ""),
        )
    except QuantityMismatch as exc:
        now = exc.data["actual_quantity"]
        error = (
            f"Stock moved since you scanned: {now} on hand now, not {shown}. Nothing was booked. "
            f"Check your count and press Enter to book it against {now}."
        )
        form = _again(request.POST, mode, shown_code=code, shown_on_hand=now)
        target = scan.resolve_code(code, warehouse=warehouse)
        return _page(request, **page, form=_focused(form, "quantity"), target=target, error=error)
    except DomainError as exc:
        form = _again(request.POST, mode, shown_code=code, shown_on_hand=shown)
        target = scan.resolve_code(code, warehouse=warehouse)
        error = f"{exc.detail} Nothing was booked."
        return _page(request, **page, form=_focused(form, "quantity"), target=target, error=error)
    if mode == Mode.RECEIVE:
        request.session[DELIVERY_SESSION_KEY] = delivery
    messages.success(request, _booked(mode, target, quantity, item.total_quantity, expected))
    return HttpResponseRedirect(_station_url(warehouse, mode))


def _receipt(form: ScanForm) -> Receipt:
    data = form.cleaned_data
    return Receipt(
        cost_per_unit=data.get("cost_per_unit"),
        supplier_id=data.get("supplier_id"),
        batch_number=data.get("batch_number", ""),
        expiry_date=data.get("expiry_date"),
        reference_id=data.get("reference_id", ""),
    )


def _booked(mode: str, target: Target, quantity: int, on_hand: int, before: int | None) -> str:
    what = f"{target.product.sku} ({target.product.name}) in {target.warehouse.code}"
    if mode == Mode.RECEIVE:
        return f"Received {quantity} × {what}: {on_hand} on hand."
    if mode == Mode.DAMAGED:
        return f"Moved {quantity} × {what} out as damaged: {on_hand} on hand."
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
