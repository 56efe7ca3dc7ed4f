"""Helpers of the Socket.IO tests: python-socketio's client, the README's seed example run by the real
``socket.io-client`` (npm, in ``tests/socketio/js``), and a server with several worker processes."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import socketio

from tests.live.support import ROOT, UVICORN, WAIT, free_port, serving
from tests.processes import running

JS_DIR = ROOT / "tests" / "socketio" / "js"
README = ROOT / "README.md"
# What the README's example names, replaced by the test's own server, token and ids.
EXAMPLE_URL = "http://127.0.0.1:8000"
EXAMPLE_TOKEN = "YOUR_API_TOKEN"


def ensure_client_installed() -> None:
    """``make test`` installs socket.io-client (``npm ci``); a plain ``pytest`` run does it here if needed."""
    if not (JS_DIR / "node_modules" / "socket.io-client" / "package.json").exists():
        done = subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=JS_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"npm ci in {JS_DIR} failed:\n{done.stderr[-3000:]}"


# --- python-socketio's client ---------------------------------------------------------------------


class Client:
    """A python-socketio client that records every event the server sends, in order."""

    def __init__(self) -> None:
        self.sio = socketio.AsyncClient(reconnection=False)
        self.refusal: Any = None
        self.ended = asyncio.Event()  # set when the connection ends (the server closed it, or close())
        self._events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.sio.on("*", self._heard)
        self.sio.on("connect_error", self._refused)
        self.sio.on("disconnect", self._ended)

    async def _heard(self, event: str, data: Any = None) -> None:
        await self._events.put((event, data))

    async def _refused(self, data: Any = None) -> None:
        self.refusal = data

    async def _ended(self, *_: Any) -> None:
        self.ended.set()

    async def connect(
        self, host: str, *, auth: dict | None = None, transports: list[str] | None = None, headers: dict | None = None
    ) -> Client:
        await self.sio.connect(
            f"http://{host}", auth=auth, transports=transports, headers=headers or {}, wait_timeout=WAIT
        )
        return self

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit with an acknowledgement callback and return what the server acknowledged."""
        return await self.sio.call(event, data, timeout=WAIT)

    async def next(self) -> tuple[str, Any]:
        """The next event the server sent (name, data)."""
        return await asyncio.wait_for(self._events.get(), WAIT)

    async def next_of(self, name: str) -> Any:
        """The data of the next ``name`` event; other events before it are dropped."""
        while True:
            event, data = await self.next()
            if event == name:
                return data

    async def close(self) -> None:
        if self.sio.connected and self.sio.transport() == "polling":
            # python-engineio's client would wait for its pending long-poll (up to 25 s); browsers do not.
            for namespace in self.sio.namespaces:
                await self.sio._send_packet(self.sio.packet_class(socketio.packet.DISCONNECT, namespace=namespace))
            await self.sio.eio.disconnect(abort=True)
            return
        await self.sio.disconnect()


async def connected(host: str, token: str, **kwargs: Any) -> Client:
    return await Client().connect(host, auth={"token": token}, **kwargs)


# --- the README's seed example, run by node --------------------------------------------------------


def readme_example() -> str:
    """The README's Socket.IO client example (the JavaScript block that imports socket.io-client)."""
    blocks = re.findall(r"```(?:js|javascript)\n(.*?)```", README.read_text(), flags=re.S)
    found = [block for block in blocks if "from 'socket.io-client'" in block]
    assert found, "README.md has no JavaScript block that imports socket.io-client"
    return found[0]


def seed_example(*, url: str, token: str, product_id: int, warehouse_id: int) -> str:
    """The README's example with this test's server, token and ids in place of its own."""
    script = readme_example()
    for old, new in ((EXAMPLE_URL, url), (EXAMPLE_TOKEN, token)):
        assert old in script, f"the README example no longer names {old}"
        script = script.replace(old, new)
    script, products = re.subn(r"product_id: '\d+'", f"product_id: '{product_id}'", script)
    script, warehouses = re.subn(r"warehouse_id: '\d+'", f"warehouse_id: '{warehouse_id}'", script)
    assert products == 1 and warehouses == 2, script
    return script


class NodeScript:
    """A script run by node next to the installed socket.io-client; its output is collected as it comes."""

    def __init__(self, script: str, tmp_path: Path, name: str = "node-client") -> None:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "node_modules").symlink_to(JS_DIR / "node_modules")
        (folder / "package.json").write_text('{"type": "module"}\n')
        (folder / "example.mjs").write_text(script)
        self._folder = folder
        self._output: list[str] = []
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> NodeScript:
        self._process = subprocess.Popen(
            ["node", "example.mjs"],
            cwd=self._folder,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
        threading.Thread(target=self._collect, daemon=True).start()
        return self

    def _collect(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            self._output.append(line)

    @property
    def output(self) -> str:
        return "".join(self._output)

    def __exit__(self, *exc: object) -> None:
        assert self._process is not None
        self._process.terminate()
        self._process.wait(timeout=WAIT)

    def wait_for(self, predicate: Callable[[str], bool]) -> str:
        """Wait until the output satisfies ``predicate``; returns the output."""
        return self.until(predicate, action=lambda: None, every=1.0)

    def until(self, predicate: Callable[[str], bool], *, action: Callable[[], object], every: float) -> str:
        """Do ``action`` every ``every`` seconds until the output satisfies ``predicate``; returns the output."""
        deadline = time.monotonic() + WAIT
        while True:
            action()
            step_end = time.monotonic() + every
            while time.monotonic() < step_end:
                if predicate(self.output):
                    return self.output
                assert self._process is not None and self._process.poll() is None, f"node exited:\n{self.output}"
                time.sleep(0.05)
            assert time.monotonic() < deadline, f"not within {WAIT}s; node printed:\n{self.output[-3000:]}"


# --- a server with several worker processes (as ``make serve``) ---------------------------------------


@contextmanager
def multi_worker_server(env: dict[str, str], log: Path, *, workers: int = 2) -> Iterator[str]:
    """``uvicorn --workers N`` on one port, as ``make serve`` runs it; yields ``host:port``."""
    port = free_port()
    host = f"127.0.0.1:{port}"
    # UVICORN without its "python -m": running() adds it.
    args = [*UVICORN[2:], "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    with running([*args, "--log-level", "warning"], env, log) as process:
        deadline = time.monotonic() + 90
        while not serving(f"http://{host}"):
            assert process.poll() is None and time.monotonic() < deadline, f"uvicorn did not start:\n{log.read_text()}"
            time.sleep(0.2)
        yield host
