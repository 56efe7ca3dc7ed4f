"""One error contract for the whole API: ``{"code": "...", "detail": "...", ...}``.

Domain errors carry their own code and status; DRF's errors get stable codes here; database
conflicts that slip past validation (a race on a unique value, a protected delete) become 409.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from inventory.exceptions import DomainError

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
    if isinstance(exc, exceptions.APIException):
        headers = {}
        if auth := getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = auth
        if wait := getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(wait))
        code = next((c for cls, c in _CODES.items() if isinstance(exc, cls)), None) or exc.default_code
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        set_rollback()
        return Response(error_body(code, str(detail)), status=exc.status_code, headers=headers)
    return None


def json_not_found(request: HttpRequest, exception: Exception | None = None):
    """404 for unknown URLs: JSON under /api/ (the storefront's contract), Django's page elsewhere."""
    if request.path.startswith(("/api/", "/health")):
        return JsonResponse(error_body("not_found", f"No endpoint at {request.path}."), status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def json_server_error(request: HttpRequest):
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side; it has been logged."), status=500
        )
    from django.views.defaults import server_error

    return server_error(request)
