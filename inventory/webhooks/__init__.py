"""Signed webhooks: endpoints subscribe to event types; the relay schedules deliveries, a sender posts them.

For the relay: ``schedule_deliveries`` (inside its transaction), ``deliver_due`` and ``run_sender``.
"""

from inventory.webhooks.sender import deliver_due, run_sender
from inventory.webhooks.services import schedule_deliveries

__all__ = ["deliver_due", "run_sender", "schedule_deliveries"]
