"""Several senders at once (real threads, real connections): no delivery is sent twice, order per item holds."""

import logging
import threading
import time
from collections import Counter

import pytest
from django.db import connection

from inventory.models import DeliveryStatus, WebhookDelivery
from inventory.webhooks import deliver_due, run_sender, schedule_deliveries
from tests.webhooks.support import make_event

pytestmark = pytest.mark.django_db(transaction=True)


def _until(condition, *, seconds: float = 20.0) -> None:
    """Wait for something the code under test does in the background (a liveness bound, not a measurement)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


def test_two_concurrent_senders_never_send_a_delivery_twice(receiver, endpoint_for):
    endpoint_for(receiver)
    events = [make_event(item_id=item) for _ in range(3) for item in range(1, 11)]  # 10 items, 3 events each
    schedule_deliveries(events)

    def slow_ok(request, n):
        time.sleep(0.01)  # keeps requests in flight while the other sender claims
        return 200

    receiver.answer = slow_ok
    barrier = threading.Barrier(2)
    errors = []

    def sender():
        try:
            barrier.wait()
            while deliver_due(limit=4):
                pass
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    counts = Counter(receiver.delivery_ids())
    assert len(counts) == 30 and set(counts.values()) == {1}
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SUCCEEDED}
    for item in range(1, 11):
        received = [r.event["id"] for r in receiver.requests if r.event["data"]["id"] == item]
        assert received == sorted(e.id for e in events if e.item_id == item)


def test_the_sender_loop_delivers_and_survives_errors(receiver, endpoint_for, settings, caplog):
    endpoint_for(receiver)
    stop = threading.Event()
    thread = threading.Thread(target=run_sender, args=(stop,), kwargs={"idle_sleep": 0.02})
    thread.start()
    try:
        schedule_deliveries([make_event()])
        _until(lambda: len(receiver.requests) == 1)

        settings.WEBHOOK_TIMEOUT = "broken"  # every round now raises
        with caplog.at_level(logging.ERROR, logger="inventory.webhooks.sender"):
            _until(lambda: any("delivery round failed" in r.getMessage() for r in caplog.records))
        assert thread.is_alive()
        settings.WEBHOOK_TIMEOUT = 5.0
        schedule_deliveries([make_event(item_id=8)])
        _until(lambda: len(receiver.requests) == 2)
        _until(lambda: not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists())
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
