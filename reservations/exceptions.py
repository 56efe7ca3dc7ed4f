from inventory.exceptions import DomainError


class ReservationExpired(DomainError):
    code = "reservation_expired"
    default_detail = "The reservation has expired; its units are available again."


class ReservationNotActive(DomainError):
    code = "reservation_not_active"
    default_detail = "The reservation is no longer active."


class OrderAlreadyReserved(DomainError):
    code = "order_already_reserved"
    default_detail = "This order already has an active reservation."

    @classmethod
    def for_order(cls, order_id: str) -> "OrderAlreadyReserved":
        return cls(f"Order {order_id!r} already has an active reservation.", order_id=order_id)
