"""CSV export of an admin list: exactly the rows the list shows (its filters, search and ordering), streamed.

A ``ModelAdmin`` mixes in ``ChangelistCsvExport``, names its columns and says how one object becomes
a row; the list template links ``export/`` with the list's query string (``admin/export_link.html``).
The ledger can be millions of rows, so rows are read in chunks and written as they are read.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime

from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import path, reverse
from django.utils import timezone

CHUNK_ROWS = 2000
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """One value as a spreadsheet should read it: no ``None``, ISO times, no formulas (CSV injection)."""
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        return "'" + value
    return value


class _Echo:
    """A file that hands back what is written, so ``csv.writer`` produces lines one at a time."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[object]]) -> Iterator[str]:
    """The header line, then one line per row."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_cell(value) for value in row])


def csv_response(*, name: str, header: Sequence[str], rows: Iterable[Sequence[object]]) -> StreamingHttpResponse:
    """A streamed CSV download named ``<name>-<local date and time>.csv``."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response


class ChangelistCsvExport:
    """``ModelAdmin`` mixin: ``<changelist>/export/`` downloads the list as CSV, filtered as the list is."""

    csv_name: str = "export"
    csv_columns: Sequence[str] = ()

    def csv_row(self, obj) -> Sequence[object]:
        """The values of ``csv_columns`` for one object."""
        return [getattr(obj, column) for column in self.csv_columns]

    def csv_queryset(self, queryset: QuerySet) -> QuerySet:
        """The list's queryset, narrowed to what ``csv_row`` reads (joins, no prefetches)."""
        return queryset

    def get_urls(self) -> list:
        opts = self.opts
        export = path(
            "export/",
            self.admin_site.admin_view(self.export_csv_view),
            name=f"{opts.app_label}_{opts.model_name}_export",
        )
        return [export, *super().get_urls()]

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        """The rows of the list this was linked from: the same ModelAdmin ChangeList builds the queryset."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # As the list itself answers a bad filter: back to it, with the admin's "?e=1" notice.
            url = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?{ERROR_FLAG}=1")
        rows = self.csv_queryset(changelist.queryset).iterator(chunk_size=CHUNK_ROWS)
        return csv_response(name=self.csv_name, header=self.csv_columns, rows=(self.csv_row(obj) for obj in rows))
