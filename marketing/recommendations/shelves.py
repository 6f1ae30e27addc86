"""Serving: a shelf assembled from precomputed rows, in a small constant number of queries.

Every shelf follows the same rules: never a product that cannot be bought (inactive, out of
stock) nor the product of the page, never what staff blocked, pinned products first, not what the
customer already bought (unless it is bought again and again: `Product.is_consumable`), and never
a row of one category (at most `max(2, size // 3)` of one, unless the catalog has nothing else).
A shelf short of products is filled from what needs no history (cold start): the category's
best-sellers, the same brand, what is trending, the store's best-sellers, new arrivals. Each
product says why it is shown (`Pick.reason`). docs/recommendations.md, "Serving".

What a shelf reads: the products' neighbour lists and rules (cache.products), the rankings and
shelf settings (kept under the recommendations token), the candidates' facts (kept per product
under the catalog's tokens, so a product that sells out leaves every shelf at once), and for
personal shelves the visitor's recent products (kept in the cache as they happen) and the
customer's purchases (kept until they pay for another order).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from marketing.analytics import selectors as analytics
from marketing.recommendations import cache as recs_cache
from marketing.recommendations.models import Shelf
from shop.catalog import cache as catalog_cache
from shop.catalog.models import Product
from shop.orders.models import OrderLine

DEFAULT_SIZE = 8
SHORT = 4  # a product shelf with fewer of its own neighbours is filled from related lists
# How much each seed lends its neighbours on personal shelves (the build's weights, for the moment).
SEED_WEIGHTS = {"purchase": 5.0, "add_to_cart": 3.0, "view_item": 1.0, "cart": 3.0}
RECENT_DECAY = 0.85  # each older event of the visitor counts this much less than the one after it

REASONS = {
    "bought_with": _("Often bought with %(name)s"),
    "viewed_with": _("Viewed by shoppers who viewed %(name)s"),
    "because_viewed": _("Because you viewed %(name)s"),
    "because_carted": _("Goes with %(name)s in your cart"),
    "because_bought": _("Because you bought %(name)s"),
    "goes_with": _("Goes with %(name)s"),
    "pinned": _("Our pick to go with %(name)s"),
    "category": _("Popular in %(name)s"),
    "brand": _("More from %(name)s"),
    "trending": _("Trending this week"),
    "bestseller": _("One of our best-sellers"),
    "new": _("New arrival"),
    "viewed": _("You viewed this"),
}


@dataclass(frozen=True)
class Fact:
    """What serving needs to know of a product."""

    name: str
    category_id: int
    category: str
    brand: str
    buyable: bool
    consumable: bool


@dataclass(frozen=True)
class Pick:
    product_id: int
    reason: str  # a key of REASONS
    about: str | int = ""  # the product (its id until assembled), category or brand the reason names

    @property
    def reason_text(self) -> str:
        return str(REASONS[self.reason]) % {"name": self.about}


@dataclass(frozen=True)
class Result:
    shelf: str
    picks: list[Pick]

    @property
    def title(self) -> str:
        return str(Shelf(self.shelf).label)

    @property
    def ids(self) -> list[int]:
        return [pick.product_id for pick in self.picks]


# -- reads ------------------------------------------------------------------------------------


def facts(ids: Iterable[int]) -> dict[int, Fact]:
    """Each product's facts, kept per product under the catalog's tokens (one query for the misses)."""

    def build(missing: list[int]) -> dict[int, Fact]:
        rows = Product.objects.filter(pk__in=missing).values_list(
            "pk", "name", "category_id", "category__name", "brand", "is_active", "stock", "is_consumable"
        )
        return {
            pk: Fact(name, category_id, category, brand, active and stock > 0, consumable)
            for pk, name, category_id, category, brand, active, stock, consumable in rows
        }

    ids = list(dict.fromkeys(ids))
    return catalog_cache.cached_each("recommendation-fact", ids, (), build, on=(catalog_cache.PRODUCTS,)) if ids else {}


def settings_of(shelf: str) -> tuple[bool, int]:
    return recs_cache.shelf_settings().get(shelf, (True, DEFAULT_SIZE))


def _memo(request, name: str, build):
    """Read once per request, however many shelves the page shows."""
    if request is None:
        return build()
    memo = request.__dict__.setdefault("_recommendations", {})
    if name not in memo:
        memo[name] = build()
    return memo[name]


def purchased(request) -> dict[int, int]:
    """{product id: rank} of what the customer bought in paid orders, most recent first (one query)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return _memo(request, "purchased", lambda: recs_cache.bought(user.pk, lambda: _purchased(user.pk)))


def _purchased(user_id: int) -> dict[int, int]:
    rows = (
        OrderLine.objects.filter(order__user_id=user_id, order__paid_at__isnull=False, product__isnull=False)
        .order_by("-order__placed_at", "-id")
        .values_list("product_id", flat=True)[:100]
    )
    out: dict[int, int] = {}
    for pk in rows:
        out.setdefault(pk, len(out))
    return out


def _new_arrivals() -> list[int]:
    return catalog_cache.cached(
        "recommendations-new",
        (),
        lambda: list(
            Product.objects.active().in_stock().order_by("-created_at", "-id").values_list("pk", flat=True)[:24]
        ),
        on=(catalog_cache.LISTS,),
    )


def _same_brand(brand: str) -> list[int]:
    if not brand:
        return []
    return catalog_cache.cached(
        "recommendations-brand",
        (brand,),
        lambda: list(
            Product.objects.active()
            .in_stock()
            .filter(brand=brand)
            .order_by("-rating_count", "-id")
            .values_list("pk", flat=True)[:24]
        ),
        on=(catalog_cache.LISTS,),
    )


# -- assembly ---------------------------------------------------------------------------------


class Assembler:
    """Candidates in, a shelf out: scores added up with the strongest reason kept, then the rules."""

    def __init__(
        self, shelf: str, *, exclude: Iterable[int] = (), bought: dict[int, int] | None = None, varied: bool = True
    ):
        self.shelf = shelf
        self.varied = varied
        self.shown, self.size = settings_of(shelf)
        self.exclude = set(exclude)
        self.bought = bought or {}
        self.blocks: set[int] = set()
        self.pinned: list[Pick] = []
        self.scores: dict[int, float] = defaultdict(float)
        self.best: dict[int, tuple[float, Pick]] = {}
        self.fill: list[Pick] = []

    def add(self, pk: int, score: float, pick: Pick) -> None:
        self.scores[pk] += score
        if pk not in self.best or score > self.best[pk][0]:
            self.best[pk] = (score, pick)

    def pin(self, pick: Pick) -> None:
        self.pinned.append(pick)

    def later(self, picks: Iterable[Pick]) -> None:
        """Fillers, in order, used only when the shelf is short."""
        self.fill.extend(picks)

    def result(self) -> Result:
        if not self.shown:
            return Result(self.shelf, [])
        ranked = sorted((pk for pk in self.scores if self.scores[pk] > 0), key=lambda pk: (-self.scores[pk], pk))
        ordered = [*self.pinned, *(self.best[pk][1] for pk in ranked), *self.fill]
        # Read by chunks, best first, until there are enough to choose a varied shelf from: a shelf
        # whose own candidates fill it never reads its fillers (each fact is a cache read).
        picks, seen, chunk, enough = [], set(), max(self.size * 3, 12), self.size * 2
        for start in range(0, len(ordered), chunk):
            if len(picks) >= enough:
                break
            part = ordered[start : start + chunk]
            known = facts([*(p.product_id for p in part), *(p.about for p in part if isinstance(p.about, int))])
            for pick in part:
                pk = pick.product_id
                fact = known.get(pk)
                if pk in seen or pk in self.exclude or pk in self.blocks or fact is None or not fact.buyable:
                    continue
                if pk in self.bought and not fact.consumable:
                    continue
                seen.add(pk)
                if isinstance(pick.about, int):
                    about = known.get(pick.about)
                    pick = Pick(pk, pick.reason, about.name if about else "")
                picks.append((pick, fact.category_id))
        if not self.varied:
            return Result(self.shelf, [pick for pick, _category in picks[: self.size]])
        return Result(self.shelf, diverse(picks, self.size, pinned=len(self.pinned)))


def diverse(picks: list[tuple[Pick, int]], size: int, *, pinned: int = 0) -> list[Pick]:
    """The first `size` picks with at most max(2, size // 3) of one category (pins always kept); when
    the rest cannot fill the shelf, the best of those held back fill it."""
    cap = max(2, size // 3)
    chosen, held, per_category = [], [], Counter()
    for n, (pick, category) in enumerate(picks):
        if len(chosen) == size:
            break
        if n >= pinned and per_category[category] >= cap:
            held.append(pick)
            continue
        chosen.append(pick)
        per_category[category] += 1
    return chosen + held[: size - len(chosen)]


def _cold_start(assembler: Assembler, fact: Fact | None, *, store_wide: bool = True) -> None:
    """Fillers that need no history of the product: its category's best-sellers and its brand's
    products; then, with `store_wide`, what is trending, the store's best-sellers, new arrivals."""
    rankings = recs_cache.rankings()
    if fact is not None:
        assembler.later(
            Pick(pk, "category", fact.category) for pk, _score in rankings.get(f"bestsellers:{fact.category_id}", [])
        )
        assembler.later(Pick(pk, "brand", fact.brand) for pk in _same_brand(fact.brand))
    if store_wide:
        assembler.later(Pick(pk, "trending") for pk, _score in rankings.get("trending", []))
        assembler.later(Pick(pk, "bestseller") for pk, _score in rankings.get("bestsellers", []))
        assembler.later(Pick(pk, "new") for pk in _new_arrivals())


# -- shelves ----------------------------------------------------------------------------------

PRODUCT_SHELVES = {Shelf.BOUGHT_TOGETHER: ("bought", "bought_with"), Shelf.VIEWED_TOGETHER: ("viewed", "viewed_with")}


def _kept(parts: tuple, build) -> Result:
    """A shelf that is the same for every visitor, kept whole while nothing it shows changes: the
    recommendations (a build, a rule, a setting), the lists (a product sold out, edited, hidden)
    and the category tree (names in its reasons). Built again otherwise, never stale."""
    return catalog_cache.cached(
        "recommendations-shelf",
        (recs_cache.token(), get_language(), *parts),
        build,
        on=(catalog_cache.LISTS, catalog_cache.TREE),
    )


def for_product(shelf: str, product_id: int, *, request=None, exclude: Iterable[int] = ()) -> Result:
    """A product's shelf: kept whole for visitors who bought nothing yet, assembled for the others."""
    bought = purchased(request)
    if bought:
        return _for_product(shelf, product_id, bought=bought, exclude=exclude)
    exclude = tuple(sorted(set(exclude)))  # the page's other shelf: the same for everyone too
    return _kept((shelf, product_id, exclude), lambda: _for_product(shelf, product_id, bought={}, exclude=exclude))


def _for_product(shelf: str, product_id: int, *, bought: dict, exclude: Iterable[int]) -> Result:
    """ "Frequently bought together" or "Customers who viewed this also viewed" on a product's page.
    When it has too few neighbours of its own (none for bought together, fewer than SHORT for viewed
    together: a new product), it borrows the blended table's, then its category's best-sellers and
    its brand's products; never unrelated store-wide lists."""
    table, reason = PRODUCT_SHELVES[Shelf(shelf)]
    rows = recs_cache.products([product_id])[product_id]
    assembler = Assembler(shelf, exclude=[product_id, *exclude], bought=bought)
    assembler.blocks.update(rows["blocks"])
    for pk in rows["pins"]:
        assembler.pin(Pick(pk, "pinned", product_id))
    own = [(pk, score) for pk, score in rows[table] if score > 0]  # a model's negative weights are never shown
    for pk, score in own:
        assembler.add(pk, score, Pick(pk, reason, product_id))
    # Bought together is a short promise, kept unpadded; a product with none of its own (new) borrows.
    if len(own) < (1 if shelf == Shelf.BOUGHT_TOGETHER else SHORT):
        assembler.later(Pick(pk, "goes_with", product_id) for pk, score in rows["blended"] if score > 0)
        _cold_start(assembler, facts([product_id]).get(product_id), store_wide=False)
    return assembler.result()


def _seeded(shelf: str, seeds: list[tuple[int, float, str]], *, exclude: Iterable[int], bought, tables) -> Result:
    """A shelf from seeds (product, weight, reason): each lends its neighbours its weight."""
    rows = recs_cache.products(pk for pk, _w, _r in seeds)
    assembler = Assembler(shelf, exclude={*exclude, *(pk for pk, _w, _r in seeds)}, bought=bought)
    for pk, weight, reason in seeds:
        row = rows[pk]
        assembler.blocks.update(row["blocks"])
        for target in row["pins"][:2]:
            assembler.add(target, weight * 2, Pick(target, reason, pk))
        for table, table_weight in tables:
            for target, score in row[table]:
                assembler.add(target, weight * table_weight * score, Pick(target, reason, pk))
    seed_fact = facts([seeds[0][0]]).get(seeds[0][0]) if seeds else None
    _cold_start(assembler, seed_fact)
    return assembler.result()


def for_cart(product_ids: list[int], *, request=None) -> Result:
    """ "Complete your order": what goes with the cart's products."""
    seeds = [(pk, 1.0, "because_carted") for pk in product_ids]
    return _seeded(
        Shelf.COMPLETE_ORDER,
        seeds,
        exclude=product_ids,
        bought=purchased(request),
        tables=[("bought", 1.0), ("blended", 0.5)],
    )


def after_order(product_ids: list[int], *, request=None) -> Result:
    """On the order's confirmation: what goes with what was just bought."""
    seeds = [(pk, 1.0, "goes_with") for pk in product_ids]
    return _seeded(
        Shelf.AFTER_ORDER,
        seeds,
        exclude=product_ids,
        bought=purchased(request),
        tables=[("bought", 1.0), ("blended", 0.5)],
    )


def recent(request) -> list[tuple[str, int]]:
    """The visitor's latest product events (name, product id), newest first: this visit's, or with
    their consent the customer's across visits (recs_cache.recent: no query while it is kept)."""

    def read():
        if request is None:
            return []
        customer_id = analytics.tracked_customer_id(getattr(request, "user", None))
        if customer_id is not None:
            return recs_cache.recent(
                "c",
                customer_id,
                lambda: [(name, pk) for name, pk, _at in analytics.recent_products(customer_id=customer_id)],
            )
        visit = analytics.visit_id(request)
        return recs_cache.recent("v", visit, list) if visit else []

    return _memo(request, "recent", read)


def for_you(request, *, exclude: Iterable[int] = ()) -> Result:
    """ "Recommended for you": from what the visitor viewed and carted lately (this visit, or with
    consent their account's history) and what the customer bought, newest weighing most."""
    bought = purchased(request)
    weights: dict[int, float] = defaultdict(float)
    reasons: dict[int, str] = {}
    for n, (name, pk) in enumerate(recent(request)):
        weight = SEED_WEIGHTS.get(name, 1.0) * RECENT_DECAY**n
        weights[pk] += weight
        reasons.setdefault(pk, "because_carted" if name == "add_to_cart" else "because_viewed")
    for n, pk in enumerate(bought):
        weights[pk] += SEED_WEIGHTS["purchase"] * RECENT_DECAY ** (n / 2)
        reasons.setdefault(pk, "because_bought")
    seeds = sorted(weights.items(), key=lambda s: (-s[1], s[0]))[:20]
    if not seeds:
        return Result(Shelf.FOR_YOU, [])  # nothing known of this visitor: "for you" would be a pretence
    return _seeded(
        Shelf.FOR_YOU,
        [(pk, weight, reasons[pk]) for pk, weight in seeds],
        exclude=exclude,
        bought=bought,
        tables=[("blended", 1.0)],
    )


def trending(*, exclude: Iterable[int] = ()) -> Result:
    """The same for everyone: kept whole (see `_kept`), the page's exclusions applied after."""
    kept = _kept(("trending",), _trending)
    exclude = set(exclude)
    if not exclude:
        return kept
    return Result(kept.shelf, [pick for pick in kept.picks if pick.product_id not in exclude])


def _trending() -> Result:
    assembler = Assembler(Shelf.TRENDING)
    for pk, score in recs_cache.rankings().get("trending", []):
        assembler.add(pk, score, Pick(pk, "trending"))
    assembler.later(Pick(pk, "bestseller") for pk, _score in recs_cache.rankings().get("bestsellers", []))
    return assembler.result()


def recently_viewed(request, *, exclude: Iterable[int] = ()) -> Result:
    """The visitor's last viewed products, newest first (this visit, or with consent their account's)."""
    # Recency, not variety, is what this shelf promises: newest first, no category cap.
    assembler = Assembler(Shelf.RECENTLY_VIEWED, exclude=exclude, varied=False)
    views = [pk for name, pk in recent(request) if name == analytics.VIEW_ITEM]
    for n, pk in enumerate(views):
        if pk not in assembler.scores:  # its latest view places it
            assembler.add(pk, math.pow(RECENT_DECAY, n), Pick(pk, "viewed"))
    return assembler.result()
