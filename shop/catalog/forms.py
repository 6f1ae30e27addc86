from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from shop.catalog import services
from shop.catalog.models import Attribute, AttributeValue, Product, ProductType, Review, Variant, VariantOption
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


# --- products and variants in the admin ---------------------------------------------------------
# docs/variants.md, "In the admin".


def options_label(values) -> str:
    """ "Red / M": a variant's values, in its attributes' order."""
    return " / ".join(value.name for value in values)


class ValueChoiceField(forms.ChoiceField):
    """One value of an attribute, or none. The choices are read once for a whole formset and passed
    in (a ModelChoiceField would read them again for each row); cleans to the AttributeValue."""

    def __init__(self, *, attribute: Attribute, values: list[AttributeValue], **kwargs):
        self.attribute = attribute
        self.values = {str(value.pk): value for value in values}
        choices = [("", "—"), *((str(value.pk), value.name) for value in values)]
        super().__init__(choices=choices, label=attribute.name, **kwargs)

    def clean(self, value):
        key = super().clean(value)
        return self.values.get(key) if key else None


class ProductValuesField(forms.TypedMultipleChoiceField):
    """Values of several attributes, grouped by attribute; cleans to the AttributeValues."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        super().__init__(coerce=int, **kwargs)
        self.values: dict[int, AttributeValue] = {}

    def set_values(self, values: list[AttributeValue]) -> None:
        self.values = {value.pk: value for value in values}
        groups: dict[str, list] = {}
        for value in values:
            groups.setdefault(value.attribute.name, []).append((value.pk, value.name))
        self.choices = list(groups.items())

    def clean(self, value):
        return [self.values[pk] for pk in super().clean(value)]


def _values_of(attributes) -> list[AttributeValue]:
    return list(AttributeValue.objects.filter(attribute__in=attributes).select_related("attribute"))


def _posted_int(value) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() else None


class ProductForm(forms.ModelForm):
    """The product's own fields, and the values of its type's product attributes (material)."""

    attribute_values = ProductValuesField(
        label=_("Product attributes"),
        required=False,
        help_text=_("Values of the product type's product attributes. Choose the type and save to see them."),
    )

    class Meta:
        model = Product
        fields = ["sku", "product_type", "stock"]  # the admin names the rest

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The type saved and, on a POST, the type chosen: a value of either can be posted (those of
        # a type the product leaves are then dropped, in clean()).
        type_ids = {self.instance.product_type_id}
        if self.is_bound:
            type_ids.add(_posted_int(self.data.get(self.add_prefix("product_type"))))
        attributes = ProductType.product_attributes.through.objects.filter(producttype__in=type_ids - {None})
        self.fields["attribute_values"].set_values(_values_of(attributes.values("attribute")))
        if self.instance.pk:
            self.initial.setdefault(
                "attribute_values", list(self.instance.attribute_values.values_list("value_id", flat=True))
            )
        if "stock" in self.fields:
            # The page keeps the stock it showed: unless staff typed another, the stock is left as
            # sales have made it meanwhile (services.product_admin_save).
            self.fields["stock"].show_hidden_initial = True
            self.fields["stock"].help_text = _(
                "The stock of the product's variant. With several variants it is the sum of the active ones', "
                "set per variant below."
            )

    def clean_sku(self):
        sku = self.cleaned_data["sku"]
        if self.instance.pk is None or "sku" in self.changed_data:
            # A new product's default variant takes its SKU, and variant SKUs are unique.
            taken = Variant.objects.filter(sku=sku).exclude(product=self.instance.pk).select_related("product").first()
            if taken is not None:
                raise ValidationError(
                    _("A variant of “%(product)s” has this SKU already.") % {"product": taken.product.name}
                )
        return sku

    def clean(self):
        cleaned = super().clean()
        product_type = cleaned.get("product_type")
        if "attribute_values" in cleaned:
            allowed = set(product_type.product_attributes.values_list("pk", flat=True)) if product_type else set()
            cleaned["attribute_values"] = [v for v in cleaned["attribute_values"] if v.attribute_id in allowed]
        return cleaned


class VariantForm(forms.ModelForm):
    """A variant with one field per variant attribute of its product's type (variant_form_class adds
    them); saving writes its options (services.variant_set_options)."""

    option_fields: dict[str, Attribute] = {}
    # Its product, as the page being saved has it (its price may be changing with it).
    parent: Product | None = None
    # The variant of a product that has only it: its SKU and stock are the product's, edited there.
    single_variant_id: int | None = None

    class Meta:
        model = Variant
        fields = ["sku", "price", "compare_at_price", "stock", "weight", "position", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            chosen = {option.attribute_id: option.value_id for option in self.instance.options.all()}
            for name, attribute in self.option_fields.items():
                if attribute.pk in chosen:
                    self.initial.setdefault(name, str(chosen[attribute.pk]))
        if self.instance.pk is not None and self.instance.pk == self.single_variant_id:
            for name in ("sku", "stock"):
                if name in self.fields:
                    self.fields[name].disabled = True
                    self.fields[name].help_text = _("The product's: change it above.")

    def options_chosen(self) -> dict[Attribute, AttributeValue | None]:
        return {attribute: self.cleaned_data.get(name) for name, attribute in self.option_fields.items()}

    def clean(self):
        cleaned = super().clean()
        compare_at, price = cleaned.get("compare_at_price"), cleaned.get("price")
        if price is None and self.parent is not None:
            price = self.parent.price
        if compare_at is not None and price is not None and compare_at <= price:
            self.add_error("compare_at_price", _("The compare-at price must be above the price, or empty."))
        return cleaned

    def _save_m2m(self):
        super()._save_m2m()
        if self.option_fields:
            services.variant_set_options(variant=self.instance, values=self.options_chosen())


def variant_form_class(*, product: Product | None, product_type: ProductType | None, base=VariantForm):
    """`base` with a field per variant attribute of the product type, its choices read once."""
    attributes = list(product_type.variant_attributes.all()) if product_type is not None else []
    values = _values_of(attributes)
    fields = {
        f"option_{attribute.pk}": ValueChoiceField(
            attribute=attribute, values=[v for v in values if v.attribute_id == attribute.pk], required=False
        )
        for attribute in attributes
    }
    single = None
    if product is not None and product.pk is not None:
        ids = list(Variant.objects.filter(product=product).values_list("pk", flat=True)[:2])
        single = ids[0] if len(ids) == 1 else None
    attrs = {**fields, "option_fields": {name: field.attribute for name, field in fields.items()}}
    return type("VariantForm", (base,), {**attrs, "parent": product, "single_variant_id": single})


def combination_problems(variants: list[tuple[str, dict]], attributes: dict[str, Attribute]) -> list[str]:
    """What is wrong with the options of one product's variants: each needs a value of every variant
    attribute once there are several, and no two may have the same values.
    variants: (its SKU, {option field name: AttributeValue or None}) for each variant."""
    problems = []
    if len(variants) > 1:
        for sku, chosen in variants:
            missing = [attributes[name].name for name, value in chosen.items() if value is None]
            if missing:
                problems.append(
                    _("%(variant)s: choose its %(names)s (each of several variants needs one of each).")
                    % {"variant": sku, "names": ", ".join(missing)}
                )
    same: dict[tuple, list[tuple[str, dict]]] = {}
    for sku, chosen in variants:
        if None not in chosen.values():
            same.setdefault(tuple(value.pk for value in chosen.values()), []).append((sku, chosen))
    for group in same.values():
        if len(group) > 1:
            problems.append(
                _("%(variants)s have the same options (%(options)s): each variant needs its own.")
                % {"variants": ", ".join(sku for sku, _chosen in group), "options": options_label(group[0][1].values())}
            )
    return problems


class VariantFormSet(BaseInlineFormSet):
    """A product's variants: at least one, and each its own combination of options."""

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        kept = [f for f in self.forms if f.cleaned_data and not (self.can_delete and self._should_delete_form(f))]
        if not kept and self.instance.pk is not None:
            raise ValidationError(_("A product needs at least one variant: make it inactive rather than delete it."))
        fields = self.form.option_fields
        if not fields:
            return
        labelled = [
            (f.cleaned_data.get("sku") or str(_("a new variant")), {name: f.cleaned_data.get(name) for name in fields})
            for f in kept
        ]
        problems = combination_problems(labelled, fields)
        if problems:
            raise ValidationError(problems)


class VariantAdminForm(VariantForm):
    """A variant on its own page: its combination checked against its product's other variants."""

    def clean(self):
        cleaned = super().clean()
        if not self.option_fields or self.errors:
            return cleaned
        others = list(
            Variant.objects.filter(product=self.instance.product_id)
            .exclude(pk=self.instance.pk)
            .prefetch_related(Prefetch("options", queryset=VariantOption.objects.select_related("value")))
        )
        variants = [
            (
                other.sku,
                {
                    name: next((o.value for o in other.options.all() if o.attribute_id == a.pk), None)
                    for name, a in self.option_fields.items()
                },
            )
            for other in others
        ]
        variants.append((cleaned.get("sku") or self.instance.sku, {n: cleaned.get(n) for n in self.option_fields}))
        problems = combination_problems(variants, self.option_fields)
        if problems:
            raise ValidationError(problems)
        return cleaned


class ValuesField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return obj.name  # under its attribute's heading


class GenerateVariantsForm(forms.Form):
    """The values to combine: one or more of each variant attribute of the product's type."""

    def __init__(self, *args, attributes: list[Attribute], **kwargs):
        super().__init__(*args, **kwargs)
        for attribute in attributes:
            self.fields[f"attribute_{attribute.pk}"] = ValuesField(
                label=attribute.name,
                queryset=AttributeValue.objects.filter(attribute=attribute),
                widget=forms.CheckboxSelectMultiple,
                error_messages={"required": _("Choose at least one value.")},
            )

    def chosen(self) -> list[AttributeValue]:
        return [value for name in self.fields for value in self.cleaned_data[name]]


class ProductTypeForm(forms.ModelForm):
    class Meta:
        model = ProductType
        fields = ["name", "slug", "variant_attributes", "product_attributes"]

    def clean(self):
        cleaned = super().clean()
        variant = set(cleaned.get("variant_attributes") or [])
        both = variant & set(cleaned.get("product_attributes") or [])
        if both:
            raise ValidationError(
                _("An attribute either makes variants or describes the product, not both: %(names)s.")
                % {"names": ", ".join(sorted(a.name for a in both))}
            )
        if self.instance.pk and "variant_attributes" in cleaned:
            # Their options would stay on the variants, unseen in the admin yet shown on orders.
            dropped = set(self.instance.variant_attributes.all()) - variant
            used = Attribute.objects.filter(
                pk__in=VariantOption.objects.filter(
                    attribute__in=dropped, variant__product__product_type=self.instance
                ).values("attribute")
            )
            if used:
                raise ValidationError(
                    _(
                        "Variants of this type's products have options of %(names)s: change their products "
                        "to another type, or delete those variants, first."
                    )
                    % {"names": ", ".join(a.name for a in used)}
                )
        return cleaned
