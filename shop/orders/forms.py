from django import forms
from django.utils.translation import gettext_lazy as _

from shop.accounts.countries import country_choices
from shop.orders.models import ADDRESS_FIELDS, Order, ShippingMethod

# The column's length: Django accepts addresses up to 320 characters, the database stores 254.
EMAIL_MAX_LENGTH = Order._meta.get_field("email").max_length


class CheckoutForm(forms.Form):
    email = forms.EmailField(
        label=_("Email"),
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        help_text=_("For the confirmation and shipping updates."),
    )
    saved_address = forms.ChoiceField(label=_("Ship to"), required=False, widget=forms.RadioSelect)
    name = forms.CharField(
        label=_("Full name"), max_length=150, required=False, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    line1 = forms.CharField(
        label=_("Address line 1"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    line2 = forms.CharField(
        label=_("Address line 2"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-level2"}),
    )
    region = forms.CharField(
        label=_("Region"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-level1"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "postal-code"}),
    )
    country = forms.ChoiceField(label=_("Country"), required=False)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=30,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
    )
    shipping_method = forms.ChoiceField(
        label=_("Delivery"), choices=ShippingMethod.choices, widget=forms.RadioSelect, initial=ShippingMethod.STANDARD
    )

    NEW = "new"
    REQUIRED = ("name", "line1", "city", "postal_code", "country")

    def __init__(self, *args, addresses=(), method_labels=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.addresses = {str(a.pk): a for a in addresses}
        self.fields["country"].choices = [("", "—"), *country_choices()]
        for name in self.REQUIRED:  # required unless a saved address is chosen
            self.fields[name].show_required = True
        if method_labels:
            self.fields["shipping_method"].choices = method_labels
        if self.addresses:
            self.fields["saved_address"].choices = [
                *[(pk, str(a)) for pk, a in self.addresses.items()],
                (self.NEW, _("A new address")),
            ]
            default = next((pk for pk, a in self.addresses.items() if a.is_default), next(iter(self.addresses)))
            self.fields["saved_address"].initial = default
        else:
            del self.fields["saved_address"]

    def clean(self):
        cleaned = super().clean()
        choice = cleaned.get("saved_address") or self.NEW
        if choice != self.NEW:
            address = self.addresses.get(choice)
            if address is None:
                self.add_error("saved_address", _("Choose one of your addresses."))
                return cleaned
            cleaned["address"] = {
                "name": address.full_name,
                "line1": address.line1,
                "line2": address.line2,
                "city": address.city,
                "region": address.region,
                "postal_code": address.postal_code,
                "country": address.country,
                "phone": address.phone,
            }
            return cleaned
        for name in self.REQUIRED:
            if not cleaned.get(name):
                self.add_error(name, _("This field is required."))
        cleaned["address"] = {name: cleaned.get(name, "") for name in ADDRESS_FIELDS}
        return cleaned


class LookupForm(forms.Form):
    number = forms.CharField(label=_("Order number"), max_length=16)
    email = forms.EmailField(label=_("Email used for the order"), max_length=EMAIL_MAX_LENGTH)


class ShipForm(forms.Form):
    carrier = forms.CharField(label=_("Carrier"), max_length=60)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=100)


class RefundForm(forms.Form):
    amount = forms.DecimalField(label=_("Amount to refund"), min_value=0.01, max_digits=12, decimal_places=2)
    reason = forms.CharField(label=_("Reason"), max_length=200, required=False)
