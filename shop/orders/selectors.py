from django.db.models import Prefetch, QuerySet, prefetch_related_objects

from shop.orders.models import IN_PROGRESS, Order, OrderEvent, OrderLine


def _lines() -> Prefetch:
    # Each line shows its product's slug: fetch the products with the lines, not one query per line.
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product"))


def _events() -> QuerySet[OrderEvent]:
    return OrderEvent.objects.order_by("created_at", "id")


def _details() -> tuple:
    return _lines(), "adjustments", Prefetch("events", queryset=_events())


def orders_for_user(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).prefetch_related(_lines()).order_by("-placed_at", "-id")


def order_with_details(*, queryset=None) -> QuerySet[Order]:
    return (queryset if queryset is not None else Order.objects.all()).prefetch_related(*_details())


def order_with_details_again(order: Order) -> Order:
    """The order read again (a payment may have moved it) with its details.

    The lines and adjustments it carries, as checkout wrote them, are kept: they never
    change once the order is placed. The timeline is read with the order's row (every
    order has at least its "placed" event): one query in all after a checkout.
    """
    events = list(_events().filter(order=order.pk).select_related("order"))
    fresh = events[0].order if events else Order.objects.get(pk=order.pk)
    known = {name: carried(order, name) for name in ("lines", "adjustments")}
    carry(fresh, events=events, **{name: rows for name, rows in known.items() if rows is not None})
    prefetch_related_objects([fresh], *_details())  # only what is still missing
    return fresh


# Rows an order carries as if prefetched: what checkout has just written is known without a query.
# (Django keeps prefetched rows in `_prefetched_objects_cache`, a queryset per relation: set as
# prefetch_related_objects sets them, so `order.lines.all()` reads nothing and `.filter()` still queries.)


def carry(order: Order, **rows_by_relation) -> None:
    """Let the order carry these rows of its relations (e.g. lines=[...]), as prefetch_related leaves them."""
    cache = order.__dict__.setdefault("_prefetched_objects_cache", {})
    for name, rows in rows_by_relation.items():
        cache.pop(name, None)
        queryset = getattr(order, name).get_queryset()
        queryset._result_cache = list(rows)
        queryset._prefetch_done = True
        cache[name] = queryset


def carried(order: Order, name: str) -> list | None:
    """The rows of a relation the order carries, or None if they would be read."""
    queryset = order.__dict__.get("_prefetched_objects_cache", {}).get(name)
    return None if queryset is None else list(queryset)


def forget(order: Order, name: str) -> None:
    """The relation changed: the order no longer carries its rows (the next read queries)."""
    order.__dict__.get("_prefetched_objects_cache", {}).pop(name, None)


def can_view(request, order: Order) -> bool:
    """The customer who placed it, or the guest whose session placed or looked it up. Not staff: they
    see orders in the admin, with its permissions; these pages pay and cancel as the customer."""
    user = request.user
    if user.is_authenticated and order.user_id == user.pk:
        return True
    return order.number in request.session.get("guest_orders", [])


def remember_guest_order(request, order: Order) -> None:
    numbers = request.session.get("guest_orders", [])
    if order.number not in numbers:
        request.session["guest_orders"] = [*numbers[-19:], order.number]


def orders_in_progress(*, user) -> list[Order]:
    """The customer's orders not yet paid or not yet delivered, oldest first."""
    return list(Order.objects.filter(user=user, status__in=IN_PROGRESS).order_by("placed_at", "id"))
