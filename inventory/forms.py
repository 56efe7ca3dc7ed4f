"""Back-office forms: staff change stock only through these, which call the services.

Numbers typed by people are read here, on the server, from exactly what was typed: the inputs are
text inputs, not ``<input type="number">``, because browsers parse number inputs with their own
locale rules before submitting (Chrome in English drops a comma as a thousands separator, so
``3,20`` arrives as ``320``) and the server could not tell.
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms

from inventory.models import StockState, TransactionType
from inventory.services import ADJUSTABLE_TYPES, MAX_QUANTITY

ADJUSTMENT_TYPES = [(t.value, t.label) for t in ADJUSTABLE_TYPES]
BATCH_MAX_LENGTH = 100

_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"(?P<sign>[+-]?)(?P<whole>[0-9]*)(?:(?P<sep>[.,])(?P<fraction>[0-9]*))?")
# One to three leading digits (not 0), one separator, exactly three digits: "1,234" and "1.234" read as
# a thousands group in one convention and as three decimals in the other.
_AMBIGUOUS = re.compile(r"[+-]?[1-9][0-9]{0,2}[.,][0-9]{3}")
# Digits with separators or spaces between them: grouped thousands ("1,234.50", "1.234,5", "1 234").
_GROUPED = re.compile(r"[+-]?[0-9]+(?:[.,\s'’][0-9]+)+")


class DecimalInputField(forms.DecimalField):
    """A decimal typed by a person: ``3.20`` and ``3,20`` are both 3.20; anything ambiguous is refused.

    The warehouses are in countries that write a decimal comma, so a lone comma is read as the
    decimal separator rather than refused. Thousands separators are never accepted: ``1,234``
    (1234 or 1.234?) and ``1.234,5`` are refused with a message instead of being guessed.
    """

    widget = forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
    default_error_messages = {
        "invalid": "Enter a number, e.g. 3.20 or 3,20.",
        "ambiguous": "“%(value)s” is ambiguous (%(whole)s or %(decimal)s?). Type it without a thousands separator.",
        "grouped": "Use one decimal separator and no thousands separators, e.g. 1234.50 or 1234,50.",
    }

    def to_python(self, value: object) -> Decimal | None:
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal | int):
            return Decimal(value)
        text = str(value).strip()
        if not text:
            return None
        if _AMBIGUOUS.fullmatch(text):
            digits = re.sub(r"[.,]", "", text)
            raise forms.ValidationError(
                self.error_messages["ambiguous"],
                code="ambiguous",
                params={"value": text, "whole": digits, "decimal": text.replace(",", ".")},
            )
        match = _DECIMAL.fullmatch(text)
        if match is None or not (match["whole"] or match["fraction"]):
            code = "grouped" if _GROUPED.fullmatch(text) else "invalid"
            raise forms.ValidationError(self.error_messages[code], code=code)
        fraction = f".{match['fraction']}" if match["fraction"] else ""
        return Decimal(f"{match['sign']}{match['whole'] or '0'}{fraction}")


class WholeNumberField(forms.IntegerField):
    """A count of units typed by a person: digits only, so ``1.000`` is never read as 1 (or as 1000)."""

    widget = forms.TextInput(attrs={"autocomplete": "off"})
    default_error_messages = {
        "invalid": "Enter a whole number of units, e.g. 12.",
        "grouped": "Type whole units without a thousands separator, e.g. 1000.",
    }

    def to_python(self, value: object) -> int | None:
        if value in self.empty_values:
            return None
        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not text:
            return None
        if _WHOLE.fullmatch(text):
            return int(text)
        # "1.000" is a thousand in one convention and one in the other; "8.5" is simply not whole.
        grouped = _AMBIGUOUS.fullmatch(text) or (_GROUPED.fullmatch(text) and not _DECIMAL.fullmatch(text))
        code = "grouped" if grouped else "invalid"
        raise forms.ValidationError(self.error_messages[code], code=code)


class AdjustStockForm(forms.Form):
    field_order = ("quantity_change", "transaction_type", "state", "batch_number", "expiry_date")

    quantity_change = WholeNumberField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="Positive to add units, negative to remove them.",
    )
    transaction_type = forms.ChoiceField(choices=ADJUSTMENT_TYPES, initial=TransactionType.ADJUSTMENT)
    reason = forms.CharField(max_length=255, required=False)
    reference_type = forms.CharField(max_length=50, required=False)
    reference_id = forms.CharField(max_length=100, required=False)
    cost_per_unit = DecimalInputField(
        max_digits=10, decimal_places=2, min_value=0, required=False, help_text="e.g. 3.20 or 3,20"
    )
    state = forms.ChoiceField(
        label="Stock state",
        choices=StockState.choices,
        initial=StockState.AVAILABLE,
        required=False,  # absent: available, as before states existed
        help_text="Whose units change: e.g. damage of units already moved to Damaged disposes of them.",
    )
    batch_number = forms.CharField(
        label="Batch",
        max_length=BATCH_MAX_LENGTH,
        required=False,
        help_text="Lot-tracked products: the batch units come in to (required) or leave from "
        "(empty: earliest expiry first).",
    )
    expiry_date = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d"),
        help_text="Of a new batch (required when the product's lots must carry one).",
    )
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, tracked: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not tracked:  # batches are a lot-tracked product's
            del self.fields["batch_number"], self.fields["expiry_date"]

    def clean_state(self) -> str:
        return self.cleaned_data.get("state") or StockState.AVAILABLE

    def clean_quantity_change(self) -> int:
        value = self.cleaned_data["quantity_change"]
        if value == 0:
            raise forms.ValidationError("Enter a non-zero change.")
        return value


class RecordCountForm(forms.Form):
    counted_quantity = WholeNumberField(
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="Units physically on the shelf (on hand: available, reserved and not-for-sale units).",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    reason = forms.CharField(max_length=255, required=False, initial="Cycle count")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    # On hand when the form was shown: a count is refused if stock moved meanwhile.
    expected_quantity = forms.IntegerField(widget=forms.HiddenInput, required=False)


class RecordLotCountForm(forms.Form):
    """The count of one lot of a lot-tracked item: the batch's units on the shelf."""

    batch_number = forms.CharField(
        label="Batch",
        max_length=BATCH_MAX_LENGTH,
        help_text="The batch counted: one of the item's lots, or a new one found on the shelf.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "item-lots"}),
    )
    counted_quantity = WholeNumberField(
        min_value=0,
        max_value=MAX_QUANTITY,
        help_text="Units of this batch on the shelf.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    expiry_date = forms.DateField(
        label="Expiry date",
        required=False,
        widget=forms.DateInput({"type": "date"}, format="%Y-%m-%d"),
        help_text="Only for a batch the item does not have yet.",
    )
    reason = forms.CharField(max_length=255, required=False, initial="Cycle count")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    # Each lot's units when the form was shown ({"batch": units}): a count is refused if its lot moved
    # meanwhile (a batch not listed was empty).
    expected_lots = forms.JSONField(widget=forms.HiddenInput, required=False)

    def clean_batch_number(self) -> str:
        return self.cleaned_data["batch_number"].strip()

    def clean_expected_lots(self) -> dict[str, int] | None:
        value = self.cleaned_data.get("expected_lots")
        if value is None:
            return None
        if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
            raise forms.ValidationError("The form was tampered with; open it again.")
        return value


class MoveStockStateForm(forms.Form):
    """Units of an item moved from one state to another (on hand unchanged; the move is the audit)."""

    quantity = WholeNumberField(
        min_value=1, max_value=MAX_QUANTITY, widget=forms.TextInput(attrs={"inputmode": "numeric", "size": 6})
    )
    from_state = forms.ChoiceField(label="From", choices=StockState.choices, initial=StockState.AVAILABLE)
    to_state = forms.ChoiceField(label="To", choices=StockState.choices, initial=StockState.DAMAGED)
    reason = forms.CharField(max_length=255, widget=forms.TextInput(attrs={"size": 30}))

    def clean(self) -> dict:
        data = super().clean()
        if data.get("from_state") and data.get("from_state") == data.get("to_state"):
            raise forms.ValidationError("From and To must be different states.")
        return data
