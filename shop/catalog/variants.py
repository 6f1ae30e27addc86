"""Variants on the storefront: choosing one on a product page, and lists filtered by attribute values.

A product page's picker (`picker`) is plain data read once with the page (kept in its cache): the
product's variant attributes, the values its active variants use, and each variant's price, stock,
SKU and picture. Which variant a request names (`choose`) and what each option shows (available,
sold out, no such combination) are worked out from that data, with no query.

Lists filter by `attr=<attribute>:<value>` (repeated): values of one attribute widen the list (size
M or L), attributes narrow it (and blue). For a variant attribute a product matches when one of its
active variants has all the chosen values (in stock too, with "in stock only"): "the blue one in
M", not a blue S and a red M. Facets count, beside each value, the products the list would have
with it: one grouped query for the attributes not chosen, and one per chosen attribute (counted
without its own choice, so its other values show what choosing them would add). The number of
queries follows the number of attributes chosen, never the number of products or values.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext as _

from shop.catalog import cache as catalog_cache
from shop.catalog import offers
from shop.catalog.models import (
    AttributeValue,
    Product,
    ProductAttributeValue,
    ProductImage,
    ProductType,
    Variant,
    VariantOption,
)

# --- the attributes shoppers may filter by ---------------------------------------------------


@dataclass(frozen=True)
class ValueInfo:
    id: int
    slug: str
    name: str
    swatch: str
    position: int


@dataclass(frozen=True)
class AttributeInfo:
    id: int
    slug: str
    name: str
    varies: bool  # a variant attribute of some product type (else it only describes products)
    values: dict[str, ValueInfo] = field(default_factory=dict)  # by slug, in their order


def attributes() -> dict[str, AttributeInfo]:
    """Every attribute that has values, with them, by slug: one query, then the cache (dropped when staff change
    an attribute, a value or a product type: shop.catalog.receivers)."""
    return catalog_cache.cached("attributes", (), _attributes, on=(catalog_cache.TREE,))


def _attributes() -> dict[str, AttributeInfo]:
    # One query: the values with their attribute, and whether a product type makes variants of it.
    through = ProductType.variant_attributes.through.objects.filter(attribute_id=OuterRef("attribute_id"))
    rows = (
        AttributeValue.objects.select_related("attribute")
        .annotate(varies=Exists(through))
        .order_by("attribute__name", "attribute_id", "position", "id")
    )
    found: dict[str, AttributeInfo] = {}
    for value in rows:
        a = value.attribute
        info = found.setdefault(a.slug, AttributeInfo(a.pk, a.slug, a.name, value.varies))
        info.values[value.slug] = ValueInfo(value.pk, value.slug, value.name, value.swatch, value.position)
    return found


class Choice(dict):
    """{attribute slug: [value ids]} chosen on a list: built by `parse`."""


def parse(items: list[str]) -> tuple[Choice, list[str]]:
    """Read `attr` values ("colour:blue"): the choice, and a message per value that names nothing."""
    choice, errors = Choice(), []
    if not items:
        return choice, errors
    known = attributes()
    for item in items:
        for part in item.split(","):
            part = part.strip()
            if not part:
                continue
            slug, sep, value_slug = part.partition(":")
            attribute = known.get(slug.strip())
            if not sep or attribute is None:
                errors.append(
                    _("There is no attribute “%(name)s”: write attribute:value, as in colour:blue.") % {"name": slug}
                )
                continue
            value = attribute.values.get(value_slug.strip())
            if value is None:
                names = ", ".join(list(attribute.values)[:12])
                errors.append(
                    _("%(attribute)s has no value “%(value)s” (it has: %(values)s).")
                    % {"attribute": attribute.name, "value": value_slug, "values": names}
                )
                continue
            ids = choice.setdefault(attribute.slug, [])
            if value.id not in ids:
                ids.append(value.id)
    return choice, errors


def values_named(term_stem: str) -> set[int]:
    """The ids of the values whose name has a word starting with this stem ("red", "blu" for Blue)."""
    from shop.catalog.search import words

    return {
        value.id
        for attribute in attributes().values()
        for value in attribute.values.values()
        if any(w.startswith(term_stem) for w in words(value.name))
    }


def having_values(ids) -> Q:
    """A condition on a product: one of its active variants, or the product itself, has one of these values."""
    options = VariantOption.objects.filter(value_id__in=ids, variant__is_active=True, variant__product=OuterRef("pk"))
    described = ProductAttributeValue.objects.filter(value_id__in=ids, product=OuterRef("pk"))
    return Q(Exists(options)) | Q(Exists(described))


def _variant_matches(choice: dict, *, in_stock: bool) -> Q | None:
    """A condition on a product: an active variant of it has one of the chosen values of every
    chosen variant attribute (None: no variant attribute chosen)."""
    known = attributes()
    chosen = [(known[slug], ids) for slug, ids in choice.items() if known[slug].varies]
    if not chosen:
        return None
    variants = Variant.objects.filter(product=OuterRef("pk"), is_active=True)
    if in_stock:
        variants = variants.filter(stock__gt=0)
    for attribute, ids in chosen:
        options = VariantOption.objects.filter(variant=OuterRef("pk"), attribute_id=attribute.id, value_id__in=ids)
        variants = variants.filter(Exists(options))
    return Q(Exists(variants))


def filter_products(queryset: QuerySet[Product], choice: dict, *, in_stock: bool = False) -> QuerySet[Product]:
    """The products matching the choice (see the module's docstring)."""
    if not choice:
        return queryset
    known = attributes()
    condition = _variant_matches(choice, in_stock=in_stock)
    if condition is not None:
        queryset = queryset.filter(condition)
    for slug, ids in choice.items():
        if not known[slug].varies:
            described = ProductAttributeValue.objects.filter(product=OuterRef("pk"), value_id__in=ids)
            queryset = queryset.filter(Exists(described))
    return queryset


@dataclass
class FacetValue:
    slug: str
    name: str
    swatch: str
    count: int
    chosen: bool
    param: str  # "colour:blue"


@dataclass
class Facet:
    slug: str
    name: str
    values: list[FacetValue]

    @property
    def chosen(self) -> bool:
        return any(v.chosen for v in self.values)


def _product_ids(products: QuerySet[Product], *, materialize: bool):
    """The products as a subquery, or as a list of ids when their query cannot be one (a search's
    full-text match names the product table itself, which a subquery renames)."""
    ids = products.order_by().values("pk")
    return list(ids.values_list("pk", flat=True)) if materialize else ids


def _counts(
    products: QuerySet[Product], choice: dict, *, in_stock: bool, only: int | None = None, materialize: bool = False
) -> dict[int, int]:
    """{value id: number of these products having it} (as an option of an active variant that also
    has the chosen values of the other variant attributes, in stock with `in_stock`; or describing
    the product), in one query; `only`: one attribute's values."""
    known = attributes()
    ids = _product_ids(products, materialize=materialize)
    variant_values = VariantOption.objects.filter(variant__is_active=True, variant__product__in=ids)
    if in_stock:
        variant_values = variant_values.filter(variant__stock__gt=0)
    for slug, chosen in choice.items():
        if known[slug].varies:
            same_variant = VariantOption.objects.filter(
                variant=OuterRef("variant"), attribute_id=known[slug].id, value_id__in=chosen
            )
            variant_values = variant_values.filter(Exists(same_variant))
    described = ProductAttributeValue.objects.filter(product__in=ids)
    if only is not None:
        variant_values = variant_values.filter(attribute_id=only)
        described = described.filter(value__attribute_id=only)
    by_variant = variant_values.order_by().values("value_id").annotate(n=Count("variant__product", distinct=True))
    by_product = described.order_by().values("value_id").annotate(n=Count("product", distinct=True))
    counts: dict[int, int] = {}
    for row in by_variant.union(by_product, all=True):
        counts[row["value_id"]] = counts.get(row["value_id"], 0) + row["n"]
    return counts


def facets(base: QuerySet[Product], choice: dict, *, in_stock: bool = False, searched: bool = False) -> list[Facet]:
    """The attributes the list's products have, each value with its count (see the module's docstring).

    `base`: the list before its attribute choice (category, search, price, stock, sale applied);
    `searched`: it is a search's (its products are read as ids first: one more query each)."""
    known = attributes()
    if not known:
        return []
    listed = filter_products(base, choice, in_stock=in_stock)
    counts = _counts(listed, choice, in_stock=in_stock, materialize=searched)
    for slug in choice:
        others = {s: ids for s, ids in choice.items() if s != slug}
        chosen = filter_products(base, others, in_stock=in_stock)
        counts.update(_counts(chosen, others, in_stock=in_stock, only=known[slug].id, materialize=searched))
    result = []
    for attribute in known.values():
        chosen = set(choice.get(attribute.slug, ()))
        values = [
            FacetValue(v.slug, v.name, v.swatch, counts.get(v.id, 0), v.id in chosen, f"{attribute.slug}:{v.slug}")
            for v in attribute.values.values()
            if counts.get(v.id) or v.id in chosen
        ]
        if values:
            result.append(Facet(attribute.slug, attribute.name, values))
    return result


# --- a product page's picker ------------------------------------------------------------------


def picker(product: Product, *, with_offers: bool = False) -> dict | None:
    """The product's variants as a product page offers them (plain data, kept with the page), or
    None for a product without variant options (one variant: the page is as it always was).
    `with_offers`: each variant's price after automatic promotions too ("offer", "" for none)."""
    variants = list(
        product.variants.active().prefetch_related("options__attribute", "options__value").order_by("position", "id")
    )
    if not any(v.options.all() for v in variants):
        return None
    attrs: dict[int, dict] = {}
    values: dict[int, dict[int, dict]] = defaultdict(dict)
    for variant in variants:
        for option in variant.options.all():
            a, v = option.attribute, option.value
            attrs.setdefault(a.pk, {"id": a.pk, "slug": a.slug, "name": a.name})
            values[a.pk][v.pk] = {
                "id": v.pk,
                "slug": v.slug,
                "name": v.name,
                "swatch": v.swatch,
                "position": v.position,
            }
    order = _attribute_order(product, attrs)
    images = {
        image.variant_id: image.image.url
        for image in ProductImage.objects.filter(product=product, variant__isnull=False).order_by("-position", "-id")
    }
    _share_pictures(variants, images)
    found = offers.variant_offers(product, variants) if with_offers else {}
    return {
        "attributes": [
            {**attrs[pk], "values": sorted(values[pk].values(), key=lambda v: (v["position"], v["id"]))} for pk in order
        ],
        "variants": [
            {
                "id": v.pk,
                "sku": v.sku,
                "price": str(v.unit_price),
                "own_price": v.price is not None,
                "compare_at": str(v.compare_at_money.amount) if v.compare_at_money else "",
                "offer": str(found[v.pk].price.amount) if v.pk in found else "",
                "stock": v.stock,
                "values": {o.attribute.slug: o.value.slug for o in v.options.all()},
                "image": images.get(v.pk, ""),
            }
            for v in variants
        ],
    }


def _share_pictures(variants: list[Variant], images: dict[int, str]) -> None:
    """A variant without a picture of its own shows that of a variant of the same colour (the
    values with a swatch): the blue M shows the blue S's picture, a colour is pictured once."""
    values = {v.pk: {o.value_id for o in v.options.all() if o.value.swatch} for v in variants}
    pictured = [v.pk for v in variants if v.pk in images]
    for variant in variants:
        if variant.pk in images or not pictured:
            continue
        best = max(pictured, key=lambda pk: len(values[pk] & values[variant.pk]))
        if values[best] & values[variant.pk]:
            images[variant.pk] = images[best]


def specs(product: Product) -> list[tuple[str, str]]:
    """What describes the product as a whole ("Material", "Cotton, Elastane"); one query, none without a type."""
    if not product.product_type_id:
        return []
    rows = (
        ProductAttributeValue.objects.filter(product=product)
        .select_related("value__attribute")
        .order_by("value__attribute__name", "value__position", "value_id")
    )
    grouped: dict[str, list[str]] = {}
    for row in rows:
        grouped.setdefault(row.value.attribute.name, []).append(row.value.name)
    return [(name, ", ".join(values)) for name, values in grouped.items()]


def _attribute_order(product: Product, attrs: dict[int, dict]) -> list[int]:
    # The product type's order where it has one (size before colour as staff listed them: by name).
    if product.product_type_id:
        typed = list(product.product_type.variant_attributes.order_by("name", "id").values_list("pk", flat=True))
        return [pk for pk in typed if pk in attrs] + [pk for pk in attrs if pk not in typed]
    return sorted(attrs, key=lambda pk: attrs[pk]["name"])


@dataclass
class Option:
    slug: str
    name: str
    swatch: str
    chosen: bool
    state: str  # "available", "sold_out" (every match is sold out), "missing" (no such combination)
    param: str


@dataclass
class Chosen:
    variant: dict | None  # the variant all the chosen values name (None: not all chosen, or none exists)
    values: dict[str, str]  # {attribute slug: value slug}
    problem: str = ""
    groups: list[tuple[dict, list[Option]]] = field(default_factory=list)


def choose(data: dict, params) -> Chosen:
    """The variant a request names (`?variant=<id>`, or one value per attribute: `?size=m&colour=blue`),
    and each option's state given the other chosen values. Unknown names are ignored."""
    variants, attrs = data["variants"], data["attributes"]
    chosen: dict[str, str] = {}
    raw = str(params.get("variant", ""))
    named = next((v for v in variants if raw.isascii() and raw.isdigit() and str(v["id"]) == raw), None)
    if named is not None:
        chosen = dict(named["values"])
    else:
        for attribute in attrs:
            value = params.get(attribute["slug"])
            if value and any(v["slug"] == value for v in attribute["values"]):
                chosen[attribute["slug"]] = value
    if len(variants) == 1:
        chosen = dict(variants[0]["values"])
    variant, problem = None, ""
    if len(chosen) == len(attrs):
        variant = next((v for v in variants if v["values"] == chosen), None)
        if variant is None:
            problem = _("This combination is not available: choose another.")
    groups = []
    for attribute in attrs:
        others = {k: v for k, v in chosen.items() if k != attribute["slug"]}
        options = []
        for value in attribute["values"]:
            wanted = {**others, attribute["slug"]: value["slug"]}
            matches = [v for v in variants if all(v["values"].get(k) == s for k, s in wanted.items())]
            state = "missing" if not matches else ("available" if any(v["stock"] > 0 for v in matches) else "sold_out")
            options.append(
                Option(
                    value["slug"],
                    value["name"],
                    value["swatch"],
                    chosen.get(attribute["slug"]) == value["slug"],
                    state,
                    f"{attribute['slug']}={value['slug']}",
                )
            )
        groups.append((attribute, options))
    return Chosen(variant=variant, values=chosen, problem=problem, groups=groups)


def price_range(data: dict) -> tuple[str, str]:
    """The lowest and highest of the variants' prices as a shopper pays them, after any offer (as
    the picker keeps them: strings)."""
    prices = sorted({paid(v) for v in data["variants"]}, key=Decimal)
    return prices[0], prices[-1]


def paid(variant: dict) -> str:
    """A picker variant's price after its offer, if it has one."""
    return variant.get("offer") or variant["price"]
