from django.db.models import Prefetch, QuerySet

from shop.orders.models import Order, OrderEvent, OrderLine


def _lines() -> Prefetch:
    # Each line shows its product's slug: fetch the products with the lines, not one query per line.
    return Prefetch("lines", queryset=OrderLine.objects.select_related("product"))


def orders_for_user(*, user) -> QuerySet[Order]:
    return Order.objects.filter(user=user).prefetch_related(_lines()).order_by("-placed_at", "-id")


def order_with_details(*, queryset=None) -> QuerySet[Order]:
    return (queryset if queryset is not None else Order.objects.all()).prefetch_related(
        _lines(), "adjustments", Prefetch("events", queryset=OrderEvent.objects.order_by("created_at", "id"))
    )


def can_view(request, order: Order) -> bool:
    """The customer who placed it, staff, or the guest whose session placed or looked it up."""
    user = request.user
    if user.is_authenticated and (order.user_id == user.pk or user.is_staff):
        return True
    return order.number in request.session.get("guest_orders", [])


def remember_guest_order(request, order: Order) -> None:
    numbers = request.session.get("guest_orders", [])
    if order.number not in numbers:
        request.session["guest_orders"] = [*numbers[-19:], order.number]
