"""The board's forms: they read what a member typed; the rules are the services' (services.py)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from marketing.adboard import selectors
from marketing.adboard.models import AdField, AdPhoto, Condition, PriceKind
from shop.core.moderation import ReportReason
from shop.core.uploads import PicturesField

DETAIL_PREFIX = "d_"
YES_NO = [("", _("Not said")), ("yes", _("Yes")), ("no", _("No"))]


def detail_field(field: AdField) -> forms.Field:
    """The form field for one of a category's details (a car's year, a flat's rooms)."""
    common = {
        "label": field.label,
        "required": field.required,
        "error_messages": {"required": _("%(label)s is required in this category.") % {"label": field.label}},
    }
    if field.kind == AdField.Kind.NUMBER:
        made = forms.IntegerField(min_value=field.min_value, max_value=field.max_value, **common)
        made.widget.attrs["inputmode"] = "numeric"
        if field.unit:
            made.help_text = _("In %(unit)s.") % {"unit": field.unit}
        return made
    if field.kind == AdField.Kind.CHOICE:
        return forms.ChoiceField(choices=[("", _("Choose…"))] + [(str(c), str(c)) for c in field.choices], **common)
    if field.kind == AdField.Kind.YES_NO:
        return forms.ChoiceField(choices=YES_NO, **common)
    return forms.CharField(max_length=80, **common)


class AdForm(forms.Form):
    """Post or edit an ad. The category's details are added as fields named d_<key>."""

    title = forms.CharField(
        label=_("Title"), max_length=90, help_text=_("What it is, in a few words: make, model, size.")
    )
    description = forms.CharField(
        label=_("Description"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_("Its state, what comes with it, why you sell it. No phone numbers: buyers write to you here."),
    )
    price_kind = forms.ChoiceField(
        label=_("Price"), choices=PriceKind.choices, initial=PriceKind.FIXED, widget=forms.RadioSelect
    )
    price = forms.DecimalField(
        label=_("Amount"), required=False, min_value=0, max_digits=12, decimal_places=2, localize=False
    )
    condition = forms.ChoiceField(label=_("Condition"), choices=Condition.choices, initial=Condition.GOOD)
    city = forms.CharField(label=_("City"), max_length=80)
    region = forms.CharField(label=_("Region"), max_length=80)
    photos = PicturesField(
        label=_("Photos"),
        max_count=settings.ADBOARD_MAX_PHOTOS,
        help_text=_("1 to %(n)d photos, JPEG, PNG or WebP. The first one is the cover.")
        % {"n": settings.ADBOARD_MAX_PHOTOS},
    )
    remove_photos = forms.ModelMultipleChoiceField(
        label=_("Remove photos"), queryset=AdPhoto.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, category, ad=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.category, self.ad = category, ad
        self.fields["price"].widget.attrs.update(inputmode="decimal", step="0.01")
        self.detail_fields = selectors.fields_for(category)
        for field in self.detail_fields:
            self.fields[DETAIL_PREFIX + field.key] = detail_field(field)
        if ad is None:
            del self.fields["remove_photos"]
        else:
            self.photo_list = list(ad.photos.all())
            self.fields["remove_photos"].queryset = AdPhoto.objects.filter(ad=ad)
            self.fields["photos"].label = _("Add photos")

    @classmethod
    def initial_for(cls, ad) -> dict:
        initial = {
            name: getattr(ad, name)
            for name in ("title", "description", "price_kind", "price", "condition", "city", "region")
        }
        for key, value in (ad.details or {}).items():
            initial[DETAIL_PREFIX + key] = ("yes" if value else "no") if isinstance(value, bool) else value
        return initial

    def detail_bound_fields(self):
        return [self[DETAIL_PREFIX + f.key] for f in self.detail_fields]

    def details(self) -> dict:
        found = {}
        for field in self.detail_fields:
            value = self.cleaned_data.get(DETAIL_PREFIX + field.key)
            if value not in (None, ""):
                found[field.key] = value
        return found

    def values(self) -> dict:
        """What ad_create / ad_update take (the photos apart)."""
        data = self.cleaned_data
        return {
            "title": data["title"],
            "description": data["description"],
            "price_kind": data["price_kind"],
            "price": data.get("price"),
            "condition": data["condition"],
            "city": data["city"],
            "region": data["region"],
            "details": self.details(),
        }

    def add_service_error(self, error) -> None:
        """A ValidationError from the services, keyed by their names (a detail by its key)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error.messages)
            return
        for name, errors in error.message_dict.items():
            target = name if name in self.fields else DETAIL_PREFIX + name
            if target not in self.fields:
                target = None
            self.add_error(target, errors)


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Your email address is never shown; replies arrive in your messages here."),
    )


STARS = [(n, str(n)) for n in range(5, 0, -1)]


class RatingForm(forms.Form):
    stars = forms.TypedChoiceField(label=_("Stars"), choices=STARS, coerce=int, widget=forms.RadioSelect)
    comment = forms.CharField(
        label=_("Comment"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class RatingReplyForm(forms.Form):
    reply = forms.CharField(label=_("Your reply"), max_length=1000, widget=forms.Textarea(attrs={"rows": 3}))


class ReportForm(forms.Form):
    KINDS = [("ad", _("ad")), ("message", _("message")), ("rating", _("rating"))]

    kind = forms.ChoiceField(choices=KINDS, widget=forms.HiddenInput)
    id = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    reason = forms.ChoiceField(label=_("Reason"), choices=ReportReason.choices)
    comment = forms.CharField(
        label=_("Anything to add (optional)"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class SaveSearchForm(forms.Form):
    query = forms.CharField(max_length=500, required=False, widget=forms.HiddenInput)
    name = forms.CharField(label=_("Name"), max_length=120, required=False)
    alerts = forms.BooleanField(label=_("Email me new ads"), required=False, initial=True)
