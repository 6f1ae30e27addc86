"""The shop's signals and the email service's reports, heard by campaigns (docs/campaigns.md)."""

import logging

from anymail.signals import tracking
from django.dispatch import receiver

from marketing.campaigns import services
from shop.orders.models import Order
from shop.orders.signals import order_paid

log = logging.getLogger(__name__)


@receiver(order_paid, dispatch_uid="campaigns_attribute_paid_order")
def attribute_paid_order(sender, order_id: int, **kwargs):
    if "user_id" in kwargs and kwargs["user_id"] is None:
        return  # a guest: no click of theirs is known
    try:  # one indexed read when no click is known, which is most orders; never in the way of the payment
        if kwargs.get("user_id") and not services.clicked_lately(user_id=kwargs["user_id"]):
            return
        order = Order.objects.filter(pk=order_id).first()
        if order is not None:
            services.order_attribute(order=order)
    except Exception:
        log.warning("Could not attribute order %s to a campaign", order_id, exc_info=True)


@receiver(tracking, dispatch_uid="campaigns_email_service_event")
def email_service_event(sender, event, esp_name, **kwargs):
    """Bounces, complaints and unsubscribes the email service reports through its webhook."""
    services.delivery_event(
        provider_id=event.message_id or "",
        event=event.event_type,
        recipient=event.recipient or "",
        detail=(event.description or event.mta_response or "")[:300],
    )
