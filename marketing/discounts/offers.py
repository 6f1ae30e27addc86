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
    """A cart line of one unit, to price a product as the cart would."""

    product: object
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
        state = _cached_state()
        promotions = state.promotions if state else public_promotions(timezone.now())
        find = _in_scope(promotions)
        result = {}
        for product in products if promotions else []:
            candidates = find(product)
            if not candidates:
                continue
            applied, _verdict = engine.apply_in_order(candidates, priced=price_lines([_OneUnit(product)]))
            if applied:
                saving = sum((a.amount.amount for a in applied), start=Money.zero(product.price_money.currency).amount)
                result[product.pk] = Offer(
                    price=Money(product.price - saving, product.price_money.currency).at_least_zero(),
                    label=", ".join(a.promotion.name for a in applied),
                    promotion=applied[0].promotion.pk,
                    terms=", ".join(terms.offer(a.promotion, product.price_money.currency) for a in applied),
                )
        return result

    def seconds_until_change(self) -> int | None:
        """Until the next automatic promotion starts or ends."""
        state = _cached_state()
        moment = state.next_change if state else _next_change(timezone.now())
        return int((moment - timezone.now()).total_seconds()) + 1 if moment is not None else None
