"""Automatic promotions as offers on product pages (shop.catalog.offers' provider).

Only promotions every visitor gets qualify: automatic (no code), running now,
a percentage or fixed amount off, with no condition on the customer or the
cart's size. The same engine prices the product as the cart will.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from itertools import chain

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, F, Min, Q, prefetch_related_objects
from django.utils import timezone

from marketing.discounts import engine, terms
from marketing.discounts.models import Promotion
from shop.cart.pricing import price_lines
from shop.catalog import cache as catalog_cache
from shop.catalog.offers import Offer
from shop.core.money import Money


@dataclass
class _OneUnit:
    """A cart line of one unit, to price a product (or one of its variants) as the cart would."""

    product: object
    variant: object = None
    quantity: int = 1

    @property
    def pk(self):
        return self.product.pk


def public_promotions(now) -> list[Promotion]:
    promotions = (
        Promotion.objects.filter(
            requires_code=False,
            is_active=True,
            starts_at__lte=now,
            kind__in=[Promotion.Kind.PERCENTAGE, Promotion.Kind.FIXED],
            first_order_only=False,
            segment="",
            usage_limit_per_customer=None,
            min_subtotal=None,
        )
        .filter(Q(min_quantity__isnull=True) | Q(min_quantity__lte=1))
        .filter(Q(usage_limit__isnull=True) | Q(times_used__lt=F("usage_limit")))
        .exclude(ends_at__lte=now)
        # Not for chosen customers only (the engine reads this count instead of the rows).
        .annotate(chosen_customers=Count("customers", distinct=True))
        .filter(chosen_customers=0)
    )
    promotions = list(promotions)
    # What the engine reads of each promotion's scope, for every product at once.
    prefetch_related_objects(promotions, "excluded_products")
    prefetch_related_objects([p for p in promotions if p.scope == Promotion.Scope.CATEGORIES], "categories")
    prefetch_related_objects([p for p in promotions if p.scope == Promotion.Scope.PRODUCTS], "products")
    return promotions


@dataclass
class _State:
    promotions: list[Promotion]
    next_change: dt.datetime | None  # the next start or end of an automatic promotion


def _next_change(now) -> dt.datetime | None:
    moments = Promotion.objects.filter(requires_code=False, is_active=True).aggregate(
        start=Min("starts_at", filter=Q(starts_at__gt=now)), end=Min("ends_at", filter=Q(ends_at__gt=now))
    )
    return min((m for m in moments.values() if m is not None), default=None)


def _cached_state() -> _State | None:
    """The public promotions running now, read once per offers version and until the next one starts or ends.

    The catalog replaces its offers token when a promotion is saved, switched or used up
    (receivers.py, services.py), so this never outlives what it was read from. None when
    the catalog's cache is off.
    """
    if not catalog_cache.enabled():
        return None
    now = timezone.now()
    key = f"discounts:offers:{catalog_cache.token(catalog_cache.OFFERS)}"  # before reading the database
    state = cache.get(key)
    if state is None or (state.next_change is not None and state.next_change <= now):
        state = _State(public_promotions(now), _next_change(now))
        wait = settings.SHOP_PAGE_CACHE_SECONDS
        if state.next_change is not None:
            wait = min(wait, int((state.next_change - now).total_seconds()) + 1)
        cache.set(key, state, max(1, wait))
    return state


def _in_scope(promotions: list[Promotion]):
    """product -> the promotions whose scope may reach it (whole order, the product, a category above it)."""
    everywhere, by_product, by_path = [], defaultdict(list), defaultdict(list)
    for promotion in promotions:
        if promotion.scope == Promotion.Scope.PRODUCTS:
            for product in promotion.products.all():
                by_product[product.pk].append(promotion)
        elif promotion.scope == Promotion.Scope.CATEGORIES:
            for category in promotion.categories.all():
                by_path[category.path].append(promotion)
        else:
            everywhere.append(promotion)

    def find(product) -> list[Promotion]:
        parts = product.category.path.split("/")
        above = (by_path.get("/".join(parts[:depth]), []) for depth in range(1, len(parts) + 1))
        return list({p.pk: p for p in [*everywhere, *by_product.get(product.pk, []), *chain(*above)]}.values())

    return find


class AutomaticPromotionOffers:
    def offers(self, products: list) -> dict[int, Offer]:
        """Priced by the engine, as the cart will; no query once the promotions are read for this version."""
        if not products:
            return {}
        find = _in_scope(self._promotions())
        result = {}
        for product in products:
            offer = _offer(find(product), _OneUnit(product), product.price_money)
            if offer is not None:
                result[product.pk] = offer
        return result

    def variant_offers(self, product, variants: list) -> dict[int, Offer]:
        """Each variant priced as the cart will price it: at its own price when it has one. The engine
        runs once per distinct price (most of a product's variants share the product's)."""
        if not variants:
            return {}
        candidates = _in_scope(self._promotions())(product)
        by_price: dict = {}
        result = {}
        for variant in variants:
            variant.product = product  # its price, or the product's: no query
            price = variant.price_money
            if price.amount not in by_price:
                by_price[price.amount] = _offer(candidates, _OneUnit(product, variant), price)
            if by_price[price.amount] is not None:
                result[variant.pk] = by_price[price.amount]
        return result

    @staticmethod
    def _promotions() -> list[Promotion]:
        state = _cached_state()
        return state.promotions if state else public_promotions(timezone.now())

    def seconds_until_change(self) -> int | None:
        """Until the next automatic promotion starts or ends."""
        state = _cached_state()
        moment = state.next_change if state else _next_change(timezone.now())
        return int((moment - timezone.now()).total_seconds()) + 1 if moment is not None else None


def _offer(candidates: list[Promotion], line: _OneUnit, price: Money) -> Offer | None:
    """The offer on one unit at `price` from the promotions that may reach it, as the engine applies them."""
    if not candidates:
        return None
    applied, _verdict = engine.apply_in_order(candidates, priced=price_lines([line]))
    if not applied:
        return None
    saving = sum((a.amount.amount for a in applied), start=Money.zero(price.currency).amount)
    return Offer(
        price=Money(price.amount - saving, price.currency).at_least_zero(),
        label=", ".join(a.promotion.name for a in applied),
        promotion=applied[0].promotion.pk,
        terms=", ".join(terms.offer(a.promotion, price.currency) for a in applied),
    )
