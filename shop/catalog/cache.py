"""Cached catalog pages at the grain of what they show, never stale.

What is cached is kept under *tokens*: random strings in the cache that a write
replaces, so everything built under the old string is out of date at once. A
token is replaced when the write's transaction commits, so a page built
meanwhile from pre-commit data is dropped too (shop.core.tokens). Each
entry is keyed by the tokens of what it shows, no more:

- `product:<id>`, one per product: what its card and its page show (name, price,
  images, reviews, rating). Stock counts only where a page shows it: "Only N
  left", "Out of stock" and the quantity choice (`models.stock_shown`), so a
  sale that leaves plenty in stock replaces nothing that a page shows.
- `lists`: which products a list shows and in what order (a list, a category,
  the home sections, an API page). Replaced when a product is added, deleted,
  edited (its price, name, rating... choose where it sorts and which filters it
  meets) or sells out or comes back: the id lists are rebuilt, the product
  cards they point to stay cached.
- `tree`: the category tree (sidebar, breadcrumbs). `offers`: the automatic
  promotions that lower shown prices (shop.catalog.offers).
- `products`: every product at once (an import, a write we cannot pin down).
- `shown`: replaced with any of the above, except a stock change that no page
  shows. A whole assembled page is kept under it, so while nothing visible
  changes (steady sales included) a page costs two cache reads and no query.
- `stock`: replaced with any stock change at all. The API shows exact stock levels:
  its answers are kept whole under `shown` and `stock`, and else assembled from
  cached items with the stock levels read in one query.

So a list page is the assembled page (`shown`); or else it is put together from
the frame around the results (sidebar, filters: `tree`), the results (the page's
ids, the count, the page links: `lists`), and every card, read with one get_many
(`products` and `offers` in the key, `product:<id>` checked in the value), only
the missing cards built, with one query for their products.

What is cached is the same for every visitor: nothing per user or per session
(the header with the cart, the CSRF token and the review form stay live).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.cache import cache

from shop.catalog.offers import cache_seconds
from shop.core import tokens

CSRF_MARKER = "<!--csrf-token-->"

LISTS, TREE, OFFERS, PRODUCTS, SHOWN, STOCK = "lists", "tree", "offers", "products", "shown", "stock"
EVERYTHING = (LISTS, TREE, OFFERS, PRODUCTS, SHOWN, STOCK)
# Past this many products, a write replaces every token (changed()) rather than each product's own.
MANY = 200


def enabled() -> bool:
    return settings.SHOP_PAGE_CACHE_SECONDS > 0


# -- tokens ----------------------------------------------------------------------------------


def _global_key(name: str) -> str:
    return f"catalog:token:{name}"


def _product_key(product_id: int) -> str:
    return f"catalog:token:product:{product_id}"


def _read(keys: list[str]) -> dict[str, str]:
    return tokens.read(keys)


def token(name: str) -> str:
    """One global token (LISTS, TREE, OFFERS, ...), e.g. for a key of another app's own cache."""
    return _read([_global_key(name)])[_global_key(name)]


def token_key(name: str) -> str:
    """The cache key of a global token (STOCK, ...), for other caches' dependencies."""
    return _global_key(name)


def product_token_keys(ids: Iterable[int]) -> list[str]:
    """The cache keys of these products' tokens (what their cards and pages show), for other caches'
    dependencies (shop.cart.snapshot)."""
    return [_product_key(pk) for pk in ids]


def _product_tokens(ids: list[int]) -> dict[int, str]:
    found = _read([_product_key(pk) for pk in ids])
    return {pk: found[_product_key(pk)] for pk in ids}


def _order(key: str) -> int:
    # Per-product tokens first and `shown` last: a reader that sees the new `shown` then reads
    # the new product tokens (file caches write one key after the other).
    return {_global_key(SHOWN): 3, _global_key(STOCK): 2}.get(key, 0 if ":product:" in key else 1)


def _bump(keys: set[str]) -> None:
    """Replace these tokens when the transaction commits (shop.core.tokens.bump)."""
    tokens.bump(keys, order=_order)


def changed() -> None:
    """Anything in the catalog may have changed (an import, a category moved): everything is out of date."""
    _bump({_global_key(name) for name in EVERYTHING})


def products_changed(product_ids: Iterable[int], *, lists: bool = True) -> None:
    """These products changed what they show (and, with `lists`, where they sort or which filters they meet)."""
    ids = set(product_ids)
    if not ids:
        return
    if len(ids) > MANY:
        return changed()
    names = {SHOWN, LISTS} if lists else {SHOWN}
    _bump({_global_key(name) for name in names} | {_product_key(pk) for pk in ids})


def stock_changed(*, shown: Iterable[int] = (), lists: bool = False) -> None:
    """Stock levels changed; `shown`: the products whose pages show it; `lists`: one sold out or came back.

    A sale that leaves plenty in stock replaces one token, which no page but the API's depends on.
    """
    shown = set(shown)
    if len(shown) > MANY:
        return changed()
    keys = {_global_key(STOCK)}
    if shown or lists:
        keys |= {_global_key(SHOWN)} | {_product_key(pk) for pk in shown}
    if lists:
        keys.add(_global_key(LISTS))
    _bump(keys)


def offers_changed() -> None:
    """The offers shown on product cards and pages changed (a promotion saved, switched or used up)."""
    _bump({_global_key(OFFERS), _global_key(SHOWN)})


# -- cached values ---------------------------------------------------------------------------


def _key(name: str, on: tuple[str, ...], parts: tuple) -> str:
    tokens = _read([_global_key(n) for n in on])
    digest = hashlib.sha256(repr((parts, [tokens[_global_key(n)] for n in on])).encode()).hexdigest()[:32]
    return f"catalog:{name}:{digest}"


def _timeout(with_offers: bool) -> int:
    # Prices shown may change when a promotion starts or ends: expire by then.
    seconds = settings.SHOP_PAGE_CACHE_SECONDS
    return cache_seconds(seconds) if with_offers else seconds


def cached(name: str, parts: tuple, build: Callable, *, on: tuple[str, ...], offers: bool = False, timeout=None):
    """build() once per key parts and tokens `on`; build may raise to avoid caching (404, 400).

    `offers`: the value shows prices after offers, so it expires when an offer starts or ends.
    """
    if not enabled():
        return build()
    key = _key(name, on, parts)  # tokens read before build() reads the database
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout or _timeout(offers))
    return value


def kept(name: str, parts: tuple, build: Callable, *, on: tuple[str, ...], timeout: int = 60 * 60):
    """Like cached(), but kept even when the page cache is off (SHOP_PAGE_CACHE_SECONDS=0): for
    what every page shows whatever page it is (the category menu), never stale under its tokens."""
    key = _key(name, on, parts)
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, timeout)
    return value


def cached_each(name: str, ids: list[int], parts: tuple, build: Callable, *, on: tuple[str, ...]) -> dict:
    """One value per product (a card, an API item): {id: value}; build(missing ids) -> {id: value}.

    Each is kept while its product's own token holds: all are read with one get_many, and
    only the missing ones built, with one call. An id that build() leaves out (the product
    is gone) is left out of the answer too.
    """
    if not enabled():
        return build(ids)
    prefix = _key(name, on, parts)
    tokens = _product_tokens(ids)  # read before build() reads the database
    found = cache.get_many([f"{prefix}:{pk}" for pk in ids])
    values, missing = {}, []
    for pk in ids:
        entry = found.get(f"{prefix}:{pk}")
        if entry is not None and entry[0] == tokens[pk]:
            values[pk] = entry[1]
        else:
            missing.append(pk)
    if missing:
        built = build(missing)
        cache.set_many({f"{prefix}:{pk}": (tokens[pk], value) for pk, value in built.items()}, _timeout(True))
        values.update(built)
    return values


def cached_one(
    name: str,
    parts: tuple,
    build: Callable,
    *,
    find: Callable[[], int | None],
    on: tuple[str, ...],
):
    """A value about one product (its page), kept while that product's token holds.

    build() returns a dict with "product_id". The entry remembers which product it showed;
    without an entry, find() says which product it will be (None: build raises its 404).
    """
    if not enabled():
        return build()
    key = _key(name, on, parts)
    entry = cache.get(key)
    product_id = entry[0] if entry is not None else find()
    if product_id is None:
        return build()
    tokens = _product_tokens([product_id])[product_id]  # read before build()
    if entry is not None and entry[1] == tokens:
        return entry[2]
    value = build()
    if value["product_id"] == product_id:
        cache.set(key, (product_id, tokens, value), _timeout(True))
    else:  # another product has taken the slug: find it next time
        cache.delete(key)
    return value
