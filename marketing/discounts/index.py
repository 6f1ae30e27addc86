"""The promotions a cart can meet, read once per change instead of once per cart.

A store prices carts all day and edits promotions a few times a week. So every
process keeps the active promotions with their scope (products, excluded
products, category paths, whether only chosen customers may use them) in an
index by product, by category path and for the whole order, under a version
token held in the shared cache. Any write to a promotion or its scope replaces
the token (when the transaction commits, like the catalog's page
cache), and each process rebuilds its copy on its next cart: four queries.

What changes with every order or differs per customer is never in the index: a
promotion's `times_used`, whether this customer is a chosen one, how often they
used it, whether they ordered before. prepared() reads those for the promotions
a cart meets, in one query, onto copies, so the shared copies never hold one
customer's facts.
"""

from __future__ import annotations

import bisect
import copy
import threading
from dataclasses import dataclass, field

from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from marketing.discounts.models import Promotion, Redemption
from shop.cart.pricing import customer_changed, customer_key, depends_on
from shop.core import tokens

VERSION_KEY = "discounts:promotions:version"

_lock = threading.Lock()
_held: dict = {"version": None, "index": None}


@dataclass
class Index:
    by_id: dict[int, Promotion] = field(default_factory=dict)  # every active promotion that has not ended
    whole_order: list[int] = field(default_factory=list)  # automatic ones, by scope
    by_product: dict[int, list[int]] = field(default_factory=dict)
    by_path: dict[str, list[int]] = field(default_factory=dict)
    moments: list = field(default_factory=list)  # when one of them starts or ends, sorted

    def next_change(self, now):
        """The first moment after now when one of these promotions starts or ends (None: never)."""
        at = bisect.bisect_right(self.moments, now)
        return self.moments[at] if at < len(self.moments) else None

    def automatic(self, product_ids, paths) -> list[Promotion]:
        """The automatic promotions whose scope meets these products or category paths (shared copies)."""
        ids = set(self.whole_order)
        for product_id in product_ids:
            ids.update(self.by_product.get(product_id, ()))
        for path in paths:
            ids.update(self.by_path.get(path, ()))
        return [self.by_id[pk] for pk in sorted(ids)]


def version() -> str:
    return tokens.read([VERSION_KEY])[VERSION_KEY]


def changed() -> None:
    """A promotion or its scope changed: every process reads the index again (now, and after commit)."""
    tokens.bump([VERSION_KEY])


def current() -> Index:
    token = version()
    held = _held
    if held["version"] == token:
        return held["index"]
    index = build()
    with _lock:
        _held.update(version=token, index=index)
    return index


def build(now=None) -> Index:
    """Read the active promotions that have not ended, with their scope rows (four queries)."""
    now = now or timezone.now()
    promotions = {
        p.pk: p
        for p in Promotion.objects.filter(is_active=True)
        .exclude(ends_at__lte=now)
        .annotate(chosen_customers=Count("customers", distinct=True))
        .order_by()
    }
    products: dict[int, set] = {pk: set() for pk in promotions}
    excluded: dict[int, set] = {pk: set() for pk in promotions}
    paths: dict[int, set] = {pk: set() for pk in promotions}
    through = {"promotion_id__in": list(promotions)}
    for promotion_id, product_id in Promotion.products.through.objects.filter(**through).values_list(
        "promotion_id", "product_id"
    ):
        products[promotion_id].add(product_id)
    for promotion_id, product_id in Promotion.excluded_products.through.objects.filter(**through).values_list(
        "promotion_id", "product_id"
    ):
        excluded[promotion_id].add(product_id)
    for promotion_id, path in Promotion.categories.through.objects.filter(**through).values_list(
        "promotion_id", "category__path"
    ):
        paths[promotion_id].add(path)
    index = Index()
    index.moments = sorted(
        {p.starts_at for p in promotions.values() if p.starts_at > now}
        | {p.ends_at for p in promotions.values() if p.ends_at is not None}
    )
    for pk, promotion in promotions.items():
        allowed = {
            Promotion.Scope.CATEGORIES: paths[pk],
            Promotion.Scope.PRODUCTS: products[pk],
        }.get(promotion.scope, set())
        promotion._scope_ids = (frozenset(allowed), frozenset(excluded[pk]))  # what engine._scope reads
        index.by_id[pk] = promotion
        if promotion.requires_code:
            continue
        if promotion.scope == Promotion.Scope.ORDER:
            index.whole_order.append(pk)
        elif promotion.scope == Promotion.Scope.PRODUCTS:
            for product_id in allowed:
                index.by_product.setdefault(product_id, []).append(pk)
        elif promotion.scope == Promotion.Scope.CATEGORIES:
            for path in allowed:
                index.by_path.setdefault(path, []).append(pk)
    return index


def _copy(promotion: Promotion) -> Promotion:
    clone = Promotion.__new__(Promotion)
    clone.__dict__ = promotion.__dict__.copy()
    clone._state = copy.copy(promotion._state)
    clone._state.fields_cache = promotion._state.fields_cache.copy()
    return clone


def _needs_live_facts(promotion: Promotion) -> bool:
    return bool(
        promotion.usage_limit is not None
        or promotion.chosen_customers
        or promotion.usage_limit_per_customer is not None
        or promotion.first_order_only
    )


def usage_key(promotion_id: int) -> str:
    """The token of a promotion's `times_used` (replaced when an order claims or gives back a use)."""
    return f"discounts:usage:{promotion_id}"


def code_key(code_id: int) -> str:
    """The token of a code's row (edited, used, given back)."""
    return f"discounts:code:{code_id}"


def uses_changed(*, promotion_ids=(), code_ids=(), customer_ids=()) -> None:
    """Uses were claimed or given back: carts priced with the old counts are out of date."""
    tokens.bump([*(usage_key(pk) for pk in promotion_ids), *(code_key(pk) for pk in code_ids if pk)])
    customer_changed(customer_ids)


def prepared(promotions: list[Promotion], customer, memo: dict | None = None) -> list[Promotion]:
    """Copies of these promotions with what changes per order and per customer read now, in one query.

    Sets `times_used` (for the usage limit), `chosen_me` (whether the customer is one of the
    chosen ones), `used_by_customer` (their active redemptions) and `customer_has_ordered`,
    which the engine's checks read instead of querying per promotion. The engine writes
    nothing else on a promotion, so those without such facts are returned as they are.
    """
    # Only those that get facts are copied: the engine never writes to the others.
    copies = [_copy(p) if _needs_live_facts(p) else p for p in promotions]
    live = [p for p in copies if _needs_live_facts(p)]
    if not live:
        return copies
    if memo is not None:  # before the read: a use claimed meanwhile replaces a token already held
        keys = [usage_key(p.pk) for p in live if p.usage_limit is not None]
        depends_on(memo, [*keys, *([customer_key(customer.pk)] if customer is not None else [])])
    rows = Promotion.objects.filter(pk__in=[p.pk for p in live]).order_by().values("pk", "times_used")
    if customer is not None:
        from shop.orders.models import PAID_STATES, Order, S

        rows = rows.annotate(
            chosen_me=Exists(
                Promotion.customers.through.objects.filter(promotion_id=OuterRef("pk"), user_id=customer.pk)
            ),
            used_by_customer=Coalesce(
                Subquery(
                    Redemption.objects.filter(
                        promotion_id=OuterRef("pk"), customer_id=customer.pk, status=Redemption.Status.ACTIVE
                    )
                    .order_by()
                    .values("promotion_id")
                    .annotate(n=Count("pk"))
                    .values("n")[:1],
                    output_field=IntegerField(),
                ),
                Value(0),
            ),
            customer_has_ordered=Exists(
                Order.objects.filter(user_id=customer.pk, status__in=[*PAID_STATES, S.REFUNDED])
            ),
        )
    facts = {row.pop("pk"): row for row in rows}
    for promotion in live:
        row = facts.get(promotion.pk)
        if row is None:  # deleted since the index was read: the claim at checkout would refuse it
            promotion.is_active = False
            continue
        for name, value in row.items():
            setattr(promotion, name, value)
    return copies
