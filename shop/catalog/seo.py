"""What search engines and link previews read on catalog pages: built with the cached pages.

Each page's head (canonical URL, robots, Open Graph and Twitter card tags, JSON-LD) is
rendered once with the page and cached with it, under the same tokens, so it costs no
query when the page is served. Its absolute URLs are written with shop.seo.head.ORIGIN,
replaced with the request's scheme and host when the page is served.

Canonical URLs: a list's canonical is its path with the page number only (?page=2). A
filtered or sorted list shows a subset or an order of the same products, so its canonical
is the plain list (search engines then credit one URL, and the filters stay crawlable for
the products they link to). Search results are `noindex, follow`: any words make a page,
most of them thin or empty, and Google asks stores not to have such pages indexed; their
links to products are still followed. robots.txt keeps crawlers off query strings besides
the page number in the first place (shop/seo/views.py).
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from shop.core.money import Money, quantize
from shop.seo.head import absolute, json_ld

SHARE_IMAGE = "shop/share.png"
DESCRIPTION_CHARS = 160  # about what search results show
SCHEMA = "https://schema.org/"


def _text(value: str, chars: int = DESCRIPTION_CHARS) -> str:
    """One line of plain text, cut at a word before `chars`."""
    return Truncator(" ".join(value.split())).chars(chars)


def _price(money: Money) -> str:
    return str(quantize(money.amount, money.currency))


def _head(
    *,
    path: str,
    title: str,
    description: str,
    og_type: str = "website",
    robots: str = "index, follow",
    image: tuple[str, str] | None = None,
    og_extra: tuple = (),
    structured: tuple = (),
) -> str:
    context = {
        "canonical": absolute(path),
        "robots": robots,
        "title": title,
        "description": description,
        "og_type": og_type,
        "image_url": absolute(image[0]) if image else "",
        "image_alt": image[1] if image else "",
        "og_extra": og_extra,
        "structured": structured,
        "site_name": settings.SHOP_NAME,
    }
    return render_to_string("catalog/_head.html", context)


def _share_image() -> tuple[str, str]:
    """What a link to a list or the home page shows: the store's own picture (1200 x 630, as Open Graph asks)."""
    return static(SHARE_IMAGE), settings.SHOP_NAME


def _breadcrumbs(crumbs: list[tuple[str, str]]) -> dict:
    return {
        "@context": "https://schema.org",
        "@type": "BreadcrumbList",
        "itemListElement": [
            {"@type": "ListItem", "position": i, "name": name, "item": absolute(path)}
            for i, (name, path) in enumerate(crumbs, start=1)
        ],
    }


def _trail(categories) -> list[tuple[str, str]]:
    return [(_("Home"), reverse("catalog:home")), *((c.name, c.get_absolute_url()) for c in categories)]


def home_meta() -> dict:
    description = _("Clothing, beauty, home, electronics and outdoor gear.")
    head = _head(path=reverse("catalog:home"), title=settings.SHOP_NAME, description=description, image=_share_image())
    return {"description": description, "head": head}


def list_meta(*, path: str, query, title: str, category=None, ancestors=()) -> dict:
    """A list page: all products, a category, or search results (`query`: the request's GET)."""
    search = query.get("search", "").strip()
    shop = settings.SHOP_NAME
    if category is not None:
        description = _text(category.description) or _(
            "%(category)s at %(shop)s: compare prices and reviews, with free returns within 30 days."
        ) % {"category": category.name, "shop": shop}
    elif search:
        description = _("Products matching “%(query)s” at %(shop)s.") % {"query": _text(search, 80), "shop": shop}
    else:
        description = _("Every product at %(shop)s: compare prices and reviews, with free returns within 30 days.") % {
            "shop": shop
        }
    page = query.get("page", "")
    keep = {"page": page} if page.isdigit() and int(page) > 1 else {}
    if search:
        keep = {"search": search, **keep}
    elif set(query) - {"page"}:
        keep = {}  # filtered or sorted: the plain list
    canonical = f"{path}?{urlencode(keep)}" if keep else path
    structured = (json_ld(_breadcrumbs(_trail([*ancestors, category]))),) if category is not None else ()
    head = _head(
        path=canonical,
        title=title,
        description=description,
        robots="noindex, follow" if search else "index, follow",
        image=_share_image(),
        structured=structured,
    )
    return {"description": description, "head": head}


def availability(product) -> str:
    if not product.in_stock:
        return "OutOfStock"
    return "LimitedAvailability" if product.low_stock else "InStock"


def product_data(product, images: list, ancestors) -> dict:
    """schema.org Product: what Google shows of a product in its results (price, stock, rating)."""
    price = product.offer.price if product.offer else product.price_money
    url = absolute(product.get_absolute_url())
    data = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.name,
        "url": url,
        "sku": product.sku,
        "description": _text(product.description, 5000),
        "image": [absolute(image.image.url) for image in images],
        "category": " > ".join(c.name for c in [*ancestors, product.category]),
        "offers": {
            "@type": "Offer",
            "url": url,
            "price": _price(price),
            "priceCurrency": price.currency,
            "availability": SCHEMA + availability(product),
            "itemCondition": SCHEMA + "NewCondition",
        },
    }
    if getattr(product, "brand", ""):
        data["brand"] = {"@type": "Brand", "name": product.brand}
    if product.rating_count and product.rating_avg is not None:
        data["aggregateRating"] = {
            "@type": "AggregateRating",
            "ratingValue": str(product.rating_avg.quantize(Decimal("0.01"))),
            "reviewCount": product.rating_count,
            "bestRating": 5,
            "worstRating": 1,
        }
    return {key: value for key, value in data.items() if value not in ("", [])}


def product_meta(product, ancestors) -> dict:
    images = list(product.images.all())
    price = product.offer.price if product.offer else product.price_money
    description = _text(product.description) or _("%(name)s at %(shop)s, with free returns within 30 days.") % {
        "name": product.name,
        "shop": settings.SHOP_NAME,
    }
    trail = [*_trail([*ancestors, product.category]), (product.name, product.get_absolute_url())]
    head = _head(
        path=product.get_absolute_url(),
        title=product.name,
        description=description,
        og_type="product",
        image=(images[0].image.url, images[0].alt) if images else None,
        og_extra=(
            ("product:price:amount", _price(price)),
            ("product:price:currency", price.currency),
            ("product:availability", "in stock" if product.in_stock else "out of stock"),
            ("product:retailer_item_id", product.sku),
        ),
        structured=(json_ld(product_data(product, images, ancestors)), json_ld(_breadcrumbs(trail))),
    )
    return {"description": description, "head": head}
