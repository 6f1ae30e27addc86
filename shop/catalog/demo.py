"""Demo catalog: a category tree, products with real-sounding names, pictures and reviews.

Clothes, shoes, most bedding and the audio come in sizes and colours (product types with their
attributes, variants with their own SKUs, stock and sometimes price, a picture per colour:
shop/catalog/demo_variants.py); every other product has its single default variant. Either way a
product's stock is the sum of its active variants'.

Also the customers' hidden tastes: each demo customer leans towards a few
categories, derived from their email, so that the order history seeded later
(and what learns from it) follows a pattern.
"""

import datetime as dt
import hashlib
from decimal import Decimal

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import slugify

from shop.accounts.models import User
from shop.catalog import demo_variants
from shop.catalog.imagegen import render
from shop.catalog.models import Category, Product, ProductImage, Review
from shop.catalog.services import product_refresh_rating, rating_prior_refresh, variants_create_defaults
from shop.core.demo import DemoContext

PRODUCTS_PER_SCALE = 200
UNIQUE_IMAGES = 200  # beyond this, products share pictures (fast at --scale 50)

# (path, name, hue, price range, nouns, adjectives)
LEAVES = [
    (
        "clothing/women/dresses",
        "Dresses",
        0.95,
        (39, 189),
        ["Wrap Dress", "Midi Dress", "Slip Dress", "Shirt Dress", "Maxi Dress"],
        ["Linen", "Floral", "Silk", "Pleated", "Cotton", "Satin"],
    ),
    (
        "clothing/women/tops",
        "Tops",
        0.90,
        (19, 79),
        ["Blouse", "Tee", "Tank", "Cardigan", "Camisole"],
        ["Ribbed", "Organic", "Striped", "Cropped", "Relaxed"],
    ),
    (
        "clothing/women/womens-shoes",
        "Women's Shoes",
        0.05,
        (49, 229),
        ["Ankle Boot", "Ballet Flat", "Sandal", "Loafer", "Sneaker"],
        ["Leather", "Suede", "Woven", "Platform", "Classic"],
    ),
    (
        "clothing/men/shirts",
        "Shirts",
        0.58,
        (29, 119),
        ["Oxford Shirt", "Flannel Shirt", "Polo", "Henley", "Linen Shirt"],
        ["Slim", "Brushed", "Washed", "Classic", "Stretch"],
    ),
    (
        "clothing/men/jackets",
        "Jackets",
        0.62,
        (79, 349),
        ["Bomber Jacket", "Parka", "Denim Jacket", "Rain Shell", "Puffer"],
        ["Waxed", "Quilted", "Recycled", "Water-Resistant", "Heritage"],
    ),
    (
        "clothing/men/mens-shoes",
        "Men's Shoes",
        0.08,
        (59, 249),
        ["Derby", "Chelsea Boot", "Runner", "Desert Boot", "Slip-On"],
        ["Leather", "Suede", "Canvas", "Lightweight", "Crepe-Sole"],
    ),
    (
        "beauty/makeup/foundation",
        "Foundation",
        0.07,
        (14, 59),
        ["Liquid Foundation", "Serum Foundation", "Cushion Compact", "Stick Foundation"],
        ["Matte", "Dewy", "Full-Coverage", "Weightless", "Long-Wear"],
    ),
    (
        "beauty/makeup/lipstick",
        "Lipstick",
        0.98,
        (9, 39),
        ["Lipstick", "Lip Tint", "Lip Gloss", "Lip Liner"],
        ["Velvet", "Satin", "Sheer", "Cream", "Glossy"],
    ),
    (
        "beauty/tools/beauty-sponges",
        "Beauty Sponges",
        0.85,
        (6, 24),
        ["Blending Sponge", "Sponge Duo", "Powder Puff", "Sponge Set"],
        ["Latex-Free", "Soft", "Precision", "Travel", "Microfiber"],
    ),
    (
        "beauty/tools/brushes",
        "Brushes",
        0.80,
        (9, 69),
        ["Foundation Brush", "Brush Set", "Kabuki Brush", "Blush Brush"],
        ["Vegan", "Dense", "Angled", "Fluffy", "Pro"],
    ),
    (
        "beauty/skincare",
        "Skincare",
        0.35,
        (12, 89),
        ["Face Serum", "Moisturizer", "Cleanser", "Eye Cream", "SPF Fluid"],
        ["Hydrating", "Vitamin C", "Gentle", "Night", "Barrier"],
    ),
    (
        "home/kitchen/cookware",
        "Cookware",
        0.10,
        (24, 299),
        ["Skillet", "Dutch Oven", "Saucepan", "Wok", "Sheet Pan"],
        ["Cast-Iron", "Enamel", "Stainless", "Nonstick", "Carbon-Steel"],
    ),
    (
        "home/kitchen/coffee-tea",
        "Coffee & Tea",
        0.07,
        (12, 189),
        ["Pour-Over Set", "French Press", "Tea Kettle", "Coffee Grinder", "Mug Set"],
        ["Ceramic", "Glass", "Burr", "Gooseneck", "Stoneware"],
    ),
    (
        "home/decor",
        "Decor",
        0.15,
        (14, 159),
        ["Table Lamp", "Vase", "Throw Pillow", "Wall Mirror", "Candle"],
        ["Rattan", "Linen", "Terracotta", "Brass", "Scented"],
    ),
    (
        "home/bedding",
        "Bedding",
        0.55,
        (29, 249),
        ["Duvet Cover", "Sheet Set", "Quilt", "Pillowcase Pair", "Throw Blanket"],
        ["Percale", "Sateen", "Washed Linen", "Waffle", "Organic Cotton"],
    ),
    (
        "electronics/audio/headphones",
        "Headphones",
        0.66,
        (29, 399),
        ["Wireless Headphones", "Earbuds", "Studio Headphones", "Sport Earphones"],
        ["Noise-Cancelling", "Open-Back", "Compact", "Pro", "Foldable"],
    ),
    (
        "electronics/audio/speakers",
        "Speakers",
        0.70,
        (39, 499),
        ["Bluetooth Speaker", "Bookshelf Speakers", "Soundbar", "Smart Speaker"],
        ["Portable", "Waterproof", "Hi-Fi", "Mini", "Rugged"],
    ),
    (
        "electronics/phone-accessories",
        "Phone Accessories",
        0.60,
        (9, 79),
        ["Phone Case", "Charger", "Power Bank", "Cable", "Stand"],
        ["MagSafe", "Fast", "Slim", "Braided", "Wireless"],
    ),
    (
        "sports/yoga",
        "Yoga",
        0.45,
        (14, 129),
        ["Yoga Mat", "Yoga Block", "Strap", "Bolster", "Leggings"],
        ["Cork", "Non-Slip", "Eco", "Travel", "High-Rise"],
    ),
    (
        "sports/camping",
        "Camping",
        0.30,
        (19, 449),
        ["Tent", "Sleeping Bag", "Camp Stove", "Headlamp", "Backpack"],
        ["Ultralight", "3-Season", "Compact", "Insulated", "40L"],
    ),
]
BRANCH_NAMES = {
    "clothing": "Clothing",
    "clothing/women": "Women",
    "clothing/men": "Men",
    "beauty": "Beauty",
    "beauty/makeup": "Makeup",
    "beauty/tools": "Beauty Tools",
    "home": "Home & Kitchen",
    "home/kitchen": "Kitchen",
    "electronics": "Electronics",
    "electronics/audio": "Audio",
    "sports": "Sports & Outdoors",
}
BRANDS = [
    "Northwind",
    "Lumen",
    "Aster & Co",
    "Fjord",
    "Maison Lila",
    "Kestrel",
    "Oak & Ember",
    "Solstice",
    "Tidewater",
    "Verdant",
    "Halcyon",
    "Bramble",
    "Cobalt",
    "Juniper",
    "Meridian",
]
# Companion categories: a taste for one often comes with the other (foundation and sponges).
AFFINITIES = {
    "foundation": "beauty-sponges",
    "lipstick": "brushes",
    "dresses": "womens-shoes",
    "jackets": "mens-shoes",
    "cookware": "coffee-tea",
    "headphones": "phone-accessories",
    "yoga": "skincare",
    "camping": "speakers",
    "bedding": "decor",
}


def leaf_slugs() -> list[str]:
    return [path.rsplit("/", 1)[1] for path, *_rest in LEAVES]


def customer_tastes(email: str) -> list[tuple[str, float]]:
    """The hidden category tastes of a demo customer: (leaf category slug, weight), weights summing to 1.

    Derived from the email, so every seeder that needs them gets the same answer.
    """
    digest = hashlib.sha256(email.encode()).digest()
    leaves = leaf_slugs()
    first = leaves[digest[0] % len(leaves)]
    second = AFFINITIES.get(first) or leaves[digest[1] % len(leaves)]
    third = leaves[digest[2] % len(leaves)]
    tastes = {first: 0.5}
    tastes[second] = tastes.get(second, 0) + 0.3
    tastes[third] = tastes.get(third, 0) + 0.2
    return list(tastes.items())


CONSUMABLE_PATHS = ("beauty/skincare", "beauty/makeup", "home/kitchen/coffee-tea")


def seed(ctx: DemoContext) -> None:
    categories = _categories(ctx)
    _products(ctx, categories)
    _reviews(ctx)


def _categories(ctx: DemoContext) -> dict[str, Category]:
    wanted = sorted({p for path, *_r in LEAVES for p in _prefixes(path)}, key=lambda p: p.count("/"))
    names = {**BRANCH_NAMES, **{path: name for path, name, *_r in LEAVES}}
    by_path = {c.path: c for c in Category.objects.all()}
    for path in wanted:
        if path not in by_path:
            parent = by_path.get(path.rsplit("/", 1)[0]) if "/" in path else None
            by_path[path] = Category.objects.create(parent=parent, name=names[path], slug=path.rsplit("/", 1)[-1])
    ctx.log(f"categories: {len(wanted)} in the tree")
    return by_path


def _prefixes(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _products(ctx: DemoContext, categories: dict[str, Category]) -> None:
    rng = ctx.rng("products")
    total = PRODUCTS_PER_SCALE * ctx.scale
    existing = set(Product.objects.filter(sku__startswith="BZ-").values_list("sku", flat=True))
    now = timezone.now()
    specs = [_product_spec(i, rng, now) for i in range(total)]
    new = [s for s in specs if s["sku"] not in existing]
    ctx.log(f"products: {len(existing):,} present, adding {len(new):,}")
    attributes = demo_variants.Attributes.ensure()
    images: dict = {}
    made = 0
    for batch in ctx.batches(new, 1000, "products"):
        # Products with sizes and colours: their variants first, whose stock makes the product's.
        plans = {}
        for s in batch:
            plan = demo_variants.plan_for(s)
            if plan is not None:
                variants = demo_variants.variant_specs(s, plan, ctx.seed)
                plans[s["sku"]] = (plan, variants, demo_variants.material(s, plan, ctx.seed))
        Product.objects.bulk_create(
            [
                Product(
                    category=categories[s["path"]],
                    **{k: v for k, v in s.items() if k not in SPEC_ONLY} | _typed(s, plans, attributes),
                )
                for s in batch
            ]
        )
        ids = dict(Product.objects.filter(sku__in=[s["sku"] for s in batch]).values_list("sku", "id"))
        variants = demo_variants.write_variants(attributes, ids, plans)
        variants_create_defaults(product_ids=list(ids.values()))  # the others: one default variant each
        made += sum(len(v) for v in variants.values())
        rows = []
        for s in batch:
            for position in range(1 if s["i"] % 3 else 2):
                rows.append(
                    ProductImage(
                        product_id=ids[s["sku"]],
                        image=_image(s, position, images),
                        alt_text=f"{s['name']}, view {position + 1}",
                        position=position,
                    )
                )
            rows.extend(_colour_images(s, ids[s["sku"]], variants.get(s["sku"], []), plans, images))
        ProductImage.objects.bulk_create(rows)
    if new:
        ctx.log(f"products: {made:,} variants in sizes and colours")


# What a product spec holds for the seeders but a Product has no field for.
SPEC_ONLY = ("path", "i", "hue", "adjective", "noun")


def _typed(spec: dict, plans: dict, attributes: demo_variants.Attributes) -> dict:
    """A product with sizes and colours: its type, and its stock (its active variants')."""
    if spec["sku"] not in plans:
        return {}
    plan, variants, _material = plans[spec["sku"]]
    return {"product_type": attributes.types[plan.product_type], "stock": demo_variants.product_stock(variants)}


def _colour_images(spec: dict, product_id: int, variants: list, plans: dict, cache: dict) -> list[ProductImage]:
    """A picture per colour, of the colour's first variant, after the product's own pictures."""
    if not variants:
        return []
    _plan, specs, _material = plans[spec["sku"]]
    first: dict[str, int] = {}
    for variant, v in zip(variants, specs, strict=True):
        first.setdefault(v["colour"], variant.pk)
    return [
        ProductImage(
            product_id=product_id,
            variant_id=variant_id,
            image=demo_variants.colour_image(spec, colour, cache, UNIQUE_IMAGES),
            alt_text=f"{spec['name']} in {colour}",
            position=2 + n,
        )
        for n, (colour, variant_id) in enumerate(first.items())
    ]


def _product_spec(i: int, rng, now) -> dict:
    path, _name, hue, (low, high), nouns, adjectives = LEAVES[i % len(LEAVES)]
    brand, adjective, noun = rng.choice(BRANDS), rng.choice(adjectives), rng.choice(nouns)
    name = f"{brand} {adjective} {noun}"
    price = Decimal(rng.randint(low, high)) - Decimal(rng.choice(["0.01", "0.01", "0.05", "0.51", "0"]))
    on_sale = rng.random() < 0.15
    roll = rng.random()
    stock = 0 if roll < 0.07 else rng.randint(1, 5) if roll < 0.2 else rng.randint(6, 250)
    sku = f"BZ-{i + 1:06d}"
    return {
        "i": i,
        "path": path,
        "hue": hue,
        "adjective": adjective,
        "noun": noun,
        "brand": brand,
        "sku": sku,
        "name": name,
        "slug": slugify(f"{name}-{sku}"),
        "description": (
            f"The {adjective.lower()} {noun.lower()} from {brand}, made to last and easy to love. "
            f"Thoughtfully designed, tested by our team, and backed by free returns for 30 days."
        ),
        "price": price,
        "compare_at_price": (price * Decimal(rng.choice(["1.2", "1.25", "1.4", "1.5"]))).quantize(Decimal("1.00"))
        if on_sale
        else None,
        "stock": stock,
        "is_active": rng.random() > 0.03,
        "is_featured": rng.random() < 0.08,
        # Used up and bought again: skincare, make-up, coffee and tea (no draw: the others' data stays).
        "is_consumable": path.startswith(CONSUMABLE_PATHS),
        "created_at": now - dt.timedelta(days=rng.randint(0, 400), minutes=rng.randint(0, 1439)),
    }


def _image(spec: dict, position: int, cache: dict) -> str:
    """The stored file name of a product picture; products past UNIQUE_IMAGES reuse earlier ones."""
    key = (spec["i"] % UNIQUE_IMAGES) * 2 + position
    if key in cache:
        return cache[key]
    name = f"demo/{spec['sku'] if spec['i'] < UNIQUE_IMAGES else 'shared-' + str(key)}-{position}.jpg"
    if not default_storage.exists(name):
        data = render(
            title=spec["name"].removeprefix(spec["brand"]).strip(),
            subtitle=spec["brand"],
            hue=spec["hue"],
            variant=spec["i"] + position,
        )
        name = default_storage.save(name, ContentFile(data))
    cache[key] = name
    return name


def _reviews(ctx: DemoContext) -> None:
    if Review.objects.exists():
        ctx.log("reviews: present")
        return
    rng = ctx.rng("reviews")
    reviewers = list(User.objects.filter(email__endswith="@example.net").values_list("id", flat=True)[:2000])
    products = list(Product.objects.values_list("id", flat=True))
    titles = {
        5: ["Love it", "Perfect", "Exceeded expectations"],
        4: ["Very good", "Nice quality"],
        3: ["It's fine", "Okay for the price"],
        2: ["Not great"],
        1: ["Disappointed"],
    }
    rows = []
    for product_id in products:
        quality = rng.uniform(2.5, 5)
        for user_id in rng.sample(reviewers, k=min(len(reviewers), rng.choice([0, 0, 1, 2, 3, 5, 8]))):
            rating = max(1, min(5, round(rng.gauss(quality, 0.8))))
            rows.append(
                Review(
                    product_id=product_id,
                    user_id=user_id,
                    rating=rating,
                    title=rng.choice(titles[rating]),
                    created_at=timezone.now() - dt.timedelta(days=rng.randint(0, 300)),
                )
            )
    for batch in ctx.batches(rows, 5000, "reviews"):
        Review.objects.bulk_create(batch)
    product_refresh_rating(product_ids=products)
    # The prior (the store-wide mean) the scheduled task keeps, at once: scores follow it.
    rating_prior_refresh()


def seed_reviews_after_orders(ctx: DemoContext) -> None:
    """Run after the orders (DEMO_SEEDERS): reviews become verified where their author paid for the
    product, members vote reviews helpful, a few carry photos (drawn like the products'), and the
    moderation queue holds a few pending and reported reviews. Idempotent: once votes exist, done."""
    from django.db.models import Count, Exists, OuterRef, Subquery

    from shop.catalog import services
    from shop.catalog.models import ReviewPhoto, ReviewVote
    from shop.core.uploads import clean_image
    from shop.orders.models import PAID_STATES, OrderLine

    if ReviewVote.objects.exists() or not Review.objects.exists():
        ctx.log("reviews: votes and moderation present")
        return
    rng = ctx.rng("review-extras")
    paid = OrderLine.objects.filter(
        order__user_id=OuterRef("user_id"), product_id=OuterRef("product_id"), order__status__in=PAID_STATES
    )
    verified = Review.objects.filter(Exists(paid)).update(verified=True)
    reviewers = list(User.objects.filter(email__endswith="@example.net").values_list("id", flat=True)[:500])
    reviews = list(Review.objects.values_list("id", "user_id", "product_id").order_by("id"))
    votes = []
    for pk, author, _product in rng.sample(reviews, k=min(len(reviews), 400)):
        for voter in rng.sample(reviewers, k=min(len(reviewers), rng.choice([1, 1, 2, 3, 6]))):
            if voter != author:
                votes.append(ReviewVote(review_id=pk, user_id=voter))
    ReviewVote.objects.bulk_create(votes, ignore_conflicts=True)
    counted = ReviewVote.objects.filter(review=OuterRef("pk")).order_by().values("review").annotate(n=Count("id"))
    Review.objects.filter(votes__isnull=False).distinct().update(helpful_count=Subquery(counted.values("n")))
    for pk, _author, _product in rng.sample(reviews, k=min(len(reviews), 6)):
        drawn = render(title="Customer photo", subtitle="review", hue=rng.random(), variant=rng.randrange(3))
        picture = clean_image(ContentFile(drawn, name="photo.jpg"))
        ReviewPhoto.objects.create(review_id=pk, image=picture.image, thumbnail=picture.thumbnail)
    queue = rng.sample(reviews, k=min(len(reviews), 5))
    # Three waiting for a moderator (as if written under pre-moderation), two reported by members.
    Review.objects.filter(pk__in=[pk for pk, *_r in queue[:3]]).update(status=Review.Status.PENDING)
    services.product_refresh_rating(product_ids=[product for *_r, product in queue[:3]])
    services.rating_prior_refresh()
    for pk, author, _product in queue[3:]:
        for reporter in [u for u in reviewers if u != author][: rng.choice([1, 3])]:
            services.review_report(
                review=Review(pk=pk), user=User(pk=reporter), reason="spam", comment="Looks like an ad"
            )
    ctx.log(f"reviews: {verified:,} verified, {len(votes):,} helpful votes, 6 with photos, 5 in the moderation queue")
