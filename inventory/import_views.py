"""CSV import in the back office, ``/admin/inventory/import/``: upload, preview, apply (``inventory.csv_import``)."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from inventory import csv_import
from inventory.csv_import import ApplyRefused, ImportFileError, Preview
from inventory.scan_views import require_stock_permission

PREVIEW_ROWS = 500  # rows listed on the page; every row with an error is listed whatever the count
EXAMPLE = (
    "sku,warehouse,quantity_change,transaction_type,counted_quantity,cost_per_unit,batch_number,expiry_date,"
    "reference_id,reason\n"
    "DEMO-0001,MAIN,120,purchase,,3.20,B-2207,2027-06-30,PO-4711,Delivery\n"
    "DEMO-0002,MAIN,-2,damage,,,,,,Crushed in transit\n"
    "DEMO-0003,MAIN,,,48,,,,,Cycle count aisle 4\n"
)


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file", widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv,text/plain"})
    )


class ApplyForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)


def _page(request: HttpRequest, *, status: int = 200, **context) -> TemplateResponse:
    context = {
        **admin.site.each_context(request),
        "title": "Import stock from CSV",
        "form": context.pop("form", None) or UploadForm(),
        "columns": COLUMN_HELP,
        **context,
    }
    return TemplateResponse(request, "admin/inventory/import.html", context, status=status)


def _previewed(
    request: HttpRequest, text: str, preview: Preview, *, error: str = "", status: int = 200
) -> HttpResponse:
    token = ""
    if not preview.error_rows:
        try:
            token = csv_import.keep(text, preview, user=request.user)
        except ImportFileError as exc:
            error = f"{error} {exc}".strip()
    listed = [r for i, r in enumerate(preview.rows) if r.errors or i < PREVIEW_ROWS]
    return _page(request, status=status, preview=preview, listed=listed, token=token, error=error)


def stock_import(request: HttpRequest) -> HttpResponse:
    require_stock_permission(request)
    if request.GET.get("example"):
        response = HttpResponse(EXAMPLE, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="stock-import-example.csv"'
        return response
    if request.method != "POST":
        return _page(request)
    if "token" in request.POST:
        return _apply(request)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form=form, status=400)
    upload = form.cleaned_data["file"]
    try:
        data = upload.read(csv_import.MAX_BYTES + 1)
        text, preview = csv_import.read(data, filename=upload.name)
        return _previewed(request, text, preview)
    except ImportFileError as exc:
        return _page(request, form=form, error=str(exc), status=400)


def _apply(request: HttpRequest) -> HttpResponse:
    form = ApplyForm(request.POST)
    try:
        if not form.is_valid():
            raise ImportFileError("Nothing to apply: upload a file first.")
        text, filename, expected = csv_import.take(form.cleaned_data["token"], user=request.user)
        summary = csv_import.apply(text, filename=filename, expected=expected, user=request.user)
    except ImportFileError as exc:
        return _page(request, error=str(exc), status=400)
    except ApplyRefused as exc:
        # Previewed again against the stock of now: fixed or moved rows show, and Apply is offered again
        # when every row is valid.
        message = f"{exc} Check the preview below{'' if exc.preview.error_rows else ' and apply again'}."
        return _previewed(request, text, exc.preview, error=message, status=409)
    return _page(request, summary=summary)


COLUMN_HELP = [
    ("sku", "yes", "The product's SKU, exactly as in the catalogue."),
    ("warehouse", "yes", "The warehouse's code (e.g. MAIN)."),
    ("counted_quantity", "one of", "A cycle count: the units on the shelf (on hand). Books the difference."),
    (
        "quantity_change",
        "one of",
        "Units in (positive) or out (negative), with transaction_type: purchase, return (in), damage, theft, "
        "expired (out) or adjustment (either way).",
    ),
    ("transaction_type", "with quantity_change", "purchase, return, adjustment, damage, theft or expired."),
    ("cost_per_unit", "no", "e.g. 3.20 or 3,20 (no thousands separators)."),
    (
        "batch_number",
        "lot-tracked products",
        "The lot, up to 100 characters. Required for a lot-tracked product's receipts, returns and counts (a count "
        "is of that batch); outbound rows without one take the earliest expiry first.",
    ),
    (
        "expiry_date",
        "new lots of products that require one",
        "YYYY-MM-DD. A receipt of a product whose lots must carry an expiry states it; a count or correction of a "
        "batch the item has keeps the batch's date.",
    ),
    ("reference_id", "no", "e.g. the purchase order; the import's id when empty."),
    ("reason", "no", "Shown in the ledger."),
]
