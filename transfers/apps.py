from django.apps import AppConfig


class TransfersConfig(AppConfig):
    name = "transfers"

    def ready(self) -> None:
        from inventory.selectors import register_hold_source
        from transfers.selectors import held_by_pending_transfers

        register_hold_source("transfers", held_by_pending_transfers)
