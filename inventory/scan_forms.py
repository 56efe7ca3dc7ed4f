"""Forms of the scan station: the station's settings, and one scan (code, quantity, delivery details).

Quantities are read from exactly what was typed, like every back-office number (``inventory.forms``).
"""

from __future__ import annotations

from django import forms

from inventory.forms import DecimalInputField, WholeNumberField
from inventory.models import Warehouse
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
}
_MODE_FIELDS = {
    Mode.RECEIVE: ("cost_per_unit", "supplier_id", "batch_number", "expiry_date", "reference_id"),
    Mode.COUNT: (),
    Mode.DAMAGED: ("reason",),
}
_OPTIONAL = ("cost_per_unit", "supplier_id", "batch_number", "expiry_date", "reference_id", "reason")


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
    batch_number = forms.CharField(label="Batch", max_length=100, required=False, widget=forms.TextInput(_TEXT))
    expiry_date = forms.DateField(
        label="Expiry", required=False, widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d")
    )
    reference_id = forms.CharField(
        label="Reference", max_length=100, required=False, help_text="delivery note", widget=forms.TextInput(_TEXT)
    )
    reason = forms.CharField(label="Reason", max_length=255, required=False, widget=forms.TextInput(_TEXT))
    shown_code = forms.CharField(required=False, widget=forms.HiddenInput)
    shown_on_hand = forms.IntegerField(required=False, widget=forms.HiddenInput)
    form_id = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput)

    def __init__(self, *args, mode: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.mode = mode
        for name in _OPTIONAL:
            if name not in _MODE_FIELDS[mode]:
                del self.fields[name]
        self.fields["quantity"].label = QUANTITY_LABELS[mode]

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
            other = "use Move out as damaged" if self.mode == Mode.RECEIVE else "use Receive"
            raise forms.ValidationError(
                f"Type the number of units without a sign; to book the other way, {other}.", code="negative"
            )
        elif value == 0:
            raise forms.ValidationError("Type at least 1 unit.", code="zero")
        return value

    def delivery_values(self) -> dict[str, str]:
        """What the lines of one delivery share (Receive: supplier and delivery note), as typed: the
        station offers them again for the next line."""
        return {name: self.data.get(name, "") for name in ("supplier_id", "reference_id") if name in self.fields}
