"""What the Socket.IO events carry, in and out (README, "Socket.IO").

Client -> server: ``subscribe:<kind>`` / ``unsubscribe:<kind>`` for the kinds of ``/ws/inventory/``
(``inventory``, ``low-stock``, ``warehouse``), with the same fields. Ids may arrive as strings, as the
seed's example sends them: an integer string counts as the integer, anything else is an error.
Server -> client: ``inventory:update`` (the item JSON as the API returns it, plus ``event_id``),
``low-stock:alert`` (the alert's fields, plus ``event_id``), and ``error``.
"""

from __future__ import annotations

import json
from typing import Any

from inventory.consumers import MAX_ID, ProtocolError

SUBSCRIPTION_KINDS = ("inventory", "low-stock", "warehouse")
ERROR_EVENT = "error"
_ID_FIELDS = ("product_id", "warehouse_id", "since")
_MAX_DIGITS = 19  # 2**63 - 1 has 19 digits; a longer string is no id (and int() of a huge one is slow)


def request_fields(data: Any) -> dict[str, Any]:
    """An event's data with integer strings in the id fields turned into integers (validated later)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProtocolError(
            "invalid_message", f'The data must be an object such as {{"product_id": 12}}, got {_shown(data)}.'
        )
    return {key: _integer(value) if key in _ID_FIELDS else value for key, value in data.items()}


def _integer(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip()
        if text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS:
            return int(text)
    return value


def since_of(fields: dict[str, Any]) -> int | None:
    """The subscription's ``since`` (an event id >= 0), or None."""
    value = fields.get("since")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_ID:
        raise ProtocolError("invalid_field", f"since must be an event id (an integer >= 0), got {_shown(value)}.")
    return value


def client_payload(message: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A live-feed message (``inventory.broadcast``) as a Socket.IO event: its name and data."""
    payload = {**message["data"], "event_id": message["event_id"]}
    if message.get("replay"):
        payload["replay"] = True
    return message["type"], payload


def error_payload(exc: ProtocolError, event: str) -> dict[str, Any]:
    """What ``error`` and a refused event's acknowledgement carry."""
    return {"ok": False, "code": exc.code, "detail": exc.detail, "event": event[:60], **exc.extra}


def _shown(value: Any) -> str:
    return json.dumps(value, default=str)[:40]
