"""Domain errors: each has a stable ``code`` and an HTTP status, mapped to JSON in one place
(``inventory.api_errors.exception_handler``)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    code = "domain_error"
    status_code = 409
    default_detail = "The request conflicts with the current state."

    def __init__(self, detail: str | None = None, *, keeps_changes: bool = False, **data: Any) -> None:
        self.detail = detail or self.default_detail
        self.data = data
        # True when the service committed work before refusing (an overdue reservation is expired,
        # then the confirm is refused): whoever wraps the call in a transaction must keep that work.
        self.keeps_changes = keeps_changes
        super().__init__(self.detail)


class InsufficientStock(DomainError):
    code = "insufficient_stock"
    default_detail = "Not enough stock available."

    @classmethod
    def for_shortages(cls, shortages: list[dict[str, Any]]) -> InsufficientStock:
        """The error naming every short line (``warehouse_id`` None: any warehouse)."""
        names = "; ".join(
            f"product {s['product_id']}"
            + (f" in warehouse {s['warehouse_id']}" if s["warehouse_id"] is not None else "")
            + f" ({s['available_quantity']} available, {s['requested']} requested)"
            for s in shortages
        )
        return cls(f"Not enough stock for {names}.", shortages=shortages)


class QuantityMismatch(DomainError):
    code = "quantity_mismatch"
    default_detail = "The on-hand quantity is not the expected one; re-read and retry."


class QuantityBelowReserved(DomainError):
    code = "quantity_below_reserved"
    default_detail = "The counted quantity is below what is reserved."


class InvalidState(DomainError):
    code = "invalid_state"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class Conflict(DomainError):
    code = "conflict"


class DuplicateBarcode(DomainError):
    code = "duplicate_barcode"
    default_detail = "This barcode is already used."


class ProtectedObject(DomainError):
    code = "protected"
    default_detail = "This object has stock or history and cannot be deleted; deactivate it instead."


class NotFound(DomainError):
    code = "not_found"
    status_code = 404
    default_detail = "Not found."


class InvalidInput(DomainError):
    code = "invalid"
    status_code = 400
    default_detail = "The request is not valid."


class BatchRequired(InvalidInput):
    code = "batch_required"
    default_detail = "This product is lot-tracked: name the batch (batch_number)."


class ExpiryRequired(InvalidInput):
    code = "expiry_required"
    default_detail = "Lots of this product need an expiry date (expiry_date)."


class LotExpiryMismatch(InvalidInput):
    code = "lot_expiry_mismatch"
    default_detail = "This batch is already recorded with another expiry date."


class LotNotFound(NotFound):
    code = "lot_not_found"
    default_detail = "No such batch of this item."


class LotExpired(DomainError):
    code = "lot_expired"
    default_detail = "The units left of this item are past their expiry date and cannot be sold."
