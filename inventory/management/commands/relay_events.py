"""``python manage.py relay_events``: the relay process (see ``inventory.relay``)."""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from inventory import relay


class Command(BaseCommand):
    help = "Relay committed events to the cache, the live feed, stock_updates and webhooks; Ctrl-C stops it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=relay.BATCH_SIZE, help="events per batch")
        parser.add_argument("--no-sender", action="store_true", help="schedule webhooks but do not send them")

    def handle(self, *args, batch_size: int, no_sender: bool, **options) -> None:
        from inventory import webhooks

        stop = threading.Event()

        def on_signal(*_: object) -> None:
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        sinks = relay.default_sinks(batch_size=batch_size)
        sender = None
        if not no_sender:
            sender = threading.Thread(target=webhooks.run_sender, args=(stop,), name="webhook-sender", daemon=True)
            sender.start()
        self.stdout.write(f"relay: handling {', '.join(s.name for s in sinks)}; Ctrl-C stops it.")
        try:
            relay.run(sinks, stop)
        finally:
            stop.set()
            if sender is not None:
                sender.join(timeout=10)
            for sink in sinks:
                sink.close()
