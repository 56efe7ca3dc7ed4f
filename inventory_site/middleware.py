"""Everything under ``/api/`` answers the JSON error contract, whatever ``DEBUG`` is."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase, JsonResponse
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.utils.deprecation import MiddlewareMixin
from rest_framework.response import Response

from inventory_site.api_errors import is_api_request, status_error_body


class ApiJsonErrorsMiddleware(MiddlewareMixin):
    """Replace a non-JSON error response under ``/api/`` with the JSON body for its status.

    Django answers some errors itself, in HTML: an unknown path or a malformed id (404), a body
    it refuses (400), an unhandled exception (500), and under DEBUG its debug pages for all of
    them. Django has already logged an exception by the time its 500 page reaches us, and
    middleware further in (CORS, security headers) has added its headers, which are kept.
    Place this first (after the metrics middleware) so it sees the errors of every other one.
    """

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        """The response itself, or a JSON error in place of an HTML/plain-text one under ``/api/``."""
        if response.status_code < 400 or not is_api_request(request) or _is_json(response):
            return response
        # Our own error body, rendered as HTML by the browsable API (DEBUG, browser Accept), keeps its details.
        data = response.data if isinstance(response, Response) else None
        own = isinstance(data, dict) and "code" in data
        replacement = JsonResponse(
            data if own else status_error_body(request, response.status_code), status=response.status_code
        )
        for header, value in response.items():
            if not header.lower().startswith("content-"):  # Allow, WWW-Authenticate, Vary, CORS ... stay
                replacement[header] = value
        replacement.cookies = response.cookies
        # Not response.close(): it sends request_finished, which would close this request's database
        # connection mid-request (and under the test client, inside the test's transaction).
        return replacement


def _is_json(response: HttpResponseBase) -> bool:
    media_type = response.get("Content-Type", "").split(";")[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


class CommonMiddleware(DjangoCommonMiddleware):
    """Django's, without the trailing-slash redirect under ``/api/``.

    A redirect drops a POST's body (and under DEBUG Django raises instead, a 500); API clients get a
    JSON 404 that names the right path instead (``json_not_found``).
    """

    def should_redirect_with_slash(self, request: HttpRequest) -> bool:
        return not is_api_request(request) and super().should_redirect_with_slash(request)
