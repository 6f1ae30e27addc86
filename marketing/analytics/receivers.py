"""What the analytics app listens to: the shop's tracked facts and its orders' signals."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from marketing.analytics import recorder, visits
from marketing.analytics.models import Event, EventName, OrderVisit
from shop.accounts.models import Profile
from shop.core.money import Money
from shop.core.tracking import facts_tracked, track
from shop.orders.models import Order
from shop.orders.signals import order_paid, order_refunded

log = logging.getLogger(__name__)

# Columns of their own; anything else a fact says goes in `data`.
COLUMNS = {"product_id", "order_id", "quantity", "value"}


def is_page_view(request, response) -> bool:
    return (
        request.method == "GET"
        and response is not None
        and response.status_code == 200
        and response.get("Content-Type", "").startswith("text/html")
        and not request.path.startswith(tuple(settings.ANALYTICS_UNTRACKED_PATHS))
    )


# Facts of an order rather than of the request that told them (a payment confirmed in a webhook):
# they take the visit that placed the order.
ORDER_FACTS = {EventName.PURCHASE, EventName.REFUND}


@receiver(facts_tracked, dispatch_uid="analytics_record_facts")
def record_facts(sender, request, response, facts, **kwargs):
    if recorder.paused():
        return
    of_orders = [fact for fact in facts if fact.name in ORDER_FACTS]
    facts = [fact for fact in facts if fact.name not in ORDER_FACTS]
    _record_visitor_facts(request, response, facts)  # first: an order placed here is then known
    of_orders = [fact for fact in of_orders if not _refund_known(fact)]
    if of_orders:
        recorder.write([row for row in map(order_event, of_orders) if row is not None], once=True)


def _refund_known(fact) -> bool:
    """A refund's signal sent again (listeners must be idempotent): one event per refund reference."""
    return (
        fact.name == EventName.REFUND
        and Event.objects.filter(
            order_id=fact.data["order_id"], name=EventName.REFUND, data__reference=fact.data.get("reference", "")
        ).exists()
    )


def _record_visitor_facts(request, response, facts) -> None:
    if request is None:
        visit, customer_id, path = None, None, ""
    else:
        page_view = is_page_view(request, response)
        if not facts and not page_view:
            return
        visit = visits.visit_for(request)
        if visit is None:
            return  # a robot
        customer_id = None if visit.id is None else recorder.consenting(getattr(request, "user", None))
        path = request.path[:200]
        if page_view:
            facts = [*facts, _page_view()]
    rows = []
    for fact in facts:
        if fact.name not in recorder.NAMES:
            log.warning("Analytics: unknown event %r dropped", fact.name)
            continue
        rows.append(_event(fact, visit, customer_id, path))
        if fact.name == EventName.PLACE_ORDER and fact.data.get("order_id"):
            _remember_visit(fact.data["order_id"], visit, customer_id)
    if request is None:
        recorder.write(rows)  # a task or a command: its process may end without writing a batch
    else:
        recorder.queue(rows)  # written with other requests' (recorder.py)


ORDER_FIELDS = ("total", "subtotal", "discount_total", "shipping_total", "currency")


def order_event(fact) -> Event | None:
    """The event of an order's fact (a purchase, a refund), with the visit that placed the order."""
    order = Order.objects.filter(pk=fact.data["order_id"]).only(*ORDER_FIELDS).first()
    if order is None:
        return None
    return build_order_event(fact, order, OrderVisit.objects.filter(order_id=order.pk).first())


def build_order_event(fact, order: Order, came: OrderVisit | None) -> Event:
    fields = (
        {"visit": came.visit, "customer_id": came.customer_id, "device": came.device, "source": came.source,
         "medium": came.medium, "campaign": came.campaign}
        if came else {}
    )  # fmt: skip
    if fact.name == EventName.PURCHASE:
        value = order.total
        data = {"subtotal": str(order.subtotal), "discount": str(order.discount_total),
                "shipping": str(order.shipping_total)}  # fmt: skip
    else:
        value, data = fact.data["value"], {"reference": fact.data.get("reference", "")}
    return recorder.event(
        fact.name, fact.at, order_id=order.pk, value=value, currency=order.currency, data=data, **fields
    )


def _page_view():
    from shop.core.tracking import Fact

    return Fact(EventName.PAGE_VIEW, timezone.now())


def _event(fact, visit, customer_id, path) -> Event:
    data = {k: v for k, v in fact.data.items() if k not in COLUMNS and k != "customer_id"}
    value = fact.data.get("value")
    money = {}
    if isinstance(value, Money):
        money = {"value": value.amount, "currency": value.currency}
    fields = visit.fields if visit is not None else {}
    return recorder.event(
        fact.name,
        fact.at,
        visit=visit.id if visit is not None else None,
        customer_id=customer_id,
        product_id=fact.data.get("product_id"),
        order_id=fact.data.get("order_id"),
        quantity=fact.data.get("quantity"),
        path=path,
        data=data,
        **money,
        **fields,
    )


def _remember_visit(order_id: int, visit, customer_id) -> None:
    if visit is None:
        return
    try:
        with transaction.atomic():
            OrderVisit.objects.get_or_create(
                order_id=order_id, defaults={"visit": visit.id, "customer_id": customer_id, **visit.fields}
            )
    except IntegrityError:
        pass  # placed again with the same key: the first visit stands


@receiver(order_paid, dispatch_uid="analytics_purchase")
def record_purchase(sender, order_id, **kwargs):
    """The order's payment as its visit's purchase: told like any fact (nothing read in the
    request), recorded from the order after the response."""
    track(EventName.PURCHASE, order_id=order_id)


@receiver(order_refunded, dispatch_uid="analytics_refund")
def record_refund(sender, order_id, amount, refund_reference="", **kwargs):
    track(EventName.REFUND, order_id=order_id, value=amount, reference=refund_reference)


@receiver(user_logged_in, dispatch_uid="analytics_login")
def record_login(sender, request, user, **kwargs):
    if request is not None:
        track(EventName.LOGIN)


@receiver(post_save, sender=Profile, dispatch_uid="analytics_consent_changed")
def consent_changed(sender, instance, **kwargs):
    cache.delete(recorder.consent_key(instance.user_id))
