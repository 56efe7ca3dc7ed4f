"""The one write path for stock quantities.

Every function here runs in ``transaction.atomic()``, locks the items it touches through
``inventory.locks`` (ascending primary key), writes one ledger row per on-hand change and the
change's events in the same transaction (``inventory.events``; the relay does the rest). Nothing
else in the project writes ``available_quantity`` or ``reserved_quantity``.

The package re-exports the public services, so callers keep writing ``from inventory import services``.
"""

from inventory.services.expiry import ExpirySweep, notify_expiring_lots, write_off_expired_lots
from inventory.services.holds import (
    consume_held_stock,
    hold_locked_items,
    hold_stock,
    hold_stock_in_transaction,
    item_ids,
    release_held_stock,
    shortage_error,
)
from inventory.services.items import ITEM_SETTINGS, create_item, set_stock_count, update_item_settings
from inventory.services.ledger import (
    ADJUSTABLE_TYPES,
    INBOUND_ONLY,
    MAX_QUANTITY,
    MAX_TOTAL_COST,
    OUTBOUND_ONLY,
    LedgerDetails,
    Movement,
    new_transaction_number,
)
from inventory.services.lines import Count, StockLine, apply_stock_lines
from inventory.services.movements import adjust_stock, apply_movements, receive_stock
from inventory.services.reversals import REVERSAL, reverse_transaction
from inventory.services.states import move_stock_state
from inventory.services.tracking import set_lot_tracking

__all__ = [
    "ADJUSTABLE_TYPES",
    "INBOUND_ONLY",
    "ITEM_SETTINGS",
    "MAX_QUANTITY",
    "MAX_TOTAL_COST",
    "OUTBOUND_ONLY",
    "REVERSAL",
    "Count",
    "ExpirySweep",
    "LedgerDetails",
    "Movement",
    "StockLine",
    "adjust_stock",
    "apply_movements",
    "apply_stock_lines",
    "consume_held_stock",
    "create_item",
    "hold_locked_items",
    "hold_stock",
    "hold_stock_in_transaction",
    "item_ids",
    "move_stock_state",
    "new_transaction_number",
    "notify_expiring_lots",
    "receive_stock",
    "release_held_stock",
    "reverse_transaction",
    "set_lot_tracking",
    "set_stock_count",
    "shortage_error",
    "update_item_settings",
    "write_off_expired_lots",
]
