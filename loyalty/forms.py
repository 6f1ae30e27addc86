"""The cart's points form."""

from django import forms
from django.utils.translation import gettext_lazy as _

# Far above any balance, low enough that the database never sees an overflowing integer.
MAX_POINTS = 1_000_000_000


class PointsForm(forms.Form):
    """How many points to spend on the cart: a number, or "the most I can" (the `most` button)."""

    points = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_POINTS,
        error_messages={
            "invalid": _("Enter a whole number of points."),
            "min_value": _("Enter a number of points above zero."),
            "max_value": _("That is more points than anyone has."),
        },
    )
    most = forms.BooleanField(required=False)

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("most") and cleaned.get("points") is None and "points" not in self.errors:
            self.add_error("points", _("Enter how many points to use."))
        return cleaned

    def first_error(self) -> str:
        for errors in self.errors.values():
            return errors[0]
        return ""
