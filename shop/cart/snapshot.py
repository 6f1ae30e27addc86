"""A priced cart, kept until something it shows changes.

A shopper looks at their cart far more often than they change it, and pricing it (the
discount engine, points, the panels, the page) costs far more than a catalog page. So the
cart page's main part and the API cart are kept in the shared cache per cart, with what
their pricing depended on, as Saleor keeps a checkout's prices with the checkout; but
where Saleor lets them expire after a while, these are dropped the moment anything
they read changes:

- while pricing, each step declares the version tokens (shop.core.tokens) of what it
  reads (shop.cart.pricing.depends_on) and the moment its answer stops being true
  (valid_until): the cart's own token (lines, code, points: carts_changed), each product's
  (catalog cache), the promotions index's version, each limited promotion's uses, the
  code's row, the customer's token (orders, redemptions, points, referrals:
  pricing.customer_changed), the loyalty rules; and when a promotion starts or ends or
  points become usable or expire;
- a kept cart is served only while every one of those tokens still holds and that moment
  has not come: one cache read for the entry and one for its tokens, no pricing, no query
  but finding the cart.

Tokens are read before the rows they stand for. Two cannot be: the code's (which code is
on the cart is only known once read) and the products' (which products, once the lines
are read). A pricing that read any token late keeps its cart *untrusted*: the next
request reads all of that entry's tokens first, prices again, and keeps it trusted. So a
cart whose code or lines changed is priced twice, then served from the cache.

Checkout never uses what is kept here: it prices the cart afresh, under its locks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from shop.cart.pricing import DEPENDS, KNOWN, LATE, UNTIL, depends_on
from shop.core import tokens


def cart_key(cart_id: int) -> str:
    """The token of a cart's own state: its lines, the code and the points on it."""
    return f"pricing:cart:{cart_id}"


def carts_changed(cart_ids) -> None:
    """These carts' lines, code or points changed (their tokens are replaced on commit)."""
    tokens.bump(cart_key(pk) for pk in cart_ids if pk is not None)


# What a kept page holds where each request's CSRF token goes ({% csrf_token %} renders it).
CSRF_PLACEHOLDER = "kept-csrf-token"


def enabled() -> bool:
    return settings.SHOP_PAGE_CACHE_SECONDS > 0


@dataclass(frozen=True)
class Entry:
    depends: dict[str, str]  # token key -> the token read
    until: object  # a datetime, or None
    trusted: bool  # every token was read before its rows
    value: object


def _key(name: str, cart_id: int, parts: tuple) -> str:
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:24]
    return f"cart:kept:{name}:{cart_id}:{digest}"


def kept(name: str, *, cart, parts: tuple, build: Callable[[dict], object]):
    """build(memo) once while nothing it depends on changes; memo is the pricing's (price_cart(memo=...)).

    `parts`: whatever else the value shows (the language, the host of absolute links).
    """
    if not enabled() or cart is None or cart.pk is None:
        return build({})
    key = _key(name, cart.pk, parts)
    entry = cache.get(key)
    own = [cart_key(cart.pk)]
    now = timezone.now()
    if entry is None:
        known = tokens.read(own)
    else:
        known = tokens.read([*own, *entry.depends])  # one read: the entry's tokens, before any row
        if (
            entry.trusted
            and all(known.get(k) == v for k, v in entry.depends.items())
            and (entry.until is None or now < entry.until)
        ):
            return entry.value
    memo = {KNOWN: known}
    depends_on(memo, own)
    value = build(memo)
    until = memo.get(UNTIL)
    seconds = settings.SHOP_PAGE_CACHE_SECONDS
    if until is not None:
        seconds = min(seconds, int((until - timezone.now()).total_seconds()))
    if seconds > 0:
        cache.set(key, Entry(depends=memo[DEPENDS], until=until, trusted=not memo.get(LATE), value=value), seconds)
    return value
