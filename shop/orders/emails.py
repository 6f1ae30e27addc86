"""Order emails, each with a text and an HTML part, rendered in the store's language."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from shop.orders.models import Order

SUBJECTS = {
    "confirmation": lambda o: _("Your order %(number)s is confirmed") % {"number": o.number},
    "shipped": lambda o: _("Your order %(number)s is on its way") % {"number": o.number},
    "refunded": lambda o: _("A refund for your order %(number)s") % {"number": o.number},
}


def build(order: Order, kind: str, reference: str = "") -> EmailMultiAlternatives:
    with translation.override(settings.LANGUAGE_CODE):
        refund = order.refunds.filter(refund_id=reference).first() if kind == "refunded" else None
        context = {
            "order": order,
            "lines": list(order.lines.all()),
            "adjustments": list(order.adjustments.all()),
            "refund": refund,
            "shop_name": settings.SHOP_NAME,
            "site_url": settings.SHOP_SITE_URL.rstrip("/"),
        }
        text = render_to_string(f"orders/email/{kind}.txt", context)
        html = render_to_string(f"orders/email/{kind}.html", context)
        message = EmailMultiAlternatives(SUBJECTS[kind](order), text, settings.DEFAULT_FROM_EMAIL, [order.email])
    message.attach_alternative(html, "text/html")
    return message
