"""Search, filters and sorting for product lists: one FilterSet for the storefront and the API."""

from decimal import Decimal

import django_filters
from django import forms
from django.db.models import F
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field

from shop.catalog import search as catalog_search
from shop.catalog import variants
from shop.catalog.models import Category, Product

RELEVANCE = "relevance"
SORTS = {
    # public value: (label, order_by); "id" last keeps pages stable when values tie.
    # Relevance needs a search (shop/catalog/search.py); without one it lists the newest first.
    RELEVANCE: (_("Relevance"), [F("relevance").desc(), F("text_rank").desc(), F("id").desc()]),
    "-created": (_("Newest"), [F("created_at").desc(), F("id").desc()]),
    "price": (_("Price: low to high"), [F("price").asc(), F("id").asc()]),
    "-price": (_("Price: high to low"), [F("price").desc(), F("id").desc()]),
    "name": (_("Name: A to Z"), [F("name").asc(), F("id").asc()]),
    "-name": (_("Name: Z to A"), [F("name").desc(), F("id").desc()]),
    # By the Bayesian score (shop/catalog/services.py): one 5-star review does not outrank fifty 4.8s.
    "-rating": (_("Best rated"), [F("rating_score").desc(nulls_last=True), F("rating_count").desc(), F("id").desc()]),
    "rating": (_("Lowest rated"), [F("rating_score").asc(nulls_last=True), F("id").asc()]),
}
DEFAULT_SORT = "-created"


MAX_ATTRIBUTE_VALUES = 30


class AttributeValuesField(forms.Field):
    """Every `attr` of the query string ("size:m", "colour:blue"; commas also separate), read as a
    choice of attribute values: {attribute slug: [value ids]} (shop.catalog.variants)."""

    widget = forms.SelectMultiple  # reads all the parameter's values

    def clean(self, value):
        items = [v for v in (value or []) if isinstance(v, str) and v.strip()]
        if len(items) > MAX_ATTRIBUTE_VALUES:
            raise forms.ValidationError(
                _("Choose at most %(n)d attribute values."), code="max_values", params={"n": MAX_ATTRIBUTE_VALUES}
            )
        choice, errors = variants.parse(items)
        if errors:
            raise forms.ValidationError(errors)
        return choice


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "pattern": r"^[-a-z0-9_]+:[-a-z0-9_]+(,[-a-z0-9_]+:[-a-z0-9_]+)*$"},
        "description": "attribute:value, repeated (attr=size:m&attr=colour:blue) or comma-separated.",
    }
)
class AttributeValuesFilter(django_filters.Filter):
    field_class = AttributeValuesField


class ProductFilterForm(forms.Form):
    category_obj: Category | None = None

    def clean_category(self):
        slug = self.cleaned_data.get("category")
        if slug:
            self.category_obj = Category.objects.filter(slug=slug).first()
            if self.category_obj is None:
                # The value goes in params, not into the message: django-filter formats the message
                # with them, and a "%" in the value would break formatting (a 500).
                raise forms.ValidationError(
                    _("There is no category “%(slug)s”."), code="invalid_choice", params={"slug": slug}
                )
        return slug

    def clean(self):
        cleaned = super().clean()
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            self.add_error("max_price", _("The maximum price must not be below the minimum price."))
        return cleaned


class ProductFilter(django_filters.FilterSet):
    search = django_filters.CharFilter(label=_("Search"), method="filter_search", max_length=200)
    exact = django_filters.BooleanFilter(
        label=_("Search for the words as typed"),
        method="filter_exact",
        help_text=_("true: no correction of misspelt search words."),
    )
    category = django_filters.CharFilter(label=_("Category"), method="filter_category", max_length=100)
    min_price = django_filters.NumberFilter(
        label=_("Min price"),
        field_name="price",
        lookup_expr="gte",
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
    )
    max_price = django_filters.NumberFilter(
        label=_("Max price"),
        field_name="price",
        lookup_expr="lte",
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=2,
    )
    in_stock = django_filters.BooleanFilter(label=_("In stock only"), method="filter_in_stock")
    on_sale = django_filters.BooleanFilter(label=_("On sale"), method="filter_on_sale")
    attr = AttributeValuesFilter(
        label=_("Attribute values"),
        method="filter_attr",
        help_text=_(
            "attribute:value, repeated (attr=size:m&attr=colour:blue): values of one attribute widen the list, "
            "attributes narrow it; a variant attribute matches one variant having all the chosen values."
        ),
    )
    ordering = django_filters.ChoiceFilter(
        label=_("Sort by"), choices=[(k, v[0]) for k, v in SORTS.items()], method="filter_ordering", empty_label=None
    )

    class Meta:
        model = Product
        fields = ["search", "exact", "category", "min_price", "max_price", "in_stock", "on_sale", "attr", "ordering"]
        form = ProductFilterForm

    # The search as read (its corrections), once the filters ran: None without one.
    reading: catalog_search.Search | None = None
    # The list before its attribute values were chosen (what facets count from), once the filters ran.
    before_attributes = None

    @property
    def qs(self):
        if not hasattr(self, "_qs"):
            qs = super().qs
            if not getattr(self.form, "cleaned_data", {}).get("ordering"):
                qs = qs.order_by(*SORTS[RELEVANCE if self.reading else DEFAULT_SORT][1])
            self._qs = qs
        return self._qs

    def filter_search(self, queryset, name, value):
        # Ranked by relevance, misspelt words corrected (unless `exact`): shop/catalog/search.py.
        self.reading = catalog_search.prepare(value, correct=not self.form.cleaned_data.get("exact"))
        if not self.reading.text:
            self.reading = None
            return queryset
        return self.reading.filter(queryset)

    def filter_exact(self, queryset, name, value):
        return queryset  # read by filter_search

    def filter_category(self, queryset, name, value):
        return queryset.in_category(self.form.category_obj)

    def filter_in_stock(self, queryset, name, value):
        return queryset.filter(stock__gt=0) if value else queryset

    def filter_on_sale(self, queryset, name, value):
        return queryset.filter(compare_at_price__isnull=False) if value else queryset

    def filter_attr(self, queryset, name, value):
        self.before_attributes = queryset
        return variants.filter_products(queryset, value, in_stock=bool(self.form.cleaned_data.get("in_stock")))

    def facets(self) -> list:
        """The list's attributes and values with their counts (the filters must have run: `qs`)."""
        base = self.before_attributes if self.before_attributes is not None else self.qs
        in_stock = bool(self.form.cleaned_data.get("in_stock"))
        choice = self.form.cleaned_data.get("attr") or {}
        return variants.facets(base, choice, in_stock=in_stock, searched=self.reading is not None)

    def filter_ordering(self, queryset, name, value):
        if value == RELEVANCE and self.reading is None:
            value = DEFAULT_SORT
        return queryset.order_by(*SORTS[value][1])
