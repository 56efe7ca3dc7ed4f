"""Helpers of the WebSocket limit and Redis outage tests: a real uvicorn + relay on a Redis of the test's own,
and asyncio clients (the ``websockets`` library) that record how their connection ended."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.processes import relay_process, service_env, serving_asgi

WAIT = 90.0  # seconds: generous deadlines, only reached when something is broken


def raise_fd_limit(needed: int) -> None:
    """Make sure this process (and the servers it starts, which inherit it) may open ``needed`` files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        assert hard == resource.RLIM_INFINITY or hard >= needed, f"ulimit -n is {hard}; the test needs {needed}"
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@contextlib.contextmanager
def stack(tmp_path: Path, redis_url: str, prefix: str, **env: str) -> Iterator[str]:
    """One uvicorn worker and a ``relay_events`` on ``redis_url``; yields the server's base URL."""
    environment = service_env(REDIS_URL=redis_url, CACHE_KEY_PREFIX=prefix, **env)
    with (
        relay_process(environment, tmp_path / "relay.log"),
        serving_asgi(environment, tmp_path / "server.log") as base_url,
    ):
        yield base_url


def redis_clients(port: int) -> int:
    """How many connections the redis-server on ``port`` has open (this call's own not counted)."""
    import redis

    with redis.Redis(port=port, socket_timeout=5) as connection:
        return int(connection.info("clients")["connected_clients"]) - 1


def ws_url(base_url: str, token: str) -> str:
    return base_url.replace("http://", "ws://") + f"/ws/inventory/?token={token}"


@dataclass
class Client:
    """A connected client; ``frames`` are the JSON frames received, ``close_code`` is set once it ended."""

    ws: ClientConnection
    frames: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None
    close_reason: str = ""
    _reader: asyncio.Task | None = None

    def start(self) -> Client:
        self._reader = asyncio.ensure_future(self._read())
        return self

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(json.loads(raw))
        except ConnectionClosed:
            pass
        # websockets reports 1006 when the connection dropped without a close frame.
        self.close_code, self.close_reason = self.ws.close_code, self.ws.close_reason or ""

    async def next_of(self, kind: str, after: int = 0) -> dict[str, Any]:
        """The first frame of type ``kind`` at index ``after`` or later (waits for it)."""
        async with asyncio.timeout(WAIT):
            while True:
                for frame in self.frames[after:]:
                    if frame.get("type") == kind:
                        return frame
                if self._reader.done():
                    raise AssertionError(f"closed ({self.close_code}) before a {kind!r} frame: {self.frames}")
                await asyncio.sleep(0.01)

    async def subscribe(self, frame: dict[str, Any]) -> dict[str, Any]:
        before = len(self.frames)
        await self.ws.send(json.dumps(frame))
        answer = await self.next_of("subscribed", before)
        errors = [f for f in self.frames[before:] if f.get("type") == "error"]
        assert not errors, errors
        return answer

    async def ended(self) -> int:
        """Wait until the connection ended; its close code (1006: dropped without a close frame)."""
        async with asyncio.timeout(WAIT):
            await self._reader
        return self.close_code

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await self._reader


async def open_client(url: str) -> Client:
    ws = await connect(url, open_timeout=WAIT, close_timeout=WAIT, max_size=None, proxy=None)
    return Client(ws).start()
