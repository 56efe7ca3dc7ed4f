"""What the live feed does while the channel layer (Redis) does not answer.

Before, a Redis outage made every consumer's layer receive raise: each open socket dropped without a close
frame (1006) with a traceback, and every new handshake was accepted, then dropped the same way. Now, per
server process (event loop):

- the first layer call that fails marks the layer *down*, and every open socket closes with 1013 "try
  again later" at once (they all wait on one shared outage future, not each on a failing call of its own);
- while it is down, a handshake is refused with HTTP 503, ``Retry-After`` and the API's JSON error
  ``service_unavailable`` (like a database outage), not accepted: a client that resets its reconnect
  backoff once a socket opens (the ops page does) keeps backing off. Under a server that cannot answer a
  handshake with a response (channels' test communicator), it is accepted and closed with 1013 at once.
  Whether Redis answers again is checked with a PING at most once per ``PROBE_INTERVAL``, shared by the
  handshakes;
- the outage is logged at most once a second (``RateLimitedLogger``), without tracebacks.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import weakref
from collections.abc import Awaitable
from typing import Any

from redis import exceptions as redis_exceptions

from inventory.rate_limited_log import RateLimitedLogger

CLOSE_TRY_AGAIN_LATER = 1013
CLOSE_REASON = "The live feed is unavailable (Redis does not answer); reconnect later."
# What a layer call raises when Redis is down, hung or out of connections. Not OSError: a client that went
# away raises uvicorn's ClientDisconnected, an OSError, and that is no outage.
LAYER_ERRORS = (redis_exceptions.ConnectionError, redis_exceptions.TimeoutError)
PROBE_INTERVAL = 1.0  # seconds between two PINGs while the layer is down
PROBE_TIMEOUT = 2.0
STILL_DOWN_EVERY = 10.0  # seconds between two "still does not answer" lines during a long outage
RETRY_AFTER_SECONDS = 5  # of a handshake refused during an outage
CANCEL_AGAIN_AFTER = 0.5  # seconds; see receive_unless
UNAVAILABLE = "layer.unavailable"  # the message the guarded receive dispatches when the layer went down

logger = logging.getLogger(__name__)
_log = RateLimitedLogger(logger, interval=1.0)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


async def receive_unless(receive: Awaitable[Any], outage: asyncio.Future) -> asyncio.Future:
    """Run a layer ``receive`` until it finishes or ``outage`` resolves; the finished (or cancelled) future.

    On the outage, or when the caller itself is cancelled, the receive ends here, within the caller's
    life. Python 3.11's asyncio.wait_for (in redis-py's connect) drops a cancel that lands just as the
    connection is made; channels-redis then polls Redis on and on (BZPOPMIN every 5 s), for ever, so a
    cancel is repeated until it took.
    """
    receiving = asyncio.ensure_future(receive)
    try:
        await asyncio.wait((receiving, outage), return_when=asyncio.FIRST_COMPLETED)
    finally:
        while not receiving.done():
            receiving.cancel()
            await asyncio.wait((receiving,), timeout=CANCEL_AGAIN_AFTER)
    return receiving


class LayerHealth:
    """Whether the channel layer answers, as the consumers of one event loop see it."""

    def __init__(self) -> None:
        self.down_since: float | None = None
        # Resolved when the layer goes down; a new one once it answers again.
        self.outage: asyncio.Future = asyncio.get_running_loop().create_future()
        self.open_sockets = 0
        self.refused = 0
        self._probe: asyncio.Task | None = None
        self._probed_at = float("-inf")
        self._reported_at = float("-inf")

    @property
    def down(self) -> bool:
        return self.down_since is not None

    def mark_down(self, exc: BaseException) -> None:
        if self.down:
            return
        self.down_since = self._probed_at = self._reported_at = time.monotonic()  # the failure: the first probe
        self.refused = 0
        self.outage.set_result(None)
        _log.warning(
            "WebSocket: the channel layer (Redis) does not answer (%s); closing %d open socket(s) with 1013 "
            "and refusing new ones until it does",
            _describe(exc),
            self.open_sockets,
        )

    async def available(self, layer: Any) -> bool:
        """True unless the layer is down; while it is, PING it (at most once per PROBE_INTERVAL) first."""
        if not self.down:
            return True
        if self._probe is None and time.monotonic() - self._probed_at >= PROBE_INTERVAL:
            self._probe = asyncio.ensure_future(self._ping(layer))
        if self._probe is not None:
            await asyncio.shield(self._probe)  # shared: one handshake going away must not cancel it
        if self.down:
            self.refused += 1
            return False
        return True

    async def _ping(self, layer: Any) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                for index in range(getattr(layer, "ring_size", 1)):
                    await layer.connection(index).ping()
        except Exception as exc:  # a Redis error or the timeout: it does not answer yet
            if time.monotonic() - self._reported_at < STILL_DOWN_EVERY:
                return
            self._reported_at = time.monotonic()
            _log.warning(
                "WebSocket: the channel layer (Redis) still does not answer after %.0f s (%s); %d handshake(s) refused",
                time.monotonic() - self.down_since,
                _describe(exc),
                self.refused,
            )
        else:
            down_for = time.monotonic() - self.down_since
            self.down_since = None
            self.outage = asyncio.get_running_loop().create_future()
            _log.info(
                "WebSocket: the channel layer (Redis) answers again after %.1f s; %d handshake(s) were refused",
                down_for,
                self.refused,
            )
        finally:
            self._probed_at = time.monotonic()
            self._probe = None


_health: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LayerHealth] = weakref.WeakKeyDictionary()


def layer_health() -> LayerHealth:
    """The running event loop's view of the channel layer."""
    loop = asyncio.get_running_loop()
    health = _health.get(loop)
    if health is None:
        health = _health[loop] = LayerHealth()
    return health


class LayerOutageMixin:
    """For an ``AsyncJsonWebsocketConsumer`` that uses the channel layer (see the module).

    The consumer accepts with ``accept_unless_layer_down()``, reports a failed layer call of a handler to
    ``layer_failed()``, and skips layer calls in ``disconnect`` while ``layer_down``. Nothing is sent after
    the socket was closed (``closing``).
    """

    closing = False
    _counted = False

    # AsyncConsumer.__call__ assigns ``self.channel_receive`` (the layer's receive for this consumer's
    # channel) and then hands ``self.channel_receive`` to its dispatch loop: reading it back gives the
    # guarded receive instead.
    @property
    def channel_receive(self):
        return self._guarded_layer_receive

    @channel_receive.setter
    def channel_receive(self, receive) -> None:
        self._layer_receive = receive
        self._layer_open = asyncio.Event()  # set once the socket is accepted: only then is the layer read

    @property
    def layer_down(self) -> bool:
        return layer_health().down

    async def accept_unless_layer_down(self) -> bool:
        """Accept the handshake, unless the layer is down: then refuse it (503). Whether it is open."""
        health = layer_health()
        if not await health.available(self.channel_layer):
            await self._refuse_handshake()
            return False
        await self.accept()
        health.open_sockets += 1
        self._counted = True
        self._layer_open.set()
        return True

    async def _refuse_handshake(self) -> None:
        """HTTP 503 with Retry-After and the API's JSON error, where the server can send a response to a
        handshake (uvicorn can: the ASGI ``websocket.http.response`` extension); elsewhere the socket is
        accepted and closed at once with 1013, before any other frame."""
        if "websocket.http.response" not in (self.scope.get("extensions") or {}):
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN_LATER, reason=CLOSE_REASON)
            return
        self.closing = True
        body = json.dumps({"code": "service_unavailable", "detail": CLOSE_REASON}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        await self.base_send({"type": "websocket.http.response.start", "status": 503, "headers": headers})
        await self.base_send({"type": "websocket.http.response.body", "body": body})

    async def layer_failed(self, exc: BaseException, *, close: bool = True) -> None:
        """A layer call of a handler failed: the layer is down, this socket (and every other) closes."""
        layer_health().mark_down(exc)
        if close:
            await self.close(code=CLOSE_TRY_AGAIN_LATER, reason=CLOSE_REASON)

    async def _guarded_layer_receive(self) -> dict[str, Any]:
        """The layer's receive, or ``layer.unavailable`` as soon as the layer is down (for any consumer)."""
        await self._layer_open.wait()
        health = layer_health()
        outage = health.outage
        if outage.done():
            return {"type": UNAVAILABLE}
        receiving = await receive_unless(self._layer_receive(), outage)
        if receiving.cancelled():
            return {"type": UNAVAILABLE}
        exc = receiving.exception()
        if exc is None:
            return receiving.result()
        if not isinstance(exc, LAYER_ERRORS):
            raise exc
        health.mark_down(exc)
        return {"type": UNAVAILABLE}

    async def layer_unavailable(self, message: dict[str, Any]) -> None:
        await self.close(code=CLOSE_TRY_AGAIN_LATER, reason=CLOSE_REASON)

    async def close(self, code=None, reason=None) -> None:
        if self.closing:
            return
        self.closing = True
        await super().close(code, reason)

    async def send_json(self, content: Any, close: bool = False) -> None:
        if self.closing:
            return  # closed by the server: a frame after the close frame is a protocol error
        await super().send_json(content, close)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        if self._counted:
            self._counted = False
            layer_health().open_sockets -= 1
        await super().websocket_disconnect(message)
