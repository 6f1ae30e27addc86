"""The orders' part of a customer's data (shop/accounts/privacy.py, docs/privacy.md).

Orders are kept for the books: erasing an account takes the name, email, phone, street and postal
code off its orders and leaves the amounts, lines, timeline and the city, region and country.
"""

from django.utils.translation import gettext_lazy, ngettext

from shop.orders import selectors, services
from shop.orders.models import Order

ORDER_FIELDS = (
    "number",
    "status",
    "email",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "total",
    "amount_refunded",
    "shipping_method",
    "carrier",
    "tracking_number",
    "placed_at",
    "paid_at",
)
ADDRESS_PARTS = ("name", "line1", "line2", "city", "region", "postal_code", "country", "phone")
LINE_FIELDS = ("sku", "name", "unit_price", "quantity", "subtotal", "discount")
ADJUSTMENT_FIELDS = ("kind", "label", "amount", "reference")


def _order(order) -> dict:
    return {
        **{name: getattr(order, name) for name in ORDER_FIELDS},
        "shipping_address": {part: getattr(order, f"shipping_{part}") for part in ADDRESS_PARTS},
        "lines": [{name: getattr(line, name) for name in LINE_FIELDS} for line in order.lines.all()],
        "adjustments": [{name: getattr(adj, name) for name in ADJUSTMENT_FIELDS} for adj in order.adjustments.all()],
        "timeline": [
            {"at": event.created_at, "event": event.kind, "status": event.status, "message": event.message}
            for event in order.events.all()
        ],
    }


class OrderData:
    key = "orders"
    label = gettext_lazy("Orders")
    erases = gettext_lazy("On every order: your name, email address, phone number, street and postal code.")
    keeps = gettext_lazy(
        "The orders themselves, for our accounts as the law requires: what was bought, the amounts, "
        "payments and refunds, and the city, region and country they were sent to."
    )

    def export(self, user) -> list:
        orders = selectors.order_with_details(queryset=Order.objects.filter(user=user).order_by("placed_at", "id"))
        return [_order(order) for order in orders]

    def blocks_erasure(self, user) -> str | None:
        open_orders = selectors.orders_in_progress(user=user)
        if not open_orders:
            return None
        numbers = ", ".join(order.number for order in open_orders)
        return ngettext(
            "Your order %(numbers)s is still in progress. If it is unpaid, cancel it on its page (or "
            "let it expire); if it is paid, you can erase your account once it is delivered, or ask "
            "us to cancel it.",
            "Your orders %(numbers)s are still in progress. Cancel the unpaid ones on their pages (or "
            "let them expire); once the paid ones are delivered, or once we cancel them at your "
            "request, you can erase your account.",
            len(open_orders),
        ) % {"numbers": numbers}

    def erase(self, user) -> None:
        from shop.accounts.privacy import erased_email

        services.orders_anonymise(user=user, email=erased_email(user.pk))
