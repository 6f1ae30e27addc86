"""Product types, attributes and their values as the product CSV names them (docs/catalog-csv.md).

Read once per file or export, each table with one query and only when the file or the
exported products need it, so checking or exporting costs the same number of queries
whatever the number of rows. The import never creates a type, an attribute or a value:
a name the store does not know is a problem reported with the names it does know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from django.utils.translation import gettext as _

from shop.catalog.models import Attribute, AttributeValue, ProductType

# A message listing the known names stops after this many.
LISTED = 30
# Several values of a product attribute in one cell: "Cotton|Elastane".
SEPARATOR = "|"


class UnknownName(ValueError):
    """A name the store does not know (or knows twice); str() is the message for staff."""


@dataclass
class TypeInfo:
    pk: int
    slug: str
    name: str
    variant_attributes: list[Attribute] = field(default_factory=list)  # ordered by name
    product_attributes: list[Attribute] = field(default_factory=list)


def listing(names) -> str:
    """ "a, b, c", or "a, b, …" after LISTED names; "none" for no name."""
    names = list(names)
    if not names:
        return _("none")
    return ", ".join(names[:LISTED]) + (", …" if len(names) > LISTED else "")


class Vocabulary:
    @cached_property
    def attributes(self) -> dict[int, Attribute]:
        return {a.pk: a for a in Attribute.objects.order_by("name", "slug")}

    @cached_property
    def attributes_by_slug(self) -> dict[str, Attribute]:
        # Header names are read in lower case; slugs are lower case in practice.
        return {a.slug.lower(): a for a in self.attributes.values()}

    @cached_property
    def types(self) -> dict[int, TypeInfo]:
        types = {t.pk: TypeInfo(t.pk, t.slug, t.name) for t in ProductType.objects.order_by("slug")}
        for name in ("variant_attributes", "product_attributes"):
            through = getattr(ProductType, name).through.objects.values_list("producttype_id", "attribute_id")
            for type_id, attribute_id in through:
                getattr(types[type_id], name).append(self.attributes[attribute_id])
        for info in types.values():
            info.variant_attributes.sort(key=lambda a: (a.name, a.slug))
            info.product_attributes.sort(key=lambda a: (a.name, a.slug))
        return types

    @cached_property
    def types_by_slug(self) -> dict[str, TypeInfo]:
        return {t.slug.lower(): t for t in self.types.values()}

    def product_type(self, text: str) -> TypeInfo:
        info = self.types_by_slug.get(text.lower())
        if info is None:
            raise UnknownName(
                _("No product type with slug “%(key)s” (product types: %(known)s).")
                % {"key": text, "known": listing(self.types_by_slug)}
            )
        return info

    @cached_property
    def _values(self) -> dict[int, list[AttributeValue]]:
        by_attribute: dict[int, list[AttributeValue]] = {pk: [] for pk in self.attributes}
        for value in AttributeValue.objects.order_by("attribute_id", "position", "id"):
            by_attribute.setdefault(value.attribute_id, []).append(value)
        return by_attribute

    @cached_property
    def values(self) -> dict[int, AttributeValue]:
        return {v.pk: v for values in self._values.values() for v in values}

    @cached_property
    def _names(self) -> dict[int, tuple[dict[str, list[AttributeValue]], dict[str, AttributeValue]]]:
        """Per attribute: its values by name (case-insensitive; a name may be shared) and by slug."""
        found = {}
        for attribute_id, values in self._values.items():
            by_name: dict[str, list[AttributeValue]] = {}
            for value in values:
                by_name.setdefault(value.name.casefold(), []).append(value)
            found[attribute_id] = (by_name, {v.slug: v for v in values})
        return found

    def value(self, attribute: Attribute, text: str) -> AttributeValue:
        """The value a cell names: by its name (any case), else by its slug."""
        by_name, by_slug = self._names.get(attribute.pk, ({}, {}))
        named = by_name.get(text.casefold(), [])
        if len(named) == 1:
            return named[0]
        if text in by_slug:
            return by_slug[text]
        if named:
            raise UnknownName(
                _("%(attribute)s has several values named “%(value)s”: give the slug of the one you mean (%(slugs)s).")
                % {"attribute": attribute.name, "value": text, "slugs": listing(v.slug for v in named)}
            )
        raise UnknownName(
            _("%(attribute)s has no value “%(value)s” (its values: %(known)s).")
            % {
                "attribute": attribute.name,
                "value": text,
                "known": listing(v.name for v in self._values.get(attribute.pk, [])),
            }
        )

    def values_in(self, attribute: Attribute, text: str) -> list[AttributeValue]:
        """The values of a product attribute cell ("Cotton|Elastane"); an empty cell has none."""
        return [self.value(attribute, part.strip()) for part in text.split(SEPARATOR) if part.strip()]

    def text(self, value: AttributeValue) -> str:
        """What the export writes for a value: its name, or its slug when the name would find another value."""
        try:
            if self.value(self.attributes[value.attribute_id], value.name) == value:
                return value.name
        except UnknownName:
            pass
        return value.slug
