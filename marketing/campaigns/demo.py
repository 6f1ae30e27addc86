"""The demo store's marketing year: segments, a monthly newsletter with an A/B test, a few
targeted campaigns, the flows switched on with their history, a draft and a scheduled campaign
to try, and messages in the store for the demo shopper.

The history follows the event log the analytics demo wrote (it runs just before): every visit
that came from the newsletter (utm_source newsletter, campaign "weekly-picks") within three days
of a send is a click on that send, by the visit's customer when they are named and received it,
else by another recipient; an order such a visit placed within the window is credited to the
click. Opens are drawn (they are unreliable anyway), unsubscribes are a few per send. Flows'
messages follow the facts: post-purchase for paid orders, welcome for recent sign-ups,
abandoned carts for named add-to-cart visits that bought nothing. Skipped when the demo's
campaigns are there; everything drawn from ctx.rng("campaigns").
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Exists, OuterRef
from django.utils import timezone

from marketing.analytics import selectors as analytics_selectors
from marketing.analytics import services as analytics_services
from marketing.campaigns import flows, services
from marketing.campaigns.models import (
    Campaign,
    Click,
    Conversion,
    Flow,
    FlowRun,
    Message,
    Segment,
    SegmentRule,
    Suppression,
    Variant,
)
from marketing.discounts import services as discount_services
from shop.accounts.models import Channel, Consent, ConsentChange, ConsentSource, User
from shop.core.demo import DemoContext
from shop.orders.models import Order, OrderStatus

NEWSLETTER_TAG = "weekly-picks"  # the analytics demo's email visits carry this campaign
SENDS = 12  # the newsletter, monthly over the last year
CLICK_DAYS = 3
S = Message.Status

SEGMENTS = [
    ("Everyone with email consent", "email-subscribers", "all", [("consent", "is", "email", None)]),
    ("Loyal shoppers", "loyal-shoppers", "all", [("order_count", "gte", "3", None)]),
    ("Big spenders", "big-spenders", "all", [("total_spend", "gte", "400", None)]),
    ("Lapsed customers", "lapsed", "all", [("last_order", "before", "", 120), ("order_count", "gte", "1", None)]),
    ("Never ordered", "never-ordered", "all", [("last_order", "never", "", None)]),
    ("West coast", "west-coast", "all", [("region", "in", "CA, OR, WA", None)]),
    ("Young adults", "young-adults", "all", [("age", "between", "18-29", None)]),
    ("Win back or never bought", "win-back-or-new", "any", [("segment", "is", "lapsed", None),
                                                             ("segment", "is", "never-ordered", None)]),
]  # fmt: skip
BODY = (
    "<h1>{title}, {{{{ first_name }}}}</h1><p>{text}</p>"
    '<p><a href="/products/?sort=-created">See the new arrivals</a></p>'
    '<p><a href="/pages/shipping/">Free shipping over $75</a></p>'
)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]  # fmt: skip


def seed(ctx: DemoContext) -> None:
    if Campaign.objects.filter(utm_campaign=NEWSLETTER_TAG).exists():
        ctx.log("campaigns: already there")
        return
    rng = ctx.rng("campaigns")
    now = timezone.now()
    segments = {key: _segment(name, key, match, rules) for name, key, match, rules in SEGMENTS}
    subscribers = dict(
        User.objects.filter(is_staff=False, consents__channel=Channel.EMAIL, consents__given=True).values_list(
            "pk", "consents__changed_at"
        )
    )
    clicks = _newsletter_visits(now)
    made = 0
    for n in range(SENDS, 0, -1):
        sent_at = (now - dt.timedelta(days=30 * n - 3)).replace(hour=9, minute=0, second=0, microsecond=0)
        month = MONTHS[sent_at.month - 1]
        ab = n == 3  # one A/B test on the subject, three sends ago
        campaign = _campaign(
            f"Weekly picks: {month}", segments["email-subscribers"], sent_at, ab=ab, tag=NEWSLETTER_TAG,
            title="This month's picks", text="Twelve new arrivals our team loves, and the season's best sellers.",
        )  # fmt: skip
        recipients = [u for u, since in subscribers.items() if since <= sent_at]
        made += _history(ctx, rng, campaign, recipients, sent_at, clicks, now)
    for name, key, days_ago, text in [
        ("Spring clean-out: 20% off home", "big-spenders", 75, "Fresh picks for the home, for our best customers."),
        ("We miss you", "lapsed", 40, "It has been a while: see what is new since your last visit."),
        ("West coast summer", "west-coast", 20, "Outdoor gear for the long evenings."),
    ]:
        sent_at = (now - dt.timedelta(days=days_ago)).replace(hour=10, minute=0, second=0, microsecond=0)
        campaign = _campaign(name, segments[key], sent_at, title=name, text=text)
        recipients = list(
            services.segments.members(segments[key]).filter(pk__in=list(subscribers)).values_list("pk", flat=True)
        )
        made += _history(ctx, rng, campaign, recipients, sent_at, {}, now)
    _drafts(segments, now)
    ctx.log(f"campaigns: {Campaign.objects.count()} with {made:,} messages")
    _suppressions(rng)
    _flows(ctx, rng, now)
    _onsite_for_the_shopper(segments, now)
    # The daily figures of the campaigns' panel, for the year the history covers.
    first = (now - dt.timedelta(days=30 * SENDS + 5)).date()
    analytics_services.figures_rebuild(first, timezone.localdate(now))
    ctx.log("campaigns: daily figures rebuilt")


def _segment(name, key, match, rules) -> Segment:
    segment, created = Segment.objects.get_or_create(key=key, defaults={"name": name, "match": match})
    if created:
        SegmentRule.objects.bulk_create(
            SegmentRule(segment=segment, field=f, operator=op, value=value, days=days, position=i)
            for i, (f, op, value, days) in enumerate(rules)
        )
    return segment


def _campaign(name, segment, sent_at, *, ab=False, tag="", title="", text="") -> Campaign:
    campaign = Campaign.objects.create(
        name=name,
        utm_campaign=tag,
        segment=segment,
        status=Campaign.Status.SENT,
        started_at=sent_at,
        finished_at=sent_at + dt.timedelta(hours=1),
        listed_at=sent_at,
        ab_test=Campaign.Test.SUBJECT if ab else "",
        ab_share=80,
        ab_wait_hours=4,
        phase=2 if ab else 1,
    )
    body = BODY.format(title=title, text=text)
    Variant.objects.create(campaign=campaign, key="a", subject=f"{title}, {{{{ first_name }}}}", body_html=body)
    if ab:
        Variant.objects.create(
            campaign=campaign, key="b", subject="{{ first_name }}, 12 picks you will want to see", body_html=body
        )
    return campaign


def _newsletter_visits(now) -> list[tuple]:
    """(moment, customer id or None, order id or None) of the visits from the newsletter."""
    return analytics_selectors.visits_from(
        source="newsletter", campaign=NEWSLETTER_TAG, since=now - dt.timedelta(days=400)
    )


def _history(ctx, rng, campaign, recipients, sent_at, visits, now) -> int:
    """The campaign's messages as they were sent, opened, clicked and bought from."""
    if not recipients:
        return 0
    rng.shuffle(recipients)
    test_size = len(recipients) * campaign.ab_share // 100 if campaign.is_ab else 0
    rows = []
    for i, user_id in enumerate(recipients):
        variant = ("a" if i % 2 else "b") if i < test_size else ""
        at = (
            sent_at + dt.timedelta(seconds=i % 3600) + (dt.timedelta(hours=5) if i >= test_size > 0 else dt.timedelta())
        )
        opened = at + dt.timedelta(minutes=rng.randint(3, 2000)) if rng.random() < 0.34 else None
        rows.append(Message(campaign=campaign, user_id=user_id, channel=Channel.EMAIL, status=S.SENT,
                            variant=variant or "a", in_test=bool(variant), created_at=sent_at, send_after=sent_at,
                            sent_at=at, attempts=1, opened_at=opened))  # fmt: skip
    for message in rows[: max(1, len(rows) // 150)]:  # bounces
        message.status = S.BOUNCED
    Message.objects.bulk_create(rows, batch_size=2000)
    by_user = {m.user_id: m for m in Message.objects.filter(campaign=campaign)}
    end = sent_at + dt.timedelta(days=CLICK_DAYS)
    unclicked = [m for m in by_user.values() if m.status == S.SENT]
    rng.shuffle(unclicked)
    pools = {"": unclicked}
    if campaign.is_ab:  # B's subject drew a little more of the newsletter's visits in this test
        pools = {key: [m for m in unclicked if (m.variant if m.in_test else "") == key] for key in ("a", "b", "")}

    def someone():
        draw = rng.random()
        order = ["", "b", "a"] if draw < 0.25 else ["b", "a", ""] if draw < 0.7 else ["a", "b", ""]
        for key in order:
            pool = pools.get(key) or []
            while pool:
                message = pool.pop()
                if not message.clicked_at:  # a named visitor may have clicked it already
                    return message
        return None

    clicked, conversions = [], []
    for at, customer_id, order_id in visits:
        if not sent_at < at <= end:
            continue
        message = by_user.get(customer_id)
        if message is None or message.clicked_at or message.status != S.SENT:
            message = someone()
        if message is None or message.clicked_at:
            continue
        message.clicked_at = at
        message.opened_at = min(message.opened_at or at, at)
        clicked.append(message)
        if order_id and message.user_id == customer_id:
            conversions.append((order_id, message))
    if campaign.utm_campaign != NEWSLETTER_TAG:  # a targeted send: its own clicks, about 4%
        pool = [m for m in pools[""] if rng.random() < 0.04]
        for message in pool:
            message.clicked_at = sent_at + dt.timedelta(minutes=rng.randint(5, 3 * 24 * 60))
            message.opened_at = min(message.opened_at or message.clicked_at, message.clicked_at)
            clicked.append(message)
    Message.objects.bulk_update(clicked, ["clicked_at", "opened_at"], batch_size=2000)
    Click.objects.bulk_create([Click(message=m, link=0, at=m.clicked_at) for m in clicked], ignore_conflicts=True)
    _conversions(campaign, conversions)
    _unsubscribes(rng, [m for m in by_user.values() if m.status == S.SENT], campaign)
    if campaign.is_ab:
        _decide(campaign, rng)
    return len(rows)


def _conversions(campaign, pairs) -> None:
    orders = {o.pk: o for o in Order.objects.filter(pk__in=[o for o, _m in pairs])}
    rows = [
        Conversion(order=orders[o], message=m, revenue=orders[o].total, currency=orders[o].currency,
                   at=orders[o].paid_at or orders[o].placed_at)
        for o, m in pairs
        if o in orders and orders[o].status in (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)
    ]  # fmt: skip
    Conversion.objects.bulk_create(rows, ignore_conflicts=True)


def _unsubscribes(rng, messages, campaign) -> None:
    """A few recipients unsubscribe from each send, as a mail app's button would record it."""
    for message in [m for m in messages if rng.random() < 0.003]:
        at = message.sent_at + dt.timedelta(hours=rng.randint(1, 48))
        Message.objects.filter(pk=message.pk).update(unsubscribed_at=at)
        Consent.objects.filter(user_id=message.user_id, channel=Channel.EMAIL).update(given=False, changed_at=at)
        ConsentChange.objects.create(user_id=message.user_id, channel=Channel.EMAIL, given=False, at=at,
                                     source=ConsentSource.UNSUBSCRIBE,
                                     wording=f"Unsubscribe link in the message “{campaign.name}” (email)")  # fmt: skip


def _decide(campaign, rng) -> None:
    """The test's decision, from its own figures, as the tick would have made it."""
    comparison = services.ab_comparison(campaign)
    decision = {
        "metric": campaign.ab_metric,
        "winner": comparison.winner or "",
        "reason": comparison.reason,
        "p_value": comparison.p_value,
        "a": str(comparison.a_value),
        "b": str(comparison.b_value),
        "lift": comparison.lift,
        "verdict": comparison.verdict(),
        "decided_at": (campaign.started_at + dt.timedelta(hours=5)).isoformat(),
    }
    Campaign.objects.filter(pk=campaign.pk).update(ab_winner=comparison.winner or "", ab_decision=decision)
    Message.objects.filter(campaign=campaign, in_test=False).update(variant=comparison.winner or "a")


def _drafts(segments, now) -> None:
    """A draft to open, preview and send, and one scheduled for next week."""
    draft = Campaign.objects.create(name="Autumn preview (draft)", segment=segments["loyal-shoppers"])
    Variant.objects.create(
        campaign=draft, key="a", subject="{{ first_name }}, a first look at autumn",
        body_html=BODY.format(title="A first look at autumn", text="Our loyal shoppers see the new season first."),
    )  # fmt: skip
    later = Campaign.objects.create(
        name="Young adults: new sneakers",
        segment=segments["young-adults"],
        status=Campaign.Status.SCHEDULED,
        scheduled_at=now + dt.timedelta(days=7),
    )
    Variant.objects.create(
        campaign=later, key="a", subject="Fresh sneakers, {{ first_name }}",
        body_html=BODY.format(title="Fresh sneakers", text="Just landed: the season's sneakers."),
    )  # fmt: skip


def _suppressions(rng) -> None:
    bounced = Message.objects.filter(status=S.BOUNCED).select_related("user")[:20]
    Suppression.objects.bulk_create(
        [Suppression(channel=Channel.EMAIL, address=m.user.email, reason=Suppression.Reason.BOUNCED,
                     detail="550 5.1.1 mailbox unavailable", created_at=m.sent_at) for m in bounced],
        ignore_conflicts=True,
    )  # fmt: skip


def _flows(ctx, rng, now) -> None:
    """The flows switched on (with a promotion for their codes), and their last 90 days."""
    promotion = discount_services.promotion_create(
        fields={"name": "Flows: 10% personal codes", "kind": "percentage", "value": Decimal(10), "requires_code": True}
    )
    for flow in Flow.objects.exclude(trigger__in=[Flow.Trigger.BROWSE, Flow.Trigger.POINTS_EXPIRY]):
        flow.steps.filter(body_html__contains="code").update(promotion_id=promotion.pk)
        flow.enabled = True
        flow.save()
    flows.enabled_changed()
    since = now - dt.timedelta(days=90)
    consenting = Consent.objects.filter(user=OuterRef("user_id"), channel=Channel.EMAIL, given=True)
    paid = (
        Order.objects.filter(paid_at__gte=since, paid_at__lte=now - dt.timedelta(hours=1), user__isnull=False)
        .filter(Exists(consenting))
        .values_list("pk", "user_id", "number", "paid_at")
    )
    post = Flow.objects.get(trigger=Flow.Trigger.POST_PURCHASE)
    thanks = post.steps.order_by("position").first()
    runs = [FlowRun(flow=post, user_id=u, key=f"order:{o}", status=FlowRun.Status.DONE, started_at=at,
                    ended_at=at, next_position=3, context={"order_id": o, "order_number": number})
            for o, u, number, at in paid]  # fmt: skip
    FlowRun.objects.bulk_create(runs, ignore_conflicts=True, batch_size=2000)
    made = FlowRun.objects.filter(flow=post).values_list("pk", "user_id", "started_at")
    Message.objects.bulk_create(
        [Message(step=thanks, run_id=pk, user_id=u, channel=Channel.EMAIL, status=S.SENT, created_at=at,
                 send_after=at, sent_at=at + dt.timedelta(minutes=1), attempts=1,
                 opened_at=at + dt.timedelta(hours=2) if rng.random() < 0.6 else None,
                 clicked_at=at + dt.timedelta(hours=2) if rng.random() < 0.12 else None) for pk, u, at in made],
        ignore_conflicts=True, batch_size=2000,
    )  # fmt: skip
    welcome = Flow.objects.get(trigger=Flow.Trigger.WELCOME)
    first = welcome.steps.order_by("position").first()
    joined = User.objects.filter(date_joined__gte=since, is_staff=False).filter(
        Exists(Consent.objects.filter(user=OuterRef("pk"), channel=Channel.EMAIL, given=True))
    )
    for user_id, at in joined.values_list("pk", "date_joined"):
        run = FlowRun.objects.create(flow=welcome, user_id=user_id, key="welcome", status=FlowRun.Status.DONE,
                                     started_at=at, ended_at=at + dt.timedelta(days=3), next_position=3)  # fmt: skip
        Message.objects.create(step=first, run=run, user_id=user_id, channel=Channel.EMAIL, status=S.SENT,
                               created_at=at, send_after=at, sent_at=at + dt.timedelta(minutes=1), attempts=1,
                               clicked_at=at + dt.timedelta(hours=1) if rng.random() < 0.2 else None)  # fmt: skip
    ctx.log(f"flows: {FlowRun.objects.count():,} runs, {Message.objects.filter(step__isnull=False).count():,} messages")


def _onsite_for_the_shopper(segments, now) -> None:
    """A message in the store waiting on the demo shopper's account page."""
    shopper = User.objects.filter(email="shopper@example.com").first()
    if shopper is None:
        return
    campaign = Campaign.objects.create(
        name="Members' weekend (in the store)", channel=Channel.ONSITE, segment=segments["email-subscribers"],
        status=Campaign.Status.SENT, started_at=now - dt.timedelta(hours=2), finished_at=now - dt.timedelta(hours=1),
        listed_at=now - dt.timedelta(hours=2),
    )  # fmt: skip
    Variant.objects.create(
        campaign=campaign, key="a", subject="Members' weekend",
        body_text="{{ first_name }}, double points on everything until Sunday.", url="/products/",
    )  # fmt: skip
    Message.objects.create(campaign=campaign, user=shopper, channel=Channel.ONSITE, status=S.SENT, variant="a",
                           sent_at=now - dt.timedelta(hours=1), attempts=1)  # fmt: skip
