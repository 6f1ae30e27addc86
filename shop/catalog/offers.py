"""Prices after automatic promotions, for product cards, product pages and the API.

The catalog does not know who runs promotions: each provider listed in
settings.SHOP_PRODUCT_OFFERS (like the pricing pipeline's adjusters) is asked
for offers on a list of products, or on one product's variants (each at its own
price); the first offer for a product or variant wins. A
provider also says when its offers next change (a promotion starting or
ending), so cached pages expire then.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from shop.core.money import Money


@dataclass(frozen=True)
class Offer:
    price: Money
    label: str
    promotion: int | None = None  # the id of what makes the offer, for the page script's promotion impressions
    terms: str = ""  # its cap and conditions in words ("50% off, up to $60"), shown with the price


class OfferProvider(Protocol):
    def offers(self, products: list) -> dict[int, Offer]: ...

    def variant_offers(self, product, variants: list) -> dict[int, Offer]:
        """{variant id: Offer} for the product's variants, each at its own price (optional: a
        provider without it makes no offer on a product's variants)."""

    def seconds_until_change(self) -> int | None: ...


@cache
def _load(paths: tuple[str, ...]) -> tuple[OfferProvider, ...]:
    return tuple(import_string(path)() for path in paths)


def providers() -> tuple[OfferProvider, ...]:
    return _load(tuple(settings.SHOP_PRODUCT_OFFERS))


def attach_offers(products) -> list:
    """Give each product an `offer` attribute (an Offer or None); returns the products as a list."""
    products = list(products)
    found: dict[int, Offer] = {}
    for provider in providers():
        for product_id, offer in provider.offers(products).items():
            found.setdefault(product_id, offer)
    for product in products:
        product.offer = found.get(product.pk)
    return products


def variant_offers(product, variants) -> dict[int, Offer]:
    """{variant id: Offer} of the product's variants (read with it): what each costs after automatic
    promotions, at its own price, as the cart will charge it."""
    found: dict[int, Offer] = {}
    variants = list(variants)
    if hasattr(product, "offer"):  # attach_offers ran: a variant at the product's price has its offer
        found = {v.pk: product.offer for v in variants if v.price is None and product.offer is not None}
        variants = [v for v in variants if v.price is not None]
    for provider in providers() if variants else ():
        if hasattr(provider, "variant_offers"):
            for variant_id, offer in provider.variant_offers(product, variants).items():
                found.setdefault(variant_id, offer)
    return found


def cache_seconds(default: int) -> int:
    """How long a page showing offers may be cached: until the next offer change at the latest."""
    waits = [w for w in (p.seconds_until_change() for p in providers()) if w is not None]
    return max(1, min([default, *waits]))
