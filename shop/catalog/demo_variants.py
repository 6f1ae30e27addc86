"""The demo catalog's variants: product types with their attributes, and the sizes and colours
of the clothes, shoes, bedding and audio (shop/catalog/demo.py writes them with the products).

Each product with a plan (VARIANT_PLANS, by leaf category) gets 2-4 colours in every size of its
category, less a few combinations that were never made; SKUs like BZ-000042-BLU-M. Stock follows
the product's drawn level (sold out, nearly, plenty) with the middle sizes stocked deepest and a
few sizes sold out; a few products have one variant withdrawn from sale (inactive). Larger bed
sizes cost more than the product's price (the smallest). Each product's draws come from a
generator seeded by its SKU alone, so the other products' data never shifts and a rerun or a
larger --scale draws the same again.
"""

from __future__ import annotations

import functools
import io
import math
import random
import textwrap
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils.text import slugify
from PIL import Image, ImageDraw, ImageFont

from shop.catalog.imagegen import SIZE as PICTURE_SIZE
from shop.catalog.models import Attribute, AttributeValue, ProductAttributeValue, ProductType, Variant, VariantOption

COLOURS = [
    # (name, code in SKUs, swatch)
    ("Black", "BLK", "#1f1f1f"),
    ("White", "WHT", "#f4f2ec"),
    ("Grey", "GRY", "#8c8f94"),
    ("Silver", "SLV", "#c4c6c8"),
    ("Navy", "NVY", "#1f2b47"),
    ("Blue", "BLU", "#3d6fb4"),
    ("Sky", "SKY", "#8fbfe0"),
    ("Green", "GRN", "#2f6b4a"),
    ("Sage", "SAG", "#9caf88"),
    ("Olive", "OLV", "#6b6f3a"),
    ("Red", "RED", "#b3312f"),
    ("Rose", "ROS", "#e3a1b0"),
    ("Beige", "BEI", "#d9c8a9"),
    ("Tan", "TAN", "#b98b5e"),
    ("Brown", "BRN", "#6b4428"),
]
CLOTHING_SIZES = ["XS", "S", "M", "L", "XL"]
EU_SIZES = [str(n) for n in range(36, 47)]
BED_SIZES = [("Single", "SGL"), ("Double", "DBL"), ("Queen", "QN"), ("King", "KG")]
MATERIALS = [
    "Cotton", "Organic cotton", "Cotton flannel", "Cotton percale", "Cotton sateen", "Linen", "Silk", "Satin",
    "Viscose", "Wool", "Denim", "Waxed cotton", "Nylon", "Recycled polyester", "Leather", "Suede", "Canvas",
]  # fmt: skip

# slug: (name, [(value, code in SKUs, swatch)])
ATTRIBUTES = {
    "size": ("Size", [(s, s, "") for s in CLOTHING_SIZES]),
    "eu-size": ("EU size", [(s, s, "") for s in EU_SIZES]),
    "bed-size": ("Bed size", [(s, code, "") for s, code in BED_SIZES]),
    "colour": ("Colour", COLOURS),
    "material": ("Material", [(m, "", "") for m in MATERIALS]),
}
# slug: (name, variant attributes, product attributes); a type's size attribute comes first.
PRODUCT_TYPES = {
    "clothing": ("Clothing", ["size", "colour"], ["material"]),
    "shoes": ("Shoes", ["eu-size", "colour"], ["material"]),
    "bedding": ("Bedding", ["bed-size", "colour"], ["material"]),
    "electronics": ("Electronics", ["colour"], []),
}


@dataclass(frozen=True)
class Plan:
    product_type: str
    sizes: tuple[str, ...]  # values of the type's size attribute, smallest first (empty: colours only)
    colours: tuple[str, ...]
    materials: tuple[str, ...] = ()
    nouns: tuple[str, ...] = ()  # only these products of the category have variants (empty: all)
    price_steps: tuple[str, ...] = ()  # the price of each size, times the product's (the smallest's)


VARIANT_PLANS = {
    "dresses": Plan(
        "clothing", tuple(CLOTHING_SIZES), ("Black", "Navy", "Rose", "Sage", "Red", "Beige"),
        ("Cotton", "Linen", "Silk", "Viscose", "Satin"),
    ),
    "tops": Plan(
        "clothing", tuple(CLOTHING_SIZES), ("White", "Black", "Grey", "Rose", "Sky", "Olive"),
        ("Cotton", "Organic cotton", "Linen", "Viscose"),
    ),
    "shirts": Plan(
        "clothing", ("S", "M", "L", "XL"), ("White", "Sky", "Navy", "Grey", "Olive"),
        ("Cotton", "Linen", "Cotton flannel"),
    ),
    "jackets": Plan(
        "clothing", tuple(CLOTHING_SIZES), ("Black", "Navy", "Olive", "Tan", "Grey"),
        ("Nylon", "Denim", "Waxed cotton", "Recycled polyester", "Wool"),
    ),
    "womens-shoes": Plan(
        "shoes", tuple(EU_SIZES[:6]), ("Black", "Tan", "White", "Beige", "Red"), ("Leather", "Suede", "Canvas")
    ),
    "mens-shoes": Plan(
        "shoes", tuple(EU_SIZES[4:]), ("Black", "Brown", "Tan", "Navy", "White"), ("Leather", "Suede", "Canvas")
    ),
    "bedding": Plan(
        "bedding", tuple(s for s, _code in BED_SIZES), ("White", "Grey", "Sage", "Beige", "Navy"),
        ("Cotton percale", "Cotton sateen", "Linen", "Organic cotton"),
        nouns=("Duvet Cover", "Sheet Set", "Quilt"), price_steps=("1", "1.3", "1.45", "1.6"),
    ),
    "headphones": Plan("electronics", (), ("Black", "White", "Silver", "Navy", "Sage")),
    "speakers": Plan("electronics", (), ("Black", "Grey", "Blue", "Red", "Sage")),
}  # fmt: skip
# A material the product's name already says (its adjective or noun), else one of the plan's.
NAMED_MATERIALS = {
    "Linen": "Linen", "Washed Linen": "Linen", "Linen Shirt": "Linen", "Silk": "Silk", "Satin": "Satin",
    "Cotton": "Cotton", "Organic": "Organic cotton", "Organic Cotton": "Organic cotton", "Percale": "Cotton percale",
    "Sateen": "Cotton sateen", "Flannel Shirt": "Cotton flannel", "Denim Jacket": "Denim", "Waxed": "Waxed cotton",
    "Recycled": "Recycled polyester", "Leather": "Leather", "Suede": "Suede", "Canvas": "Canvas",
}  # fmt: skip

MISSING_SHARE = 0.1  # of the combinations of a product's second and later colours: never made
SOLD_OUT_SHARE = 0.08  # of the variants of a product in stock: this size and colour sold out
WITHDRAWN_SHARE = 0.06  # of the products: one variant withdrawn from sale (inactive)


def plan_for(spec: dict) -> Plan | None:
    plan = VARIANT_PLANS.get(spec["path"].rsplit("/", 1)[1])
    if plan is None or (plan.nouns and spec["noun"] not in plan.nouns):
        return None
    return plan


@dataclass
class Attributes:
    """The demo's attributes, their values and the product types, as stored."""

    types: dict[str, ProductType]
    values: dict[tuple[str, str], AttributeValue]  # (attribute slug, value name)

    @classmethod
    def ensure(cls) -> Attributes:
        """Create what is missing (a rerun creates nothing) and read it all back."""
        attributes = {}
        for slug, (name, _values) in ATTRIBUTES.items():
            attributes[slug], _created = Attribute.objects.get_or_create(slug=slug, defaults={"name": name})
        have = set(AttributeValue.objects.values_list("attribute_id", "slug"))
        AttributeValue.objects.bulk_create(
            [
                AttributeValue(attribute=attributes[slug], name=name, slug=slugify(name), position=n, swatch=swatch)
                for slug, (_name, values) in ATTRIBUTES.items()
                for n, (name, _code, swatch) in enumerate(values)
                if (attributes[slug].pk, slugify(name)) not in have
            ]
        )
        by_pk = {a.pk: a for a in attributes.values()}
        values = {}
        for value in AttributeValue.objects.filter(attribute__in=attributes.values()):
            value.attribute = by_pk[value.attribute_id]
            values[(value.attribute.slug, value.slug)] = value
        types = {}
        for slug, (name, variant_attributes, product_attributes) in PRODUCT_TYPES.items():
            types[slug], created = ProductType.objects.get_or_create(slug=slug, defaults={"name": name})
            if created:  # staff may change a type later: a rerun leaves it as they left it
                types[slug].variant_attributes.set([attributes[a] for a in variant_attributes])
                types[slug].product_attributes.set([attributes[a] for a in product_attributes])
        return cls(types, values)

    def value(self, attribute: str, name: str) -> AttributeValue:
        return self.values[(attribute, slugify(name))]


CODES = {name: code for _slug, (_name, values) in ATTRIBUTES.items() for name, code, _swatch in values if code}
SWATCHES = {name: swatch for name, _code, swatch in COLOURS}


def variant_specs(spec: dict, plan: Plan, seed: int) -> list[dict]:
    """The variants of one product, in the order shown (colour by colour, sizes smallest first)."""
    rng = random.Random(f"{seed}:variants:{spec['sku']}")
    colours = rng.sample(plan.colours, k=rng.randint(2, min(4, len(plan.colours))))
    sizes = plan.sizes or ("",)
    level = spec["stock"]  # the product's drawn stock says how it sells: sold out, nearly, or plenty
    specs = []
    for c, colour in enumerate(colours):
        for s, size in enumerate(sizes):
            if c and len(sizes) > 2 and rng.random() < MISSING_SHARE:
                continue  # this size never came in this colour
            if level == 0:
                stock = 0
            elif level <= 5:
                stock = rng.choice([0, 0, 0, 1, 2])
            elif rng.random() < SOLD_OUT_SHARE:
                stock = 0
            else:
                stock = max(1, round(rng.uniform(3, 40) * _size_weight(s, len(sizes))))
            price, compare_at = _prices(spec, plan, s)
            code = "-".join(part for part in (CODES[colour], CODES.get(size, "")) if part)
            specs.append(
                {
                    "sku": f"{spec['sku']}-{code}",
                    "colour": colour,
                    "size": size,
                    "price": price,
                    "compare_at_price": compare_at,
                    "stock": stock,
                    "position": c * len(sizes) + s,
                    "is_active": True,
                }
            )
    if len(specs) > 3 and rng.random() < WITHDRAWN_SHARE:
        rng.choice(specs[1:])["is_active"] = False  # its stock stays in the stockroom, not counted
    return specs


def _size_weight(index: int, count: int) -> float:
    """The middle sizes sell most, so they are stocked deepest."""
    if count == 1:
        return 1.0
    centre = (count - 1) / 2
    return 0.3 + math.exp(-(((index - centre) / (count / 2.5)) ** 2))


def _prices(spec: dict, plan: Plan, size_index: int) -> tuple[Decimal | None, Decimal | None]:
    """The variant's own price (None: the product's), and its own compare-at price when on sale."""
    if not plan.price_steps or plan.price_steps[size_index] == "1":
        return None, None
    # A round price ending in .99, like the products'.
    price = (spec["price"] * Decimal(plan.price_steps[size_index])).to_integral_value(ROUND_CEILING) - Decimal("0.01")
    if spec["compare_at_price"] is None:
        return price, None
    ratio = spec["compare_at_price"] / spec["price"]
    return price, (price * ratio).quantize(Decimal("0.01"))


def product_stock(variants: list[dict]) -> int:
    """A product's stock: the sum of its active variants' (shop.catalog.models.Product)."""
    return sum(v["stock"] for v in variants if v["is_active"])


def material(spec: dict, plan: Plan, seed: int) -> str | None:
    if not plan.materials:
        return None
    named = NAMED_MATERIALS.get(spec["adjective"]) or NAMED_MATERIALS.get(spec["noun"])
    return named or random.Random(f"{seed}:material:{spec['sku']}").choice(plan.materials)


def write_variants(
    attributes: Attributes, ids: dict[str, int], plans: dict[str, tuple[Plan, list[dict], str | None]]
) -> dict[str, list[Variant]]:
    """Write the planned products' variants, their options and materials, in a few bulk inserts.
    Returns each product's variants (by product SKU), saved."""
    made = {
        sku: [
            Variant(
                product_id=ids[sku],
                **{k: v[k] for k in ("sku", "price", "compare_at_price", "stock", "position", "is_active")},
            )
            for v in variants
        ]
        for sku, (_plan, variants, _material) in plans.items()
    }
    rows = [variant for variants in made.values() for variant in variants]
    Variant.objects.bulk_create(rows)
    if any(variant.pk is None for variant in rows):  # a database that does not return ids from bulk inserts
        pks = dict(Variant.objects.filter(sku__in=[v.sku for v in rows]).values_list("sku", "pk"))
        for variant in rows:
            variant.pk = pks[variant.sku]
    options = []
    for sku, (plan, variants, _material) in plans.items():
        size_attribute = PRODUCT_TYPES[plan.product_type][1][0] if plan.sizes else None
        for variant, spec in zip(made[sku], variants, strict=True):
            chosen = [("colour", spec["colour"])] + ([(size_attribute, spec["size"])] if size_attribute else [])
            for attribute, name in chosen:
                value = attributes.value(attribute, name)
                options.append(VariantOption(variant_id=variant.pk, attribute_id=value.attribute_id, value=value))
    VariantOption.objects.bulk_create(options)
    ProductAttributeValue.objects.bulk_create(
        [
            ProductAttributeValue(product_id=ids[sku], value=attributes.value("material", name))
            for sku, (_plan, _variants, name) in plans.items()
            if name
        ]
    )
    return made


def colour_picture(*, title: str, subtitle: str, swatch: str, variant: int) -> bytes:
    """The product's card in one colour: its shape (as on the product's own card) in the colour
    itself on a pale ground of it, with the name; JPEG bytes. Flat, so it is quick to draw."""
    colour = tuple(int(swatch[k : k + 2], 16) for k in (1, 3, 5))
    ground = tuple(round(c + (255 - c) * 0.85) for c in colour)
    image = Image.new("RGB", (PICTURE_SIZE, PICTURE_SIZE), ground)
    draw = ImageDraw.Draw(image)
    c, r = PICTURE_SIZE // 2, 150
    edge = {"outline": (190, 190, 190), "width": 3}  # so that white shows on its pale ground
    shape = variant % 3
    if shape == 0:
        draw.ellipse([c - r, c - r - 60, c + r, c + r - 60], fill=colour, **edge)
    elif shape == 1:
        draw.rounded_rectangle([c - r, c - r - 60, c + r, c + r - 60], radius=40, fill=colour, **edge)
    else:
        draw.polygon([(c, c - r - 70), (c + r, c + r - 60), (c - r, c + r - 60)], fill=colour, **edge)
    ink = (45, 45, 45)
    y = 430
    for line in textwrap.wrap(title, width=22)[:3]:
        draw.text(((PICTURE_SIZE - draw.textlength(line, font=_font(38))) / 2, y), line, font=_font(38), fill=ink)
        y += 46
    subtitle = subtitle.upper()
    draw.text(((PICTURE_SIZE - draw.textlength(subtitle, font=_font(26))) / 2, 60), subtitle, font=_font(26), fill=ink)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=82)
    return out.getvalue()


@functools.cache
def _font(size: int):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow older than 10.1
        return ImageFont.load_default()


def colour_image(spec: dict, colour: str, cache: dict, unique: int) -> str:
    """The stored file name of a product's picture in one colour. Past `unique` products, the picture
    of the earlier product they share their pictures with, if it came in that colour, else one per
    category and colour: a larger --scale draws a few more pictures, not one per product."""
    slot = (spec["i"] % unique, colour)
    if slot in cache:
        return cache[slot]
    if spec["i"] < unique:
        key, owner = slot, spec["sku"]
        title, subtitle = spec["name"].removeprefix(spec["brand"]).strip(), f"{spec['brand']} · {colour}"
    else:
        leaf = spec["path"].rsplit("/", 1)[1]
        key, owner, title, subtitle = (leaf, colour), f"shared-{leaf}", spec["noun"], colour
    if key not in cache:
        name = f"demo/{owner}-{CODES[colour]}.jpg"
        if not default_storage.exists(name):
            data = colour_picture(title=title, subtitle=subtitle, swatch=SWATCHES[colour], variant=spec["i"])
            name = default_storage.save(name, ContentFile(data))
        cache[key] = name
    return cache[key]
