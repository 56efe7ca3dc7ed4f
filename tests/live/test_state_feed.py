"""Stock states on the live feed: a move between states reaches WebSocket subscribers with the new quantities."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from rest_framework.test import APIClient

from inventory.lot_models import StockStateMove
from tests.factories import stocked_item
from tests.live.support import WAIT, connected, run, subscribe, token_for, unique_product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("relay_running")]


def test_a_move_to_damaged_reaches_subscribers_with_the_damaged_quantity(warehouse_user, storefront_user):
    item = stocked_item(12, product=unique_product())
    staff = APIClient()
    staff.credentials(HTTP_AUTHORIZATION=f"Token {token_for(warehouse_user)}")
    token = token_for(storefront_user)

    @database_sync_to_async
    def move_to_damaged(quantity: int) -> dict:
        body = {
            "warehouse_id": item.warehouse_id,
            "quantity": quantity,
            "from": "available",
            "to": "damaged",
            "reason": "Forklift",
        }
        response = staff.post(f"/api/v1/inventory/{item.product_id}/move-state", body, format="json")
        assert response.status_code == 200, response.json()
        return response.json()

    async def scenario():
        ws = await connected(token=token)
        await subscribe(ws, "inventory", product_id=item.product_id, warehouse_id=item.warehouse_id)
        answered = await move_to_damaged(5)
        message = await ws.receive_json_from(timeout=WAIT)
        assert message["type"] == "inventory:update", message
        data = message["data"]
        assert (data["available_quantity"], data["damaged_quantity"], data["total_quantity"]) == (7, 5, 12)
        # The feed carries the item JSON the API answered (without the move's audit).
        assert data == {key: value for key, value in answered.items() if key != "move"}
        assert await ws.receive_nothing(timeout=0.2)
        await ws.disconnect()

    run(scenario)
    assert StockStateMove.objects.get().to_state == "damaged"
