from django.apps import AppConfig


class ReservationsConfig(AppConfig):
    name = "reservations"

    def ready(self) -> None:
        from inventory.selectors import register_hold_source
        from reservations.selectors import held_by_active_reservations

        register_hold_source("reservations", held_by_active_reservations)
