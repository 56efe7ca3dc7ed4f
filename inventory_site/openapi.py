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
}


def error_responses(*statuses: int) -> dict[int, OpenApiResponse]:
    """Error responses for an endpoint; 401 and 403 are always possible."""
    return {
        status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status])
        for status in sorted({401, 403, *statuses})
    }
