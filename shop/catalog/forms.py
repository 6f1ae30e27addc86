from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from shop.catalog.models import Review
from shop.core.moderation import ReportReason
from shop.core.uploads import PicturesField


class ReviewForm(forms.ModelForm):
    rating = forms.TypedChoiceField(
        label=_("Rating"), coerce=int, choices=[(n, "★" * n) for n in range(5, 0, -1)], widget=forms.RadioSelect
    )
    photos = PicturesField(
        max_count=3, label=_("Photos (optional)"), help_text=_("Up to %(n)s JPEG, PNG or WebP pictures.")
    )

    class Meta:
        model = Review
        fields = ["rating", "title", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 4})}

    def __init__(self, *args, room: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        limit = settings.SHOP_REVIEW_PHOTOS if room is None else room
        photos = self.fields["photos"]
        photos.max_count = limit
        photos.help_text = photos.help_text % {"n": limit}
        if limit <= 0:
            del self.fields["photos"]


class ReviewEditForm(ReviewForm):
    """The author's edit: the same fields, the pictures to take off, and room for new ones."""

    remove_photos = forms.TypedMultipleChoiceField(
        label=_("Remove pictures"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, instance: Review, **kwargs):
        photos = list(instance.photos.all())
        super().__init__(*args, instance=instance, room=settings.SHOP_REVIEW_PHOTOS, **kwargs)
        self.fields["remove_photos"].choices = [(p.pk, _("Picture %(n)d") % {"n": i}) for i, p in enumerate(photos, 1)]
        self.photo_list = photos

    def clean(self):
        cleaned = super().clean()
        kept = len(self.photo_list) - len(cleaned.get("remove_photos") or [])
        if kept + len(cleaned.get("photos") or []) > settings.SHOP_REVIEW_PHOTOS:
            self.add_error(
                "photos", _("A review can have at most %(n)d pictures.") % {"n": settings.SHOP_REVIEW_PHOTOS}
            )
        return cleaned


class ReviewReportForm(forms.Form):
    reason = forms.ChoiceField(label=_("Reason"), choices=ReportReason.choices)
    comment = forms.CharField(
        label=_("Comment (optional)"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


REVIEW_SORTS = {"newest": _("Newest"), "helpful": _("Most helpful")}
