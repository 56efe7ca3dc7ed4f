"""The seed README's client example, as our README shows it, run by the real ``socket.io-client`` 4 from npm
against real servers (one process, and ``make serve``'s several workers on one port) with a real relay:
it prints the live update of a REST change and the low-stock alert it raises."""

from __future__ import annotations

import re
from contextlib import ExitStack

import pytest

from tests.factories import WarehouseFactory, stocked_item
from tests.live.support import rest_adjust, settled, token_for, unique_product
from tests.socketio.support import NodeScript, multi_worker_server, seed_example

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("socketio_client_js")]

REORDER_POINT = 10


def printed(output: str, marker: str) -> list[str]:
    """Every object the example printed after ``marker`` (node prints them over several lines)."""
    return re.findall(rf"^{re.escape(marker)} (\{{[^\n]*\}}|\{{.*?^\}})$", output, flags=re.S | re.M)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_the_seed_example_prints_live_updates_and_alerts(
    start_server, tmp_path, warehouse_user, storefront_user, workers
):
    item = stocked_item(100, product=unique_product(), warehouse=WarehouseFactory(), reorder_point=REORDER_POINT)
    sku = item.product.sku
    writer, reader = token_for(warehouse_user), token_for(storefront_user)
    settled()
    with ExitStack() as stack:
        host = start_server()
        if workers > 1:
            host = stack.enter_context(multi_worker_server(start_server.env, tmp_path / "workers.log", workers=workers))
        available = [item.available_quantity]

        def adjust(change: int) -> None:
            body = rest_adjust(host, writer, product_id=item.product_id, warehouse_id=item.warehouse_id, change=change)
            available[0] = body["available_quantity"]

        def raise_alert() -> None:
            if available[0] <= REORDER_POINT:
                adjust(100 - available[0])  # resolve the alert raised before the client listened, to raise a new one
            adjust(5 - available[0])

        script = seed_example(
            url=f"http://{host}", token=reader, product_id=item.product_id, warehouse_id=item.warehouse_id
        )
        with NodeScript(script, tmp_path) as node:
            # The example subscribes as soon as it is connected: change the item until it prints an update.
            node.until(lambda out: "Inventory updated:" in out, action=lambda: adjust(-1), every=1.0)
            output = node.until(lambda out: "Low stock alert:" in out, action=raise_alert, every=2.0)

    updates = printed(output, "Inventory updated:")
    alerts = printed(output, "Low stock alert:")
    assert updates and alerts, output
    first = updates[0]
    assert f"sku: '{sku}'" in first and f"product_id: {item.product_id}," in first, first
    assert re.search(r"available_quantity: 9\d,", first) and re.search(r"event_id: \d+", first), first
    alert = alerts[-1]
    for field in (
        f"product_id: {item.product_id},",
        f"warehouse_id: {item.warehouse_id},",
        "current_quantity: 5,",
        f"reorder_point: {REORDER_POINT},",
        f"sku: '{sku}',",
        "status: 'open',",
    ):
        assert field in alert, (field, alert)
    assert re.search(r"alert_id: \d+,", alert) and re.search(r"event_id: \d+", alert), alert
    assert "connect_error" not in output and "Error" not in output, output
