"""WebSocket clients of ``ws_fanout`` (a separate process: asyncio + websockets).

Opens ``--clients`` connections to ``/ws/inventory/?token=``, subscribes each to one product, prints
``READY <n>`` and then records the arrival time (``time.time()``: wall-clock seconds, the clock the
event log's ``created_at`` uses on this machine) of every frame. On a line on stdin it closes the
connections and prints one JSON line: for each client, ``[[version, event_id, available_quantity,
arrival_time], ...]`` of its ``inventory:update`` frames for the product, in arrival order.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import websockets

CONNECT_CONCURRENCY = 20


async def _client(args, index: int, gate: asyncio.Semaphore, ready: list, stop: asyncio.Event, out: list) -> None:
    async with gate:
        ws = await websockets.connect(args.url, origin=args.origin, open_timeout=60, ping_interval=None, max_queue=None)
    try:
        await ws.send(json.dumps({"type": "subscribe:inventory", "product_id": args.product_id}))
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout=60))
            if message.get("type") == "subscribed":
                break
            if message.get("type") == "error":
                raise RuntimeError(f"client {index}: subscription refused: {message}")
        ready[0] += 1
        if ready[0] == args.clients:
            ready[1].set()
        frames = out[index]
        receiver = asyncio.ensure_future(_receive(ws, frames))
        await stop.wait()
        receiver.cancel()
    finally:
        await ws.close()


async def _receive(ws, frames: list) -> None:
    # Keep the hot loop minimal: stamp, store, parse later.
    async for frame in ws:
        frames.append((time.time(), frame))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--origin", required=True)
    parser.add_argument("--product-id", type=int, required=True)
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()

    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    ready: list = [0, asyncio.Event()]  # subscribed clients, all subscribed
    stop = asyncio.Event()
    frames: list[list] = [[] for _ in range(args.clients)]
    tasks = [asyncio.ensure_future(_client(args, i, gate, ready, stop, frames)) for i in range(args.clients)]
    all_ready = asyncio.ensure_future(ready[1].wait())
    done, _ = await asyncio.wait([all_ready, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=120)
    if all_ready not in done:
        for task in done:
            if task.exception() is not None:
                raise task.exception()
        raise TimeoutError(f"only {ready[0]} of {args.clients} clients subscribed")
    print(f"READY {ready[0]}", flush=True)

    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)

    receipts = []
    for client_frames in frames:
        mine = []
        for arrived, frame in client_frames:
            message = json.loads(frame)
            data = message.get("data") or {}
            if message.get("type") == "inventory:update" and data.get("product_id") == args.product_id:
                mine.append([data["version"], message.get("event_id"), data["available_quantity"], arrived])
        receipts.append(mine)
    print(json.dumps({"receipts": receipts}), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
