"""What other apps may read of the recommendations (docs/architecture.md, "Import rules"):
products picked for one customer, for a message that has no visit behind it (campaigns)."""

from __future__ import annotations

from marketing.analytics import selectors as analytics
from marketing.recommendations import shelves
from shop.catalog.models import Product


class _Reader:
    """What the shelves read of a request, for a customer known without one: their history is
    filled in ahead (with their consent, their account's recent products; else none), so no
    visit is looked up."""

    def __init__(self, user):
        self.user = user
        customer_id = analytics.tracked_customer_id(user)
        recent = analytics.recent_products(customer_id=customer_id) if customer_id is not None else []
        self._recommendations = {"recent": [(name, pk) for name, pk, _at in recent]}


def for_customer(*, user, size: int = 4) -> list[Product]:
    """Up to `size` products for the customer, as "Recommended for you" would show them (from what
    they viewed, carted and bought), else the store's trending ones; in stock and on sale only."""
    result = shelves.for_you(_Reader(user))
    ids = result.ids or shelves.trending().ids
    products = Product.objects.filter(pk__in=ids[: size * 2], is_active=True, stock__gt=0)
    by_id = {p.pk: p for p in products}
    return [by_id[pk] for pk in ids if pk in by_id][:size]


def bought_together(*, product_id: int, request=None) -> list[int]:
    """The ids on a product's "bought together" shelf, best first, as its page shows them."""
    from marketing.recommendations.models import Shelf

    return list(shelves.for_product(Shelf.BOUGHT_TOGETHER, product_id, request=request).ids)
