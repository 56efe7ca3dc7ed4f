"""The size limit of incoming WebSocket messages (``WS_MAX_MESSAGE_BYTES``), enforced in the app.

uvicorn's own limit (``--ws-max-size``, 16 MiB unless told) is set a little above ours by runstack, so a
huge frame is refused before it is buffered; this middleware makes the limit hold under any server
(tests, another ASGI server) and closes with the standard code 1009 "message too big".
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

CLOSE_TOO_BIG = 1009
# uvicorn's --ws-max-size: our limit plus room, so that a message just over the limit meets our close (with
# its reason) and only a far bigger one is cut by the server.
SERVER_MARGIN = 64 * 1024


def server_max_size(limit: int | None = None) -> int:
    """The ``--ws-max-size`` runstack passes to uvicorn for a ``WS_MAX_MESSAGE_BYTES`` of ``limit``."""
    return (limit if limit is not None else settings.WS_MAX_MESSAGE_BYTES) + SERVER_MARGIN


def message_size(message: dict[str, Any], limit: int) -> int:
    """The size in bytes of a ``websocket.receive`` message's payload (text counts as UTF-8).

    Encoding a text only when it matters: a text of n characters takes n to 4n bytes.
    """
    text = message.get("text")
    if text is None:
        return len(message.get("bytes") or b"")
    if len(text) > limit or 4 * len(text) <= limit:
        return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


class MessageSizeLimit:
    """ASGI middleware for WebSocket connections: a message over the limit closes the socket with 1009.

    The inner application never sees that message; it gets ``websocket.disconnect`` (code 1009) instead,
    and anything it sends afterwards is dropped (the socket is closed).
    """

    def __init__(self, app, limit: int | None = None) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        limit = self.limit if self.limit is not None else settings.WS_MAX_MESSAGE_BYTES
        closed = False

        async def limited_receive() -> dict[str, Any]:
            nonlocal closed
            if closed:
                return {"type": "websocket.disconnect", "code": CLOSE_TOO_BIG}
            message = await receive()
            if message["type"] == "websocket.receive":
                size = message_size(message, limit)
                if size > limit:
                    closed = True
                    logger.info("WebSocket message of %d bytes over the limit of %d: closing with 1009", size, limit)
                    await send(
                        {
                            "type": "websocket.close",
                            "code": CLOSE_TOO_BIG,
                            "reason": f"Message too big: at most {limit} bytes.",
                        }
                    )
                    return {"type": "websocket.disconnect", "code": CLOSE_TOO_BIG}
            return message

        async def guarded_send(message: dict[str, Any]) -> None:
            if not closed:
                await send(message)

        return await self.app(scope, limited_receive, guarded_send)
