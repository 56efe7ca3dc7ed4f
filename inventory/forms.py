"""Back-office forms: staff change stock only through these, which call the services."""

from __future__ import annotations

from django import forms

from inventory.models import TransactionType
from inventory.services import ADJUSTABLE_TYPES, MAX_QUANTITY

ADJUSTMENT_TYPES = [(t.value, t.label) for t in ADJUSTABLE_TYPES]


class AdjustStockForm(forms.Form):
    quantity_change = forms.IntegerField(
        min_value=-MAX_QUANTITY,
        max_value=MAX_QUANTITY,
        help_text="Positive to add units, negative to remove them.",
    )
    transaction_type = forms.ChoiceField(choices=ADJUSTMENT_TYPES, initial=TransactionType.ADJUSTMENT)
    reason = forms.CharField(max_length=255, required=False)
    reference_type = forms.CharField(max_length=50, required=False)
    reference_id = forms.CharField(max_length=100, required=False)
    cost_per_unit = forms.DecimalField(max_digits=10, decimal_places=2, min_value=0, required=False)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def clean_quantity_change(self) -> int:
        value = self.cleaned_data["quantity_change"]
        if value == 0:
            raise forms.ValidationError("Enter a non-zero change.")
        return value


class RecordCountForm(forms.Form):
    counted_quantity = forms.IntegerField(
        min_value=0, max_value=MAX_QUANTITY, help_text="Units physically on the shelf (available + reserved)."
    )
    reason = forms.CharField(max_length=255, required=False, initial="Cycle count")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    # On hand when the form was shown: a count is refused if stock moved meanwhile.
    expected_quantity = forms.IntegerField(widget=forms.HiddenInput, required=False)
