"""Small helpers for drf-spectacular annotations."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse

from inventory.serializers import ErrorSerializer

_DESCRIPTIONS = {
    400: "Invalid input (`code`: invalid, malformed_request)",
    401: "No or bad credentials (`code`: not_authenticated, authentication_failed)",
    403: "The role may not do this (`code`: permission_denied)",
    404: "Unknown id, or a page past the end (`code`: not_found)",
    409: "Conflicts with the current state (see `code`)",
    410: "The cursor is older than the retained events (`code`: events_expired)",
    413: "The body is over 2.5 MB (`code`: payload_too_large)",
    503: "The database is unavailable; retry after `Retry-After` seconds (`code`: service_unavailable)",
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error responses for an endpoint; 401 and 403 are always possible."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in sorted({401, 403, *statuses})
    }
