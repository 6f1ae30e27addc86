"""The shop's signals and the email service's reports, heard by campaigns (docs/campaigns.md).

Each receiver is quick (a few indexed reads, at most a row or two written) and never lets an
error of marketing reach the shop's own work: it is logged instead.
"""

import functools
import logging

from anymail.signals import tracking
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from marketing.campaigns import flows, services
from marketing.campaigns.models import Flow, FlowStep
from shop.accounts.signals import user_registered
from shop.cart.signals import cart_changed
from shop.orders.models import Order
from shop.orders.signals import order_paid, order_placed

log = logging.getLogger(__name__)


def guarded(handler):
    @functools.wraps(handler)
    def run(sender, **kwargs):
        try:
            handler(sender, **kwargs)
        except Exception:
            log.warning("Campaigns could not handle %s %s", handler.__name__, kwargs, exc_info=True)

    return run


@receiver(order_paid, dispatch_uid="campaigns_attribute_paid_order")
@guarded
def attribute_paid_order(sender, order_id: int, **kwargs):
    if "user_id" in kwargs and kwargs["user_id"] is None:
        return  # a guest: no click of theirs is known
    # One indexed read when no click is known, which is most orders.
    if kwargs.get("user_id") and not services.clicked_lately(user_id=kwargs["user_id"]):
        return
    order = Order.objects.filter(pk=order_id).first()
    if order is not None:
        services.order_attribute(order=order)


@receiver(order_paid, dispatch_uid="campaigns_post_purchase_flow")
@guarded
def post_purchase(sender, order_id: int, **kwargs):
    flows.on_order_paid(order_id=order_id, user_id=kwargs.get("user_id"))


@receiver(order_placed, dispatch_uid="campaigns_exit_flows_on_order")
@guarded
def exit_flows_on_order(sender, order_id: int, **kwargs):
    flows.on_order_placed(order_id=order_id, user_id=kwargs.get("user_id"))


@receiver(cart_changed, dispatch_uid="campaigns_abandoned_cart_flow")
@guarded
def abandoned_cart(sender, cart_id: int, user_id=None, **kwargs):
    flows.on_cart_changed(cart_id=cart_id, user_id=user_id)


@receiver(user_registered, dispatch_uid="campaigns_welcome_flow")
@guarded
def welcome(sender, user_id: int, **kwargs):
    flows.on_registered(user_id=user_id)


@receiver(post_save, sender=Flow, dispatch_uid="campaigns_flow_saved")
@receiver(post_delete, sender=Flow, dispatch_uid="campaigns_flow_deleted")
@receiver(post_save, sender=FlowStep, dispatch_uid="campaigns_step_saved")
@receiver(post_delete, sender=FlowStep, dispatch_uid="campaigns_step_deleted")
def flows_changed(sender, **kwargs):
    flows.enabled_changed()


@receiver(tracking, dispatch_uid="campaigns_email_service_event")
def email_service_event(sender, event, esp_name, **kwargs):
    """Bounces, complaints and unsubscribes the email service reports through its webhook."""
    services.delivery_event(
        provider_id=event.message_id or "",
        event=event.event_type,
        recipient=event.recipient or "",
        detail=(event.description or event.mta_response or "")[:300],
    )
