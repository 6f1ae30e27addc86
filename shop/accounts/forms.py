from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from shop.accounts import lockout
from shop.accounts.countries import country_choices
from shop.accounts.models import Address, Channel, Gender, Profile, User
from shop.accounts.services import CONSENT_WORDING
from shop.core.forms import NoColonLabels

# The column's length: Django accepts addresses up to 320 characters, the database stores 254.
EMAIL_MAX_LENGTH = User._meta.get_field("email").max_length


class LockoutFormMixin:
    """Says the login is locked, rather than "wrong password", once axes has locked it.

    Axes refuses a locked login in authenticate() (AxesStandaloneBackend), which the form
    sees as a failed one; the request carries the reason.
    """

    lockout_for_staff = False

    def clean(self):
        try:
            return super().clean()
        except ValidationError:
            if not lockout.is_locked_out(self.request):
                raise
            lockout.mark_explained(self.request)
            raise ValidationError(lockout.lockout_message(staff=self.lockout_for_staff), code="locked_out") from None

    def is_locked_out(self) -> bool:
        return self.has_error("__all__", code="locked_out")


class AdminLoginForm(LockoutFormMixin, AdminAuthenticationForm):
    lockout_for_staff = True


class EmailLoginForm(LockoutFormMixin, NoColonLabels, AuthenticationForm):
    username = forms.EmailField(
        label=_("Email"),
        max_length=EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self):
        return User.objects.normalize_email(self.cleaned_data["username"])


class RegisterForm(NoColonLabels, forms.Form):
    email = forms.EmailField(
        label=_("Email"), max_length=EMAIL_MAX_LENGTH, widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    marketing_consent = forms.BooleanField(label=CONSENT_WORDING[Channel.EMAIL], required=False, initial=False)


class ProfileForm(NoColonLabels, forms.ModelForm):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    birthday = forms.DateField(label=_("Birthday"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    gender = forms.ChoiceField(
        label=_("Gender"), required=False, choices=[("", _("Prefer not to say")), *Gender.choices]
    )
    country = forms.ChoiceField(label=_("Country"), required=False)

    class Meta:
        model = Profile
        fields = [
            "first_name",
            "last_name",
            "birthday",
            "gender",
            "city",
            "region",
            "country",
            "phone",
            "analytics_consent",
        ]
        widgets = {
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel", "placeholder": "+14155550100"})
        }
        labels = {
            "analytics_consent": _(
                "Personalise my shopping with what I view and buy here (without it, my visits are only counted "
                "anonymously)"
            ),
        }

    def __init__(self, *args, consents: dict[str, bool] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "—"), *country_choices()]
        # One box per channel, never ticked for the customer: each is a separate consent.
        for channel in Channel.values:
            self.fields[f"consent_{channel}"] = forms.BooleanField(
                label=CONSENT_WORDING[channel], required=False, initial=(consents or {}).get(channel, False)
            )

    def clean(self):
        data = super().clean()
        if data.get(f"consent_{Channel.SMS}") and not data.get("phone"):
            self.add_error("phone", _("Add your mobile number to receive offers by text message."))
        return data

    def details(self):
        return [field for field in self if not field.name.startswith("consent_")]

    def consents(self):
        return [self[f"consent_{channel}"] for channel in Channel.values]

    def consent_answers(self) -> dict[str, bool]:
        return {channel: self.cleaned_data.pop(f"consent_{channel}") for channel in Channel.values}


class AddressForm(NoColonLabels, forms.ModelForm):
    country = forms.ChoiceField(label=_("Country"))

    class Meta:
        model = Address
        fields = ["full_name", "line1", "line2", "city", "region", "postal_code", "country", "phone", "is_default"]
        widgets = {
            "full_name": forms.TextInput(attrs={"autocomplete": "name"}),
            "line1": forms.TextInput(attrs={"autocomplete": "address-line1"}),
            "line2": forms.TextInput(attrs={"autocomplete": "address-line2"}),
            "city": forms.TextInput(attrs={"autocomplete": "address-level2"}),
            "region": forms.TextInput(attrs={"autocomplete": "address-level1"}),
            "postal_code": forms.TextInput(attrs={"autocomplete": "postal-code"}),
            "phone": forms.TextInput(attrs={"autocomplete": "tel", "type": "tel"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [("", "—"), *country_choices()]


class EraseAccountForm(NoColonLabels, forms.Form):
    """The customer confirms an erasure with their password: a session left open is not enough."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user, **kwargs):
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password(self):
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise ValidationError(_("That is not your password."), code="wrong_password")
        return password
