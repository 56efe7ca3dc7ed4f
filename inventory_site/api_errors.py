"""One error contract for the whole API: ``{"code": "...", "detail": "...", ...}``.

Domain errors carry their own code and status; DRF's errors get stable codes here; database
conflicts that slip past validation (a race on a unique value, a protected delete) become 409.
Errors Django answers itself (unknown paths, DEBUG pages) get a body from ``status_error_body``
through ``inventory_site.middleware.ApiJsonErrorsMiddleware``.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from inventory.exceptions import DomainError
from inventory_site.throttles import throttle_refused_credentials

logger = logging.getLogger(__name__)

_CODES: dict[type, str] = {
    exceptions.ParseError: "malformed_request",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
}


def _first_message(errors: Any, prefix: str = "") -> str:
    """The first validation message, with the path of the field it belongs to."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            path = key if key == "non_field_errors" else (f"{prefix}.{key}" if prefix else str(key))
            return _first_message(value, "" if key == "non_field_errors" else path)
    if isinstance(errors, list) and errors:
        for index, value in enumerate(errors):
            if value:
                nested = isinstance(value, dict | list)
                return _first_message(value, f"{prefix}[{index}]" if nested else prefix)
    text = str(errors)
    return f"{prefix}: {text}" if prefix else text


def error_body(code: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"code": code, "detail": detail, **extra}


API_PREFIX = "/api/"
SERVER_ERROR_DETAIL = "Something went wrong on our side; it has been logged."

# The body of an error that carries nothing but its status (Django's own 404/405/400/500 pages).
_STATUS_ERRORS: dict[int, tuple[str, str]] = {
    400: ("malformed_request", "The request could not be understood."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "No endpoint at {path}."),
    405: ("method_not_allowed", "Method {method} is not allowed at {path}."),
    406: ("not_acceptable", "No representation of this resource matches the Accept header."),
    413: ("payload_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Unsupported media type; send application/json."),
    429: ("throttled", "Too many requests; retry later."),
    500: ("server_error", SERVER_ERROR_DETAIL),
}


def is_api_request(request: HttpRequest) -> bool:
    """Whether the request is under ``/api/``, where every answer follows the JSON contract."""
    return request.path_info.startswith(API_PREFIX)


def status_error_body(request: HttpRequest, status_code: int) -> dict[str, Any]:
    """The JSON error body for a bare status, e.g. ``{"code": "not_found", "detail": "No endpoint at /x."}``."""
    if status_code in _STATUS_ERRORS:
        code, detail = _STATUS_ERRORS[status_code]
        detail = detail.format(path=request.path, method=request.method)
        return error_body(code, detail + (slash_hint(request) if status_code == 404 else ""))
    try:
        phrase = HTTPStatus(status_code).phrase
    except ValueError:
        phrase = "Server error" if status_code >= 500 else "Request refused"
    return error_body(re.sub(r"[^a-z0-9]+", "_", phrase.lower()).strip("_"), f"{phrase}.")


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(error_body(exc.code, exc.detail, **exc.data), status=exc.status_code)
    if isinstance(exc, exceptions.ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        detail = f"Invalid input: {_first_message(errors)}"
        return Response(error_body("invalid", detail, errors=errors), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, RequestDataTooBig):
        # Raised when the body is first read; Django alone would answer an HTML 400.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            error_body("payload_too_large", f"The request body is larger than the limit of {limit} bytes."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, ProtectedError | RestrictedError):
        set_rollback()
        return Response(
            error_body("protected", "This object has stock or history and cannot be deleted; deactivate it instead."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, IntegrityError):
        # Validation checks come first; this is a concurrent writer winning a race on a unique value.
        logger.warning("integrity error mapped to 409: %s", exc)
        set_rollback()
        return Response(
            error_body("conflict", "The request conflicts with a concurrent change; retry it."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # A refused request counts against its IP's rate too: past it, 429 instead of 401.
        exc = throttle_refused_credentials(context.get("request"), context.get("view")) or exc
    if isinstance(exc, exceptions.APIException):
        headers, extra = {}, {}
        if auth := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
            if isinstance(exc, exceptions.Throttled):
                extra["retry_after"] = int(wait)
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None) or exc.default_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        set_rollback()
        return Response(error_body(code, str(detail), **extra), status=exc.status_code, headers=headers)
    return None


def json_not_found(request: HttpRequest, exception: Exception | None = None):
    """404 for unknown URLs: JSON under /api/ (the storefront's contract), Django's page elsewhere."""
    if is_api_request(request) or request.path_info.startswith("/health"):
        return JsonResponse(status_error_body(request, 404), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_server_error(request: HttpRequest):
    if is_api_request(request):
        return JsonResponse(status_error_body(request, 500), status=500)
    from django.views.defaults import server_error

    return server_error(request)


def slash_hint(request: HttpRequest) -> str:
    """`` Did you mean /path/?`` when the path with a trailing slash exists, else ``""``."""
    if request.path_info.endswith("/"):
        return ""
    try:
        resolve(request.path_info + "/")
    except Resolver404:
        return ""
    return f" Did you mean {request.path}/?"
