"""Automated flows: who enters, when each step goes, and who leaves (docs/campaigns.md, "Flows").

A customer enters a flow for an occasion (a `FlowRun`, unique per flow, customer and key: the
cart, the order, the year), and each step's message is written when its time comes, through the
same `Message` rows and the same checks as campaigns (consent, suppressions, quiet hours, the
frequency cap, once per step and run). Every function takes `now`, so the tests drive the clock.

Triggers: sign-up (welcome), a cart's change (abandoned cart), the shop's order signals
(post-purchase; any order ends the flows that stop on one), and scans run by the scheduler:
products viewed and not bought (browse), birthdays, customers who stopped buying (win-back),
and loyalty's expiry reminders (points about to expire: the reminder email stays loyalty's; the
flow adds the other channels).
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from loyalty import selectors as loyalty_selectors
from marketing.analytics import selectors as analytics_selectors
from marketing.campaigns import segments
from marketing.campaigns.models import Flow, FlowRun, FlowStep, Message
from shop.accounts.models import Consent, Profile
from shop.cart.models import Cart
from shop.orders.models import Order, OrderStatus

log = logging.getLogger(__name__)
T = Flow.Trigger
R = FlowRun.Status
BOUGHT = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
DELIVERY_WAIT_DAYS = 30


ENABLED_KEY = "campaigns:flows:enabled"


def enabled() -> dict[str, bool]:
    """The flows that are on, and whether each stops on an order: cached, so the shop's hot paths
    (a cart's change, an order) cost no query while no flow listens. Forgotten when a flow or a
    step is saved (receivers.py)."""
    found = cache.get(ENABLED_KEY)
    if found is None:
        found = dict(Flow.objects.filter(enabled=True, steps__isnull=False).values_list("trigger", "exit_on_order"))
        cache.set(ENABLED_KEY, found, 3600)
    return found


def enabled_changed() -> None:
    cache.delete(ENABLED_KEY)


def _flow(trigger: str) -> Flow | None:
    return Flow.objects.filter(trigger=trigger, enabled=True).prefetch_related("steps").first()


def flow_enter(*, trigger: str, user_id: int, key: str, context: dict | None = None, now=None) -> FlowRun | None:
    """Start the flow for this occasion, once. None when the flow is off, has no step, the
    customer is not in its segment, or the occasion already has its run."""
    now = now or timezone.now()
    flow = _flow(trigger)
    steps = list(flow.steps.all()) if flow else []
    if not steps:
        return None
    if flow.segment_id and not segments.members(flow.segment, now=now).filter(pk=user_id).exists():
        return None
    try:
        with transaction.atomic():
            return FlowRun.objects.create(
                flow=flow,
                user_id=user_id,
                key=key,
                context=context or {},
                started_at=now,
                next_position=steps[0].position,
                next_at=now + dt.timedelta(minutes=steps[0].delay_minutes),
            )
    except IntegrityError:
        return None  # this occasion has its run already


def runs_exit(*, user_id: int, reason: str, triggers=None, only_stopping_on_order=False, key=None, now=None) -> int:
    """End the customer's active runs (of these flows, or this occasion); their unsent messages go nowhere."""
    runs = FlowRun.objects.filter(user_id=user_id, status=R.ACTIVE)
    if triggers is not None:
        runs = runs.filter(flow__trigger__in=list(triggers))
    if only_stopping_on_order:
        runs = runs.filter(flow__exit_on_order=True)
    if key is not None:
        runs = runs.filter(key=key)
    ids = list(runs.values_list("pk", flat=True))
    if not ids:
        return 0
    ended = FlowRun.objects.filter(pk__in=ids, status=R.ACTIVE).update(
        status=R.EXITED, exit_reason=reason, ended_at=now or timezone.now(), next_at=None
    )
    Message.objects.filter(run_id__in=ids, status=Message.Status.QUEUED).update(
        status=Message.Status.SKIPPED, skip_reason="left the flow"
    )
    return ended


# -- The shop's events


def on_registered(*, user_id: int, now=None) -> FlowRun | None:
    """Welcome: for a new customer who agreed to some marketing."""
    if T.WELCOME not in enabled():
        return None
    if not Consent.objects.filter(user_id=user_id, given=True).exists():
        return None
    return flow_enter(trigger=T.WELCOME, user_id=user_id, key="welcome", now=now)


def on_cart_changed(*, cart_id: int, user_id: int | None, now=None) -> None:
    """Abandoned cart: a customer's cart with lines enters (once per cart) and its first
    reminder waits from the last change; an emptied cart leaves."""
    if user_id is None or T.ABANDONED_CART not in enabled():
        return  # a guest (no consent is known), or the flow is off
    now = now or timezone.now()
    key = f"cart:{cart_id}"
    if not Cart.objects.filter(pk=cart_id, lines__isnull=False).exists():
        runs_exit(user_id=user_id, reason="cart emptied", triggers=[T.ABANDONED_CART], key=key, now=now)
        return
    run = FlowRun.objects.filter(flow__trigger=T.ABANDONED_CART, user_id=user_id, key=key).first()
    if run is None:
        flow_enter(trigger=T.ABANDONED_CART, user_id=user_id, key=key, context={"cart_url": "/cart/"}, now=now)
        return
    first = run.flow.steps.order_by("position").first()
    if run.status == R.ACTIVE and first is not None and run.next_position == first.position:
        # Still shopping: the first reminder counts from this change.
        FlowRun.objects.filter(pk=run.pk, status=R.ACTIVE, next_position=first.position).update(
            next_at=now + dt.timedelta(minutes=first.delay_minutes)
        )


def on_order_placed(*, order_id: int, user_id: int | None, now=None) -> None:
    if user_id is not None and any(enabled().values()):
        runs_exit(user_id=user_id, reason="ordered", only_stopping_on_order=True, now=now)


def on_order_paid(*, order_id: int, user_id: int | None, now=None) -> FlowRun | None:
    if user_id is None or T.POST_PURCHASE not in enabled():
        return None
    number = Order.objects.filter(pk=order_id).values_list("number", flat=True).first()
    return flow_enter(
        trigger=T.POST_PURCHASE,
        user_id=user_id,
        key=f"order:{order_id}",
        context={"order_id": order_id, "order_number": number or ""},
        now=now,
    )


# -- Scans, run by the scheduler


def scan_birthdays(*, now=None) -> int:
    """Customers whose birthday is today (the store's day), once a year."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    born = Profile.objects.filter(birthday__month=today.month, birthday__day=today.day).values_list(
        "user_id", flat=True
    )
    return sum(
        flow_enter(trigger=T.BIRTHDAY, user_id=uid, key=f"birthday:{today.year}", now=now) is not None for uid in born
    )


def scan_winback(*, now=None) -> int:
    """Customers whose last bought order is older than the flow's days: once per lapse (the key
    is their last order, so buying again and lapsing again starts a new run)."""
    now = now or timezone.now()
    flow = _flow(T.WINBACK)
    if flow is None:
        return 0
    cutoff = now - dt.timedelta(days=flow.days or 90)
    lapsed = (
        Order.objects.filter(status__in=BOUGHT, user__isnull=False)
        .values("user_id")
        .annotate(last=Max("placed_at"), last_id=Max("id"))
        .filter(last__lt=cutoff, last__gte=cutoff - dt.timedelta(days=30))  # a lapse is news for a month
    )
    return sum(
        flow_enter(trigger=T.WINBACK, user_id=row["user_id"], key=f"winback:{row['last_id']}", now=now) is not None
        for row in lapsed.iterator()
    )


def scan_browse(*, now=None) -> int:
    """Customers who viewed products in the last day but added nothing and ordered nothing since:
    at most one run a week each. Only customers who allow their shopping to be tied to them
    appear in the event log with their id."""
    now = now or timezone.now()
    flow = _flow(T.BROWSE)
    if flow is None:
        return 0
    hours = flow.days or 1
    since = now - dt.timedelta(days=hours)
    viewers = set(
        analytics_selectors.customers_with_events(names=["view_item"], since=since).values_list(
            "customer_id", flat=True
        )
    )
    acted = set(
        analytics_selectors.customers_with_events(names=["add_to_cart", "place_order"], since=since).values_list(
            "customer_id", flat=True
        )
    )
    week = timezone.localdate(now).isocalendar()
    return sum(
        flow_enter(trigger=T.BROWSE, user_id=uid, key=f"browse:{week.year}-{week.week}", now=now) is not None
        for uid in sorted(viewers - acted)
    )


def scan_points_expiry(*, now=None) -> int:
    """Loyalty's expiry reminders of the last two days, each an occasion of the flow."""
    now = now or timezone.now()
    entered = 0
    for notice in loyalty_selectors.expiry_notices_since(since=now - dt.timedelta(days=2)):
        context = {"points_expiring": notice["points"], "expiry_date": f"{notice['first_expiry']:%Y-%m-%d}"}
        run = flow_enter(
            trigger=T.POINTS_EXPIRY, user_id=notice["user_id"], key=f"expiry:{notice['id']}", context=context, now=now
        )
        entered += run is not None
    return entered


# -- Steps, when due


def runs_advance(*, now=None, limit: int = 2000) -> int:
    """Write the due step's message of each due run, and set the next step's time. A run is
    moved on by a conditional update on its position, so two ticks never write a step twice
    (and the unique (step, run) would refuse it anyway)."""
    now = now or timezone.now()
    due = list(
        FlowRun.objects.filter(status=R.ACTIVE, next_at__lte=now, flow__enabled=True)
        .select_related("flow")
        .order_by("next_at")[:limit]
    )
    written = []
    for run in due:
        message_id = _advance(run, now)
        if message_id:
            written.append(message_id)
    if written:
        from marketing.campaigns.services import _enqueue_batches

        _enqueue_batches(written)
    return len(written)


def _advance(run: FlowRun, now) -> int | None:
    steps = list(run.flow.steps.order_by("position"))
    step = next((s for s in steps if s.position == run.next_position), None)
    if step is None:
        FlowRun.objects.filter(pk=run.pk, status=R.ACTIVE).update(status=R.DONE, ended_at=now, next_at=None)
        return None
    if step.after_delivery:
        waited = _delivery_wait(run, step, now)
        if waited is not None:
            return waited
    later = [s for s in steps if s.position > step.position]
    following = later[0] if later else None
    with transaction.atomic():
        moved = FlowRun.objects.filter(pk=run.pk, status=R.ACTIVE, next_position=step.position).update(
            next_position=following.position if following else step.position + 1,
            next_at=now + dt.timedelta(minutes=following.delay_minutes) if following else None,
            status=R.ACTIVE if following else R.DONE,
            ended_at=None if following else now,
        )
        if not moved:
            return None
        message, _created = Message.objects.get_or_create(
            step=step, run=run, defaults={"user_id": run.user_id, "channel": step.channel, "send_after": now}
        )
    return message.pk


def _delivery_wait(run: FlowRun, step: FlowStep, now) -> int | None:
    """A step after delivery waits for the order to be delivered; gives up after 30 days.
    None when the step may go now; else 0 (postponed or ended)."""
    order = Order.objects.filter(pk=run.context.get("order_id")).values("status").first()
    delivered_at = _delivered_at(run.context.get("order_id"))
    if order and delivered_at and delivered_at + dt.timedelta(minutes=step.delay_minutes) <= now:
        return None
    if run.started_at + dt.timedelta(days=DELIVERY_WAIT_DAYS) < now or (order and order["status"] not in BOUGHT):
        FlowRun.objects.filter(pk=run.pk, status=R.ACTIVE).update(
            status=R.EXITED, exit_reason="not delivered", ended_at=now, next_at=None
        )
        return 0
    wake = delivered_at + dt.timedelta(minutes=step.delay_minutes) if delivered_at else now + dt.timedelta(days=1)
    FlowRun.objects.filter(pk=run.pk, status=R.ACTIVE).update(next_at=wake)
    return 0


def _delivered_at(order_id) -> dt.datetime | None:
    from shop.orders.models import OrderEvent

    return (
        OrderEvent.objects.filter(order_id=order_id, status=OrderStatus.DELIVERED)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )


def flow_figures(flow: Flow) -> list[dict]:
    """Per step: messages sent, clicked, unsubscribed, orders and revenue after a click."""
    from django.db.models import Count

    from marketing.campaigns.models import Conversion

    rows = {
        r["step"]: r
        for r in Message.objects.filter(step__flow=flow)
        .values("step")
        .annotate(
            sent=Count("pk", filter=Q(status__in=["sent", "bounced"])),
            skipped=Count("pk", filter=Q(status="skipped")),
            clicked=Count("pk", filter=Q(clicked_at__isnull=False)),
            unsubscribed=Count("pk", filter=Q(unsubscribed_at__isnull=False)),
        )
    }
    money: dict[int, list] = {}
    for step_id, revenue in Conversion.objects.filter(message__step__flow=flow).values_list("message__step", "revenue"):
        money.setdefault(step_id, []).append(revenue)
    figures = []
    for step in flow.steps.order_by("position"):
        r = rows.get(step.pk, {})
        figures.append(
            {
                "step": step,
                "sent": r.get("sent", 0),
                "skipped": r.get("skipped", 0),
                "clicked": r.get("clicked", 0),
                "unsubscribed": r.get("unsubscribed", 0),
                "orders": len(money.get(step.pk, [])),
                "revenue": sum(money.get(step.pk, []), start=Decimal("0.00")),
            }
        )
    return figures
