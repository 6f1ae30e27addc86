"""The fields a segment's rules can test, and how each becomes a query on customers.

A rule is (field, operator, value, days). Each field knows its operators and turns a rule
into a `Q` on the customer model, mostly `pk__in=<subquery>`, so a segment of any number of
rules is one SQL query, evaluated where it is used (its size, a campaign's chunks, a promotion's
"only for a segment"). Facts from other apps come through their selectors.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db.models import Avg, Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from loyalty import selectors as loyalty_selectors
from marketing.analytics import selectors as analytics_selectors
from marketing.discounts import selectors as discount_selectors
from shop.accounts.models import Channel, Consent, Gender
from shop.catalog.models import Category
from shop.orders.models import Order, OrderStatus

# Orders that count as bought: paid and kept (refunded ones are not).
BOUGHT = (OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED)

OPERATORS = {
    "is": _("is"),
    "is_not": _("is not"),
    "in": _("is one of"),
    "gte": _("at least"),
    "lte": _("at most"),
    "between": _("between"),
    "within": _("within the last … days"),
    "before": _("more than … days ago"),
    "never": _("never"),
    "did": _("did"),
    "did_not": _("did not"),
}


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    group: str
    operators: tuple[str, ...]
    kind: str  # text, choice, number, money, age, days, event, segment
    choices: object = None  # a callable giving [(value, label)]
    help: str = ""
    build: object = field(default=None, compare=False)  # (operator, value, days, Context) -> Q


class RuleError(ValidationError):
    pass


@dataclass(frozen=True)
class Context:
    now: dt.datetime
    seen: frozenset = frozenset()  # the segments being resolved, to refuse a loop


def _number(value: str, *, money: bool = False) -> Decimal:
    try:
        number = Decimal(value.strip().replace(",", ""))
    except (InvalidOperation, AttributeError):
        raise RuleError(_("Enter a number, such as 3 or 49.90.")) from None
    if not number.is_finite() or number < 0 or number > Decimal("1e9") or (not money and number != int(number)):
        raise RuleError(_("Enter a whole number from 0.") if not money else _("Enter an amount from 0."))
    return number


def _days_ago(now: dt.datetime, days) -> dt.datetime:
    if days is None:
        raise RuleError(_("Say how many days."))
    return now - dt.timedelta(days=int(days))


def _text(profile_field: str):
    def build(op, value, days, ctx):
        values = [v.strip() for v in value.split(",") if v.strip()]
        if not values:
            raise RuleError(_("Enter a value."))
        q = Q()
        for v in values if op == "in" else values[:1]:
            q |= Q(**{f"profile__{profile_field}__iexact": v})
        return ~q if op == "is_not" else q

    return build


def _choice(profile_field: str):
    def build(op, value, days, ctx):
        q = Q(**{f"profile__{profile_field}": value})
        return ~q if op == "is_not" else q

    return build


def _age(op, value, days, ctx):
    today = timezone.localdate(ctx.now)

    def born_before(age: int) -> dt.date:  # whoever is at least `age` years old was born on or before
        try:
            return today.replace(year=today.year - age)
        except ValueError:  # 29 February
            return today.replace(year=today.year - age, day=28)

    if op == "between":
        low, _sep, high = value.partition("-")
        low, high = int(_number(low)), int(_number(high or low))
        if low > high:
            raise RuleError(_("Put the lower age first: 25-34."))
        return Q(
            profile__birthday__lte=born_before(low),
            profile__birthday__gt=born_before(high + 1),
        )
    age = int(_number(value))
    if op == "gte":
        return Q(profile__birthday__lte=born_before(age))
    return Q(profile__birthday__gt=born_before(age + 1))


def _orders_aggregate(aggregate, *, money: bool):
    def build(op, value, days, ctx):
        number = _number(value, money=money)
        orders = Order.objects.filter(status__in=BOUGHT, user__isnull=False)
        if days is not None:
            orders = orders.filter(placed_at__gte=_days_ago(ctx.now, days))
        totals = orders.order_by().values("user_id").annotate(figure=aggregate)
        if op == "gte":
            # At least 0 is everyone; a customer without orders has no row in the subquery.
            return Q() if number == 0 else Q(pk__in=totals.filter(figure__gte=number).values("user_id"))
        return ~Q(pk__in=totals.filter(figure__gt=number).values("user_id"))

    return build


def _last_order(op, value, days, ctx):
    bought = Order.objects.filter(status__in=BOUGHT, user=OuterRef("pk"))
    if op == "never":
        return ~Exists(bought)
    recent = Exists(bought.filter(placed_at__gte=_days_ago(ctx.now, days)))
    if op == "within":
        return recent
    return Exists(bought) & ~recent  # "more than N days ago": ordered before, not since


def _joined(op, value, days, ctx):
    since = _days_ago(ctx.now, days)
    return Q(date_joined__gte=since) if op == "within" else Q(date_joined__lt=since)


def _event(names):
    def build(op, value, days, ctx):
        since = _days_ago(ctx.now, days) if days is not None else None
        path = ""
        if value:
            path = Category.objects.filter(slug=value).values_list("path", flat=True).first()
            if path is None:
                raise RuleError(_("No category has the slug “%(slug)s”.") % {"slug": value})
        q = Q(pk__in=analytics_selectors.customers_with_events(names=names, since=since, category_path=path))
        return ~q if op == "did_not" else q

    return build


def _used_code(op, value, days, ctx):
    promotion = int(_number(value)) if value else None
    q = Q(pk__in=discount_selectors.customers_who_redeemed(promotion_id=promotion))
    return ~q if op == "did_not" else q


def _rfm(op, value, days, ctx):
    values = [v.strip() for v in value.split(",") if v.strip()]
    if not values or not set(values) <= {v for v, _label in analytics_selectors.rfm_choices()}:
        raise RuleError(_("Choose RFM groups from the list."))
    q = Q(pk__in=analytics_selectors.customers_in_rfm(segments=values))
    return ~q if op == "is_not" else q


def _tier(op, value, days, ctx):
    if not value:
        raise RuleError(_("Choose a tier."))
    q = Q(pk__in=loyalty_selectors.members_in_tier(tier_name=value))
    return ~q if op == "is_not" else q


def _consent(op, value, days, ctx):
    if value not in Channel.values:
        raise RuleError(_("Choose a channel."))
    q = Exists(Consent.objects.filter(user=OuterRef("pk"), channel=value, given=True))
    return q if op == "is" else ~q


def _in_segment(op, value, days, ctx):
    from marketing.campaigns import segments  # segments read rules: imported when a rule names a segment

    if value in ctx.seen:
        raise RuleError(_("A segment cannot contain itself, even through another segment."))
    q = Q(pk__in=segments.members_by_key(key=value, now=ctx.now, seen=ctx.seen).values("pk"))
    return ~q if op == "is_not" else q


def _category_choices():
    return list(Category.objects.order_by("path").values_list("slug", "name"))


def _segment_choices():
    from marketing.campaigns.models import Segment

    return list(Segment.objects.values_list("key", "name"))


FIELDS = [
    Field(
        "age", _("age"), _("Who they are"), ("between", "gte", "lte"), "age", help=_("An age band: 25-34."), build=_age
    ),
    Field(
        "gender",
        _("gender"),
        _("Who they are"),
        ("is", "is_not"),
        "choice",
        lambda: Gender.choices,
        build=_choice("gender"),
    ),
    Field("city", _("city"), _("Who they are"), ("is", "is_not", "in"), "text", build=_text("city")),
    Field("region", _("region"), _("Who they are"), ("is", "is_not", "in"), "text", build=_text("region")),
    Field(
        "country",
        _("country"),
        _("Who they are"),
        ("is", "is_not", "in"),
        "text",
        build=_text("country"),
        help=_("Codes: US, CA."),
    ),
    Field("joined", _("joined"), _("Who they are"), ("within", "before"), "days", build=_joined),
    Field(
        "consent",
        _("consent"),
        _("Who they are"),
        ("is", "is_not"),
        "choice",
        lambda: Channel.choices,
        build=_consent,
        help=_("“is” a channel: they agreed to it."),
    ),
    Field(
        "viewed",
        _("viewed a product"),
        _("What they do"),
        ("did", "did_not"),
        "event",
        _category_choices,
        build=_event(["view_item"]),
        help=_("Optionally in a category; needs their consent to personalisation."),
    ),
    Field(
        "added_to_cart",
        _("added to cart"),
        _("What they do"),
        ("did", "did_not"),
        "event",
        _category_choices,
        build=_event(["add_to_cart"]),
    ),
    Field("last_order", _("last order"), _("What they buy"), ("within", "before", "never"), "days", build=_last_order),
    Field(
        "order_count",
        _("orders"),
        _("What they buy"),
        ("gte", "lte"),
        "number",
        build=_orders_aggregate(Count("id"), money=False),
    ),
    Field(
        "total_spend",
        _("total spent"),
        _("What they buy"),
        ("gte", "lte"),
        "money",
        build=_orders_aggregate(Sum("total"), money=True),
    ),
    Field(
        "average_order",
        _("average order"),
        _("What they buy"),
        ("gte", "lte"),
        "money",
        build=_orders_aggregate(Avg("total"), money=True),
    ),
    Field(
        "used_code",
        _("used a discount"),
        _("What they buy"),
        ("did", "did_not"),
        "choice",
        discount_selectors.promotion_choices,
        build=_used_code,
        help=_("Any promotion, or the one chosen."),
    ),
    Field(
        "rfm",
        _("RFM group"),
        _("Scores"),
        ("is", "is_not", "in"),
        "choice",
        analytics_selectors.rfm_choices,
        build=_rfm,
    ),
    Field(
        "tier",
        _("loyalty tier"),
        _("Scores"),
        ("is", "is_not"),
        "choice",
        lambda: [(n, n) for n in loyalty_selectors.tier_names()],
        build=_tier,
    ),
    Field("segment", _("in segment"), _("Segments"), ("is", "is_not"), "segment", _segment_choices, build=_in_segment),
]
BY_KEY = {f.key: f for f in FIELDS}


def rule_q(*, field_key: str, operator: str, value: str, days: int | None, ctx: Context) -> Q:
    """The condition a rule puts on customers. Raises RuleError (a ValidationError) when the
    rule cannot be read, with what to change."""
    spec = BY_KEY.get(field_key)
    if spec is None:
        raise RuleError(_("Unknown field “%(field)s”.") % {"field": field_key})
    if operator not in spec.operators:
        raise RuleError(
            _("“%(field)s” cannot be tested with “%(op)s”.")
            % {"field": spec.label, "op": OPERATORS.get(operator, operator)}
        )
    if spec.kind == "days" and operator != "never" and days is None:
        raise RuleError(_("Say how many days, in “in the last … days”."))
    return spec.build(operator, (value or "").strip(), days, ctx)


def field_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    groups: dict[str, list] = {}
    for f in FIELDS:
        groups.setdefault(str(f.group), []).append((f.key, f.label))
    return list(groups.items())


def operator_choices() -> list[tuple[str, str]]:
    return list(OPERATORS.items())
