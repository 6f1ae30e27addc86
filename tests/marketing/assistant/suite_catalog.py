"""The small, fixed store the utterance suite runs against: the demo's category names, brands and
product names (shop/catalog/demo.py), some in sizes and colours, FAQ entries (some the demo's) and one synonym."""

from decimal import Decimal

from shop.catalog.models import Category, Product
from tests.factories import ProductFactory
from tests.variants import attribute, with_variants

TREE = [
    ("clothing", "Clothing"),
    ("clothing/women", "Women"),
    ("clothing/women/dresses", "Dresses"),
    ("clothing/women/tops", "Tops"),
    ("clothing/women/womens-shoes", "Women's Shoes"),
    ("clothing/men", "Men"),
    ("clothing/men/shirts", "Shirts"),
    ("clothing/men/jackets", "Jackets"),
    ("clothing/men/mens-shoes", "Men's Shoes"),
    ("beauty", "Beauty"),
    ("beauty/makeup", "Makeup"),
    ("beauty/makeup/lipstick", "Lipstick"),
    ("beauty/skincare", "Skincare"),
    ("home", "Home & Kitchen"),
    ("home/kitchen", "Kitchen"),
    ("home/kitchen/cookware", "Cookware"),
    ("home/kitchen/coffee-tea", "Coffee & Tea"),
    ("home/decor", "Decor"),
    ("home/bedding", "Bedding"),
    ("electronics", "Electronics"),
    ("electronics/audio", "Audio"),
    ("electronics/audio/headphones", "Headphones"),
    ("electronics/audio/speakers", "Speakers"),
    ("electronics/phone-accessories", "Phone Accessories"),
    ("sports", "Sports & Outdoors"),
    ("sports/yoga", "Yoga"),
    ("sports/camping", "Camping"),
]

# (category path, name, brand, price, colours or None)
PRODUCTS = [
    ("clothing/women/dresses", "Linen Wrap Dress", "Maison Lila", "59.00", ("Red", "Blue")),
    ("clothing/women/dresses", "Floral Midi Dress", "Aster & Co", "89.00", ("Red", "White")),
    ("clothing/women/dresses", "Silk Slip Dress", "Solstice", "149.00", ("Black",)),
    ("clothing/women/dresses", "Cotton Shirt Dress", "Verdant", "45.00", ("Blue", "Green")),
    ("clothing/women/tops", "Ribbed Tee", "Northwind", "19.00", ("White", "Black")),
    ("clothing/women/tops", "Organic Cardigan", "Bramble", "69.00", ("Grey", "Navy")),
    ("clothing/women/tops", "Striped Blouse", "Juniper", "39.00", None),
    ("clothing/women/womens-shoes", "Leather Ankle Boot", "Kestrel", "129.00", None),
    ("clothing/women/womens-shoes", "Classic Sneaker", "Fjord", "79.00", None),
    ("clothing/men/shirts", "Slim Oxford Shirt", "Halcyon", "49.00", ("Blue", "White")),
    ("clothing/men/shirts", "Brushed Flannel Shirt", "Oak & Ember", "59.00", ("Red", "Green")),
    ("clothing/men/jackets", "Waxed Bomber Jacket", "Tidewater", "199.00", ("Black", "Green")),
    ("clothing/men/jackets", "Quilted Puffer", "Meridian", "159.00", ("Navy",)),
    ("clothing/men/jackets", "Recycled Rain Shell", "Cobalt", "119.00", ("Blue",)),
    ("clothing/men/mens-shoes", "Lightweight Runner", "Lumen", "99.00", None),
    ("clothing/men/mens-shoes", "Suede Chelsea Boot", "Kestrel", "179.00", None),
    ("beauty/makeup/lipstick", "Velvet Lipstick", "Maison Lila", "24.00", None),
    ("beauty/makeup/lipstick", "Sheer Lip Gloss", "Solstice", "16.00", None),
    ("beauty/skincare", "Hydrating Face Serum", "Verdant", "42.00", None),
    ("beauty/skincare", "Gentle Cleanser", "Juniper", "18.00", None),
    ("home/kitchen/cookware", "Cast-Iron Skillet", "Oak & Ember", "54.00", None),
    ("home/kitchen/cookware", "Enamel Dutch Oven", "Northwind", "189.00", None),
    ("home/kitchen/coffee-tea", "Gooseneck Tea Kettle", "Fjord", "49.00", ("Blue", "Black")),
    ("home/kitchen/coffee-tea", "Glass French Press", "Lumen", "29.00", None),
    ("home/kitchen/coffee-tea", "Burr Coffee Grinder", "Halcyon", "119.00", None),
    ("home/decor", "Rattan Table Lamp", "Bramble", "79.00", None),
    ("home/decor", "Scented Candle", "Aster & Co", "22.00", None),
    ("home/bedding", "Percale Duvet Cover", "Tidewater", "99.00", ("White", "Grey")),
    ("home/bedding", "Waffle Throw Blanket", "Meridian", "65.00", None),
    ("electronics/audio/headphones", "Noise-Cancelling Wireless Headphones", "Cobalt", "249.00", ("Black", "White")),
    ("electronics/audio/headphones", "Compact Earbuds", "Lumen", "39.00", ("Black",)),
    ("electronics/audio/headphones", "Sport Earphones", "Kestrel", "29.00", None),
    ("electronics/audio/speakers", "Portable Bluetooth Speaker", "Fjord", "59.00", ("Blue", "Red")),
    ("electronics/audio/speakers", "Hi-Fi Bookshelf Speakers", "Meridian", "299.00", None),
    ("electronics/phone-accessories", "Slim Phone Case", "Northwind", "15.00", None),
    ("electronics/phone-accessories", "Fast Charger", "Cobalt", "25.00", None),
    ("electronics/phone-accessories", "Braided Cable", "Juniper", "12.00", None),
    ("sports/yoga", "Cork Yoga Mat", "Verdant", "49.00", None),
    ("sports/yoga", "High-Rise Leggings", "Solstice", "55.00", ("Black", "Navy")),
    ("sports/camping", "Ultralight Tent", "Tidewater", "299.00", None),
    ("sports/camping", "Insulated Sleeping Bag", "Halcyon", "139.00", None),
    ("sports/camping", "Compact Headlamp", "Bramble", "24.00", None),
]

FAQ = [
    (
        "How long does shipping take?",
        "Standard delivery takes 3 to 5 working days; express takes 1 to 2.",
        "shipping time\ndelivery time\nwhen will it arrive\nhow much is shipping\nshipping cost\ndo you ship abroad",
    ),
    (
        "How do I return something?",
        "You have 30 days to return anything unused, free of charge.",
        "returns\nreturn policy\nrefund\ncan i send it back\nexchange an item",
    ),
    (
        "Which payment methods do you accept?",
        "Cards (Visa, Mastercard, American Express), Apple Pay and Google Pay.",
        "payment methods\ncan i pay with paypal\ndo you take credit cards\nis paying safe",
    ),
    (
        "How do discount codes work?",
        "Enter a code in your cart; one code per order.",
        "promo codes\nhow to use a coupon\nwhere do i enter a code",
    ),
    (
        "How do loyalty points work?",
        "You earn a point for every dollar spent; 100 points are worth $1.",
        "earn points\nhow do i earn points\nloyalty programme\nrewards programme",
    ),
    # The demo store's (marketing/assistant/demo.py, faq_entries()), their questions and phrasings.
    (
        "Can I change my address or cancel my order?",
        "Until it ships, yes: ask for a person here or write to us with the order number.",
        "change my address\nchange delivery address\nwrong address\ncancel my order\nchange my order\nedit my order",
    ),
    (
        "How do I find my size?",
        "Each piece of clothing lists its sizes on its page; returns are free within 30 days.",
        "size guide\nsize chart\nwhat size should I get\ndoes it run small\nsizing\nfit",
    ),
    (
        "Do you offer gift wrapping?",
        "Not yet: we don't gift-wrap or add gift messages.",
        "gift wrap\ngift message\nwrap it as a present\nsend a gift\ngift card",
    ),
    (
        "How can I contact you?",
        "Email help@example.com or call +1 555 0100 200, Monday to Friday, 9 am to 5 pm.",
        "contact details\nphone number\nemail address\nopening hours\ncustomer service",
    ),
]


def build() -> dict:
    """The store; returns {"ids": {product name: id}, "categories": {path: id}}."""
    from marketing.assistant.models import FaqEntry, Synonym

    attribute("Colour", ["Red", "Blue", "Black", "White", "Green", "Grey", "Navy"])
    categories: dict[str, Category] = {}
    for path, name in TREE:
        parent = categories.get(path.rsplit("/", 1)[0]) if "/" in path else None
        categories[path] = Category.objects.create(parent=parent, name=name, slug=path.rsplit("/", 1)[-1])
    ids = {}
    for n, (path, name, brand, price, colours) in enumerate(PRODUCTS):
        fields = {
            "name": f"{brand} {name}",
            "brand": brand,
            "category": categories[path],
            "price": Decimal(price),
            "sku": f"BZ-{n + 1:06d}",
            "slug": f"product-{n + 1}",
            "description": f"The {name.lower()} from {brand}, made to last and easy to love.",
        }
        product = with_variants(sizes=("M",), colours=colours, **fields) if colours else ProductFactory(**fields)
        ids[name] = product.pk
    Product.objects.filter(pk=ids["Sport Earphones"]).update(stock=0)
    for position, (question, answer, phrasings) in enumerate(FAQ):
        FaqEntry.objects.create(question=question, answer=answer, phrasings=phrasings, position=position)
    Synonym.objects.create(word="kicks", means="sneaker")
    return {"ids": ids, "categories": {path: c.pk for path, c in categories.items()}}
