"""Engine.IO sessions across the worker processes of one server (``uvicorn --workers N``, as ``make serve``).

An Engine.IO session lives in the process that answered its handshake, but the workers share one
listening socket, so the session's next requests (the polling GETs and POSTs, the WebSocket upgrade)
land on any worker; the others would answer "Invalid session" and the client would never connect.
Socket.IO's usual answer is sticky sessions in a load balancer; nothing stands in front of our workers.

So a session id starts with the id of the process that owns it (``<pid>.<random>``), every worker
listens on a Unix socket of its own in a directory private to the user and to the server (named after
the workers' parent process), and a request for another worker's session is passed through whole: the
ASGI scope, then every message each way (HTTP or WebSocket), as length-prefixed JSON frames. The owner
runs the Engine.IO app on it as if the request had come straight in. A handshake is always answered
where it lands, and a client that upgrades to WebSocket on its owner talks to it directly; otherwise
its WebSocket stays relayed by the worker it reached (one extra local hop).
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import json
import logging
import os
import stat
import struct
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

logger = logging.getLogger(__name__)

App = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

_HEADER = struct.Struct(">I")
_MAX_FRAME = 64 * 1024 * 1024
# What the owner needs of a request's scope (not the server's lifespan state or other objects).
_SCOPE_KEYS = (
    "type",
    "asgi",
    "http_version",
    "method",
    "scheme",
    "path",
    "raw_path",
    "root_path",
    "query_string",
    "headers",
    "client",
    "server",
    "subprotocols",
    "extensions",
)

_listening: dict[int, asyncio.Future] = {}
_servers: list[asyncio.Server] = []


def tagged(session_id: str) -> str:
    """A new session id, marked as this process's."""
    return f"{os.getpid()}.{session_id}"


def session_id(scope: dict[str, Any]) -> str | None:
    """The Engine.IO session a request belongs to (None: a handshake)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid")
    return values[0] if values else None


def owner_elsewhere(scope: dict[str, Any]) -> int | None:
    """The process id of another worker that owns the request's session; None when it is ours (or none)."""
    sid = session_id(scope)
    if sid is None:
        return None
    head, dot, _ = sid.partition(".")
    if not dot or not head.isascii() or not head.isdigit() or len(head) > 10:
        return None
    pid = int(head)
    return None if pid == os.getpid() else pid


def _directory() -> Path:
    """Where this server's workers listen: private to the user, one folder per server (the workers' parent)."""
    top = Path(tempfile.gettempdir()) / f"inventory-socketio-{os.getuid()}"
    top.mkdir(mode=0o700, exist_ok=True)
    info = top.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(f"{top} is not a directory of this user")
    if stat.S_IMODE(info.st_mode) != 0o700:
        top.chmod(0o700)
    server = top / str(os.getppid())
    server.mkdir(mode=0o700, exist_ok=True)
    return server


def _socket_path(pid: int) -> Path:
    return _directory() / f"{pid}.sock"


async def listen(app: App) -> None:
    """Make sure this process listens for requests of its sessions (before it hands out a session id)."""
    pid = os.getpid()
    started = _listening.get(pid)
    if started is None:
        started = _listening[pid] = asyncio.ensure_future(_start(app))
    try:
        await asyncio.shield(started)
    except Exception:
        _listening.pop(pid, None)  # the next request tries again
        raise


async def _start(app: App) -> None:
    path = _socket_path(os.getpid())
    _sweep(path.parent.parent)
    path.unlink(missing_ok=True)  # left by a process that had this id before
    # Kept referenced: a server object that is garbage-collected stops listening.
    _servers.append(await asyncio.start_unix_server(lambda r, w: _serve(app, r, w), path=str(path)))
    path.chmod(0o600)
    atexit.register(path.unlink, missing_ok=True)


def _sweep(top: Path) -> None:
    """Remove what processes that are gone left behind (a worker process ends without running atexit)."""
    for entry in top.glob("*/*.sock"):
        if not _alive(entry.stem):
            entry.unlink(missing_ok=True)
    for folder in top.iterdir():
        if folder.is_dir() and not _alive(folder.name):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: a server that is gone, whose workers are gone too


def _alive(pid: str) -> bool:
    if not pid.isdigit():
        return True  # not ours to judge
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- the owner: run a passed-through request ----------------------------------------------------------


async def _serve(app: App, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        scope = await _read(reader)
        if scope is None:
            return
        gone = (
            {"type": "http.disconnect"} if scope["type"] == "http" else {"type": "websocket.disconnect", "code": 1006}
        )

        async def receive() -> dict[str, Any]:
            message = await _read(reader)
            return gone if message is None else message

        async def send(message: dict[str, Any]) -> None:
            await _write(writer, message)

        await app(scope, receive, send)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass  # the worker that passed the request on (or its client) went away
    except Exception:
        logger.exception("socket.io: a request passed on by another worker failed")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


# --- the worker the request reached: pass it on ------------------------------------------------------


async def forward(pid: int, scope: dict[str, Any], receive, send) -> None:
    """Pass a request through to the worker ``pid`` that owns its session, and its answer back."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(_socket_path(pid)))
    except OSError:
        await _unknown_session(scope, receive, send)  # that worker is gone: the client starts a new session
        return
    upstream: asyncio.Task | None = None
    try:
        await _write(writer, {key: scope[key] for key in _SCOPE_KEYS if key in scope})
        upstream = asyncio.create_task(_pass_requests(receive, writer))
        while (message := await _read(reader)) is not None:
            await send(message)
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        if upstream is not None:
            upstream.cancel()
            with contextlib.suppress(BaseException):
                await upstream
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _pass_requests(receive, writer: asyncio.StreamWriter) -> None:
    while True:
        message = await receive()
        await _write(writer, message)
        if message["type"] in ("http.disconnect", "websocket.disconnect"):
            return


async def _unknown_session(scope: dict[str, Any], receive, send) -> None:
    """What Engine.IO answers for a session it does not know."""
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": "Invalid session"})
        return
    body = b'"Invalid session"'
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 400, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- frames ------------------------------------------------------------------------------------------


async def _write(writer: asyncio.StreamWriter, message: dict[str, Any]) -> None:
    data = json.dumps(_portable(message), separators=(",", ":")).encode()
    writer.write(_HEADER.pack(len(data)) + data)
    await writer.drain()


async def _read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next message, or None at the end of the stream."""
    try:
        (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
        if size > _MAX_FRAME:
            raise ConnectionError(f"frame of {size} bytes")
        return _restored(json.loads(await reader.readexactly(size)))
    except asyncio.IncompleteReadError:
        return None


def _portable(value: Any) -> Any:
    """ASGI messages as JSON: bytes become ``{"$b": base64}``, tuples lists."""
    if isinstance(value, bytes | bytearray):
        return {"$b": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {key: _portable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_portable(item) for item in value]
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$b" in value:
            return base64.b64decode(value["$b"])
        return {key: _restored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restored(item) for item in value]
    return value
