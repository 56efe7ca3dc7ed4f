"""The Socket.IO server at ``/socket.io/`` (python-socketio, polling and WebSocket transports) and its events.

``inventory_site.asgi`` hands every request under ``/socket.io/`` to ``app``: a request of a session
another worker owns is passed to it (``workers``), a handshake while the channel layer is down is
refused with 503 (as ``/ws/inventory/``'s are), the rest is python-socketio's. A refused connection
(credentials, role) gets ``connect_error`` with a message and ``{code, detail}``; a bad event gets an
``error`` event and the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import engineio
import socketio
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from inventory.consumers import ProtocolError, subscription_for
from inventory.socket_io import protocol, workers
from inventory.socket_io.auth import Refused, authenticate
from inventory.socket_io.bridge import Client, bridge_for
from inventory.ws_layer_outage import (
    CLOSE_REASON,
    CLOSE_TRY_AGAIN_LATER,
    LAYER_ERRORS,
    RETRY_AFTER_SECONDS,
    layer_health,
)

PATH = "/socket.io/"

# python-socketio logs every emit at INFO: only its warnings are worth a line.
_library_logger = logging.getLogger("inventory.socket_io.library")
_library_logger.setLevel(logging.WARNING)


class _EngineServer(engineio.AsyncServer):
    def generate_id(self) -> str:
        return workers.tagged(super().generate_id())  # which worker owns the session (see workers)


class Server(socketio.AsyncServer):
    def _engineio_server_class(self):
        return _EngineServer

    async def close_transport(self, sid: str) -> None:
        """Close a client's connection at the Engine.IO level: socket.io-client reconnects by itself
        (after a Socket.IO disconnect it would not)."""
        eio_sid = self.manager.eio_sid_from_sid(sid, "/")
        socket = self.eio.sockets.get(eio_sid) if eio_sid is not None else None
        if socket is None:
            return
        await self.eio.disconnect(eio_sid)  # a close packet: ends a polling client's session
        if socket.upgraded:
            # Over WebSocket, socket.io-client ignores the close packet (python-engineio leaves the socket open):
            # ending the writer closes the WebSocket itself.
            await socket.queue.put(None)


def _cors_origins(origins: list[str]) -> str | list[str] | None:
    """``SOCKET_IO_CORS_ORIGIN`` as python-engineio takes it (None: the server's own origin only)."""
    if not origins:
        return None  # not []: that would turn the origin check off
    return "*" if "*" in origins else origins


sio = Server(
    async_mode="asgi",
    cors_allowed_origins=_cors_origins(settings.SOCKET_IO_CORS_ORIGIN),
    max_http_buffer_size=settings.WS_MAX_MESSAGE_BYTES,
    logger=_library_logger,
    engineio_logger=_library_logger,
)
_engine_app = socketio.ASGIApp(sio, socketio_path=PATH.strip("/"))


async def app(scope, receive, send) -> None:
    """Every request under ``/socket.io/``."""
    await workers.listen(serve_here)
    owner = workers.owner_elsewhere(scope)
    if owner is not None:
        await workers.forward(owner, scope, receive, send)
        return
    if workers.session_id(scope) is None and not await layer_health().available(get_channel_layer()):
        await _refuse_handshake(scope, receive, send)
        return
    await serve_here(scope, receive, send)


async def serve_here(scope, receive, send) -> None:
    """python-socketio's app, for a session of this process (or a handshake).

    A long-poll (a GET of a session) waits for something to send for up to 25 s (the ping interval), and
    python-engineio does not notice when its client goes away meanwhile: the request would hold its task,
    and a server shutting down would wait for it. So the client's disconnect ends it at once.
    """
    if scope["type"] != "http" or scope.get("method") != "GET" or workers.session_id(scope) is None:
        await _engine_app(scope, receive, send)
        return
    first = await receive()
    gone = asyncio.ensure_future(receive())  # http.disconnect: the client left, or the answer was sent
    delivered = False

    async def receive_once() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return first
        return await asyncio.shield(gone)

    serving = asyncio.ensure_future(_engine_app(scope, receive_once, send))
    try:
        await asyncio.wait((serving, gone), return_when=asyncio.FIRST_COMPLETED)
        if not serving.done():
            serving.cancel()  # python-engineio ends the poll (and the session: its client is gone)
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await serving
            return
        await serving
    finally:
        gone.cancel()


async def _refuse_handshake(scope, receive, send) -> None:
    """503 with Retry-After while Redis does not answer: socket.io-client retries with its backoff."""
    body = json.dumps({"code": "service_unavailable", "detail": CLOSE_REASON}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await receive()  # websocket.connect
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER, "reason": CLOSE_REASON})


# --- events --------------------------------------------------------------------------------------------


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
    try:
        viewer = await database_sync_to_async(authenticate)(
            auth=auth, cookie_header=environ.get("HTTP_COOKIE", ""), origin=environ.get("HTTP_ORIGIN")
        )
    except Refused as exc:
        raise socketio.exceptions.ConnectionRefusedError(exc.detail, {"code": exc.code, "detail": exc.detail}) from None
    bridge_for(sio).add(Client(sid, viewer))


@sio.event
async def disconnect(sid: str, reason: Any = None) -> None:
    await bridge_for(sio).forget(sid)


def _subscribe(kind: str):
    async def handler(sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        async def subscribe(client: Client, fields: dict[str, Any]) -> dict[str, Any]:
            group, named = subscription_for(kind, fields)
            since = protocol.since_of(fields)
            return await bridge_for(sio).subscribe(client, kind=kind, group=group, fields=named, since=since)

        return await _answer(sid, f"subscribe:{kind}", data, subscribe)

    return handler


def _unsubscribe(kind: str):
    async def handler(sid: str, data: Any = None, *_: Any) -> dict[str, Any]:
        async def unsubscribe(client: Client, fields: dict[str, Any]) -> dict[str, Any]:
            group, named = subscription_for(kind, fields)
            await bridge_for(sio).unsubscribe(client, group)
            return {"ok": True, "room": group, **named}

        return await _answer(sid, f"unsubscribe:{kind}", data, unsubscribe)

    return handler


for _kind in protocol.SUBSCRIPTION_KINDS:
    sio.on(f"subscribe:{_kind}", _subscribe(_kind))
    sio.on(f"unsubscribe:{_kind}", _unsubscribe(_kind))


@sio.on("*")
async def unknown_event(event: str, sid: str, *_: Any) -> dict[str, Any]:
    error = ProtocolError(
        "unknown_event",
        f"Unknown event {event[:60]!r}; send subscribe:<kind> or unsubscribe:<kind>, "
        f"kind one of {', '.join(protocol.SUBSCRIPTION_KINDS)}.",
    )
    return await _refuse(sid, event, error)


async def _answer(sid: str, event: str, data: Any, action) -> dict[str, Any]:
    """Run an event's action; a bad request answers ``error`` (and the acknowledgement) instead."""
    client = bridge_for(sio).clients.get(sid)
    if client is None:  # closed meanwhile
        return {"ok": False, "code": "not_connected", "detail": "The connection is closing."}
    try:
        return await action(client, protocol.request_fields(data))
    except ProtocolError as exc:
        return await _refuse(sid, event, exc)
    except LAYER_ERRORS as exc:  # Redis down: every connection closes, clients reconnect later
        layer_health().mark_down(exc)
        return {"ok": False, "code": "service_unavailable", "detail": CLOSE_REASON}


async def _refuse(sid: str, event: str, exc: ProtocolError) -> dict[str, Any]:
    error = protocol.error_payload(exc, event)
    await sio.emit(protocol.ERROR_EVENT, error, to=sid)
    return error
