"""A member of one Channels group, inside the bench process: it stamps what the relay sends to the layer.

``relay_lag`` joins the hot item's product group with it while ``hot_sku_reserve`` runs. That does two
things: the relay really sends to the layer (it skips groups without members, and nobody else listens
to the hot product), and every message's arrival is stamped with ``time.time()`` (wall-clock seconds,
the clock of the event log's ``created_at`` on this machine), so the bench can compute commit ->
delivered exactly for every event, next to the relay's own bucketed histogram.

It uses a layer of its own, configured like the app's (``CHANNEL_LAYERS["default"]``: same Redis, same
prefix) but with a socket timeout above channels-redis' 5 s ``BZPOPMIN``: redis-py 8 reads with a
5 s socket timeout by default, so an idle reader on the app's layer fails with "Timeout reading".
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

STOP = "bench.stop"  # a message this listener sends itself to stop (no cancelled receive)
SOCKET_TIMEOUT = 30.0  # seconds; above channels-redis' brpop_timeout (5 s)


def _layer():
    from django.conf import settings
    from django.utils.module_loading import import_string

    layers = getattr(settings, "CHANNEL_LAYERS", {})
    config = dict(layers.get("default", {}).get("CONFIG", {}))
    backend = layers.get("default", {}).get("BACKEND", "")
    if not backend.startswith(("channels_redis.core.", "inventory.channel_layer.")):
        raise RuntimeError("the bench needs the Redis channel layer (REDIS_URL)")
    hosts = [
        {"address": host, "socket_timeout": SOCKET_TIMEOUT}
        if isinstance(host, str)
        else {**host, "socket_timeout": SOCKET_TIMEOUT}
        for host in config.pop("hosts", ["redis://127.0.0.1:6379/0"])
    ]
    return import_string(backend)(hosts=hosts, **config)


class LayerListener:
    def __init__(self, group: str) -> None:
        self.group = group
        self.received: list[tuple[float, dict[str, Any]]] = []  # (arrival, layer message)
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer = None
        self._channel = ""
        self._thread = threading.Thread(target=self._run, name="bench-layer-listener", daemon=True)

    def __enter__(self) -> LayerListener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError(f"layer listener: not in group {self.group} within {timeout:.0f}s")
        if self._error is not None:
            raise RuntimeError(f"layer listener failed: {self._error}") from self._error

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start() or stop()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        layer = _layer()
        self._layer = layer
        self._loop = asyncio.get_running_loop()
        self._channel = await layer.new_channel("bench-lag.")
        await layer.group_add(self.group, self._channel)
        self._ready.set()
        try:
            while True:
                message = await layer.receive(self._channel)
                if message.get("type") == STOP:
                    return
                self.received.append((time.time(), message))
        finally:
            await layer.group_discard(self.group, self._channel)

    def stop(self, timeout: float = 15.0) -> None:
        if self._loop is not None and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(self._layer.send(self._channel, {"type": STOP}), self._loop)
            future.result(timeout)
        self._thread.join(timeout)
        if self._error is not None:
            raise RuntimeError(f"layer listener failed: {self._error}") from self._error
        if self._thread.is_alive():
            raise RuntimeError(f"layer listener: did not stop within {timeout:.0f}s")

    def versions(self) -> list[tuple[float, int, int]]:
        """``(arrival, item version, event id)`` of every ``inventory:update`` received, in arrival order."""
        out = []
        for arrived, message in self.received:
            body = message.get("message") or {}
            if body.get("type") == "inventory:update":
                out.append((arrived, int(body["data"]["version"]), int(body.get("event_id") or 0)))
        return out
