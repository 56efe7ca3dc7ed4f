"""A real HTTP receiver on 127.0.0.1 and helpers to make events and move deliveries in time."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils import timezone

from inventory.models import DeliveryStatus, Event, WebhookDelivery

_event_ids = itertools.count(1_000_001)


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; answers what ``answer(request, n)`` says (n: requests so far, from 1).

    An answer is a status code, or ``"hold"``: keep the request open until the test ends.
    """

    answer: Callable[[Received, int], int | str] = lambda request, n: 200
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = Received(self.path, dict(self.headers.items()), body)
                with receiver._lock:
                    receiver.requests.append(request)
                    n = len(receiver.requests)
                reply = receiver.answer(request, n)
                if reply == "hold":
                    receiver.released.wait()
                    return
                self.send_response(reply)
                if 300 <= reply < 400:
                    self.send_header("Location", "/moved")
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"ok" if reply < 300 else b"receiver says no")

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()

    def delivery_ids(self) -> list[int]:
        return [int(r.headers["X-Inventory-Delivery"]) for r in self.requests]


def make_event(type: str = "inventory.updated", *, item_id: int | None = 7, product_id: int | None = 12) -> Event:
    """An event row as the emitter writes it."""
    event_id = next(_event_ids)
    return Event.objects.create(
        id=event_id,
        txid=event_id,
        type=type,
        product_id=product_id,
        warehouse_id=1,
        item_id=item_id,
        data={"id": item_id, "product_id": product_id, "available_quantity": 40, "sku": "DEMO-0012", "note": "café"},
    )


def due_now() -> None:
    """Move every waiting delivery's next attempt to now (instead of sleeping through the backoff)."""
    WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=timezone.now())
