"""Forms of the scan station: the station's settings, and one scan (code, quantity, delivery details).

Quantities are read from exactly what was typed, like every back-office number (``inventory.forms``).
"""

from __future__ import annotations

import json

from django import forms

from inventory.forms import BATCH_MAX_LENGTH, DecimalInputField, WholeNumberField
from inventory.models import StockState, Warehouse
from inventory.scan import Mode
from inventory.services import MAX_QUANTITY

_TEXT = {"autocomplete": "off", "spellcheck": "false"}
# Scanners type 8 to 14 digits: a "quantity" that long is a code scanned before a quantity was typed.
BARCODE_DIGITS = 8


class StationForm(forms.Form):
    """Where the station stands and what it books: chosen once, kept in the URL and the session."""

    warehouse = forms.ModelChoiceField(
        queryset=Warehouse.objects.filter(is_active=True), empty_label="Choose a warehouse"
    )
    mode = forms.ChoiceField(choices=Mode.choices, widget=forms.RadioSelect, initial=Mode.RECEIVE)


QUANTITY_LABELS = {
    Mode.RECEIVE: "Quantity received",
    Mode.COUNT: "Counted on hand",
    Mode.DAMAGED: "Units damaged",
    Mode.MOVE_STATE: "Units moved",
}
_MODE_FIELDS = {
    Mode.RECEIVE: ("cost_per_unit", "supplier_id", "batch_number", "expiry_date", "reference_id"),
    Mode.COUNT: (),
    Mode.DAMAGED: ("reason",),
    Mode.MOVE_STATE: ("from_state", "to_state", "reason"),
}
# A lot-tracked product's lot: counted per batch (a new batch with its expiry), damaged from the batch typed.
_LOT_FIELDS = {
    Mode.RECEIVE: (),
    Mode.COUNT: ("batch_number", "expiry_date"),
    Mode.DAMAGED: ("batch_number",),
    Mode.MOVE_STATE: (),
}
_LOT_HELP = {
    Mode.RECEIVE: "required: lot-tracked",
    Mode.COUNT: "the batch counted",
    Mode.DAMAGED: "empty: earliest expiry first",
}
_OPTIONAL = (
    "cost_per_unit",
    "supplier_id",
    "batch_number",
    "expiry_date",
    "reference_id",
    "from_state",
    "to_state",
    "reason",
)
# Values a run of scans shares, offered again after each booking: the delivery's supplier and delivery
# note (Receive), where the units move from and to and why (Move state).
KEPT = {Mode.RECEIVE: ("supplier_id", "reference_id"), Mode.MOVE_STATE: ("from_state", "to_state", "reason")}


class ScanForm(forms.Form):
    """One scan. Without a quantity it is a look-up: the page then shows the item and its on-hand
    (kept in ``shown_code`` / ``shown_on_hand``), and a count booked from it is refused if the on-hand
    changed meanwhile."""

    code = forms.CharField(
        label="Code",
        required=False,
        max_length=128,
        help_text="GTIN, item barcode or SKU",
        widget=forms.TextInput(_TEXT),
    )
    quantity = forms.CharField(
        label="Quantity", required=False, widget=forms.TextInput({**_TEXT, "inputmode": "numeric"})
    )
    cost_per_unit = DecimalInputField(
        label="Cost per unit", max_digits=10, decimal_places=2, min_value=0, required=False
    )
    supplier_id = WholeNumberField(label="Supplier no.", min_value=1, max_value=MAX_QUANTITY, required=False)
    batch_number = forms.CharField(
        label="Batch", max_length=BATCH_MAX_LENGTH, required=False, widget=forms.TextInput(_TEXT)
    )
    expiry_date = forms.DateField(
        label="Expiry", required=False, widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d")
    )
    reference_id = forms.CharField(
        label="Reference", max_length=100, required=False, help_text="delivery note", widget=forms.TextInput(_TEXT)
    )
    # Not required on a look-up (only the code is scanned); checked when units are moved (clean).
    from_state = forms.ChoiceField(
        label="From", choices=StockState.choices, initial=StockState.AVAILABLE, required=False
    )
    to_state = forms.ChoiceField(
        label="To", choices=StockState.choices, initial=StockState.QUALITY_CONTROL, required=False
    )
    reason = forms.CharField(label="Reason", max_length=255, required=False, widget=forms.TextInput(_TEXT))
    shown_code = forms.CharField(required=False, widget=forms.HiddenInput)
    shown_on_hand = forms.IntegerField(required=False, widget=forms.HiddenInput)
    # A lot-tracked item's lots when it was shown ({"batch": units}): a count of a batch is checked against it.
    shown_lots = forms.CharField(required=False, widget=forms.HiddenInput)
    form_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, mode: str, tracked: bool = False, requires_expiry: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode
        self.tracked = tracked
        wanted = (*_MODE_FIELDS[mode], *(_LOT_FIELDS[mode] if tracked else ()))
        for name in _OPTIONAL:
            if name not in wanted:
                del self.fields[name]
        self.fields["quantity"].label = QUANTITY_LABELS[mode]
        if tracked and mode in _LOT_HELP:
            self.fields["batch_number"].help_text = _LOT_HELP[mode]
        if mode == Mode.RECEIVE and requires_expiry:
            self.fields["expiry_date"].help_text = "required for this product"
        if mode == Mode.COUNT and tracked:
            self.fields["quantity"].label = "Counted in the batch"
            self.fields["expiry_date"].help_text = "of a new batch"
        if mode == Mode.MOVE_STATE:
            self.fields["reason"].help_text = "why the units move"

    def clean_quantity(self) -> int | None:
        """A whole number of units within the mode's bounds; None when left empty (a look-up)."""
        text = (self.cleaned_data.get("quantity") or "").strip()
        if not text:
            return None
        try:
            value = WholeNumberField().to_python(text)
        except forms.ValidationError:
            raise forms.ValidationError(
                f"“{text}” is not a whole number of units; type e.g. 12.", code="invalid"
            ) from None
        if value > MAX_QUANTITY:
            if len(text) >= BARCODE_DIGITS:
                raise forms.ValidationError(
                    f"{text} is far too many units: was a code scanned into the quantity field?", code="too_large"
                )
            raise forms.ValidationError(f"At most {MAX_QUANTITY} units at once.", code="too_large")
        if self.mode == Mode.COUNT:
            if value < 0:
                raise forms.ValidationError("A count cannot be negative: type the units on the shelf.", code="negative")
        elif value < 0:
            other = {
                Mode.RECEIVE: "use Move out as damaged",
                Mode.DAMAGED: "use Receive",
                Mode.MOVE_STATE: "swap From and To",
            }[self.mode]
            raise forms.ValidationError(
                f"Type the number of units without a sign; to book the other way, {other}.", code="negative"
            )
        elif value == 0:
            raise forms.ValidationError("Type at least 1 unit.", code="zero")
        return value

    def clean_shown_lots(self) -> dict[str, int] | None:
        try:
            value = json.loads(self.cleaned_data.get("shown_lots") or "null")
        except ValueError:
            value = None
        if not isinstance(value, dict) or not all(type(v) is int for v in value.values()):
            return None  # not shown (or not as the page sent it): the count is booked unchecked, as a typed one
        return value

    def clean(self) -> dict:
        data = super().clean()
        if self.mode == Mode.MOVE_STATE and data.get("quantity") is not None:
            # Checked when units are booked, not on a look-up: the scan only shows the item.
            if not data.get("from_state") or not data.get("to_state"):
                self.add_error("to_state", "Choose the state the units are in (From) and where they go (To).")
            elif data["from_state"] == data["to_state"]:
                self.add_error("to_state", "From and To are the same state: choose where the units go.")
            if not (data.get("reason") or "").strip():
                self.add_error("reason", "Say why the units move (e.g. waiting for inspection).")
        return data

    def kept_values(self) -> dict[str, str]:
        """What a run of scans shares, as typed (Receive: supplier and delivery note; Move state: from, to
        and reason): the station offers them again for the next scan."""
        return {name: self.data.get(name, "") for name in KEPT.get(self.mode, ()) if name in self.fields}
