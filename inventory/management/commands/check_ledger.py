from django.core.management.base import BaseCommand, CommandError

from inventory.models import InventoryItem, InventoryTransaction
from inventory.selectors import ledger_drift


class Command(BaseCommand):
    help = "Verify that the ledger balances with stock: sums, the previous/new chain, reserved units, lots and states."

    def handle(self, *args, **options) -> None:
        drifts = ledger_drift()
        for drift in drifts:
            self.stderr.write(f"DRIFT {drift}")
        if drifts:
            raise CommandError(f"{len(drifts)} drift(s) found")
        self.stdout.write(
            f"Ledger balanced: {InventoryItem.objects.count()} items, "
            f"{InventoryTransaction.objects.count()} ledger rows."
        )
