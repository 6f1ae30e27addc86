"""Which promotions apply to a priced cart, why not when they don't, and for how much.

Pure computation over a PricedCart (shop.cart.pricing) and the promotions'
rows; the adjusters turn the result into pricing lines and the services claim
it at checkout. Every amount is rounded to the currency's minor unit, a
discount never exceeds what its lines cost, and an order-level discount is
allocated over lines so that the parts add up exactly (refunds use them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import formats, timezone
from django.utils.translation import gettext as _

from marketing.discounts import index, segments
from marketing.discounts.models import DiscountCode, Promotion, Redemption
from shop.cart.pricing import allocate, customer_key, depends_on, valid_until
from shop.core.money import Money, quantize

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str = ""
    message: str = ""


OK = Verdict(True)


@dataclass
class Applied:
    promotion: Promotion
    code: DiscountCode | None
    amount: Money  # positive: what the customer saves
    allocations: dict = field(default_factory=dict)  # cart line id -> Decimal share of amount


def refuse(reason: str, message: str) -> Verdict:
    return Verdict(False, reason, message)


def check(promotion: Promotion, *, priced, customer, code: DiscountCode | None = None, now=None) -> Verdict:
    """Whether the promotion applies to this cart and customer; if not, the reason in words."""
    now = now or timezone.now()
    if not promotion.is_active:
        return refuse("inactive", _("This code is no longer valid."))
    if promotion.starts_at > now:
        return refuse(
            "not_started",
            _("This code can be used from %(date)s.") % {"date": _when(promotion.starts_at)},
        )
    if promotion.ends_at is not None and promotion.ends_at <= now:
        return refuse(
            "expired",
            _("This code expired on %(date)s.") % {"date": _when(promotion.ends_at)},
        )
    if promotion.usage_limit is not None and promotion.times_used >= promotion.usage_limit:
        return refuse("used_up", _("This offer has been fully claimed."))
    if code is not None and code.max_uses is not None and code.times_used >= code.max_uses:
        return refuse("already_used", _("This code has already been used."))
    verdict = _check_customer(promotion, customer)
    if not verdict.ok:
        return verdict
    lines = eligible_lines(promotion, priced)
    if not lines:
        return refuse("no_matching_products", _("This code does not apply to the products in your cart."))
    if promotion.min_subtotal is not None and priced.subtotal.amount < promotion.min_subtotal:
        missing = Money(promotion.min_subtotal - priced.subtotal.amount, priced.currency)
        return refuse(
            "minimum_not_met",
            _("Spend %(missing)s more to use this code (minimum %(minimum)s).")
            % {"missing": missing.format(), "minimum": Money(promotion.min_subtotal, priced.currency).format()},
        )
    quantity = sum(line.quantity for line in lines)
    if promotion.min_quantity is not None and quantity < promotion.min_quantity:
        return refuse(
            "minimum_quantity_not_met",
            _("Add %(n)d more eligible item(s) to use this code.") % {"n": promotion.min_quantity - quantity},
        )
    if promotion.kind == Promotion.Kind.BUY_X_GET_Y and quantity < promotion.buy_quantity + promotion.get_quantity:
        return refuse(
            "minimum_quantity_not_met",
            _("Buy %(x)d and get %(y)d: add %(n)d more eligible item(s).")
            % {
                "x": promotion.buy_quantity,
                "y": promotion.get_quantity,
                "n": promotion.buy_quantity + promotion.get_quantity - quantity,
            },
        )
    return OK


def _when(moment) -> str:
    # In the store's time zone; without a trailing dot ("6:30 p.m."), as the sentence ends with one.
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT").rstrip(".")


def _check_customer(promotion: Promotion, customer) -> Verdict:
    chosen = for_chosen_customers(promotion)
    restricted = promotion.first_order_only or promotion.usage_limit_per_customer or promotion.segment or chosen
    if not restricted:
        return OK
    if customer is None:
        return refuse("login_required", _("Log in to use this code."))
    if chosen and not _is_chosen(promotion, customer):
        return refuse("not_for_account", _("This code is not available for your account."))
    if promotion.segment and not segments.is_member(promotion.segment, customer):
        return refuse("not_for_account", _("This code is not available for your account."))
    if promotion.first_order_only and getattr(promotion, "customer_has_ordered", None) is None:
        promotion.customer_has_ordered = _has_ordered(customer)
    if promotion.first_order_only and promotion.customer_has_ordered:
        return refuse("not_first_order", _("This code is for a first order only."))
    if promotion.usage_limit_per_customer is not None:
        used = getattr(promotion, "used_by_customer", None)  # index.prepared() reads it with the candidates
        if used is None:
            used = Redemption.objects.filter(
                promotion=promotion, customer=customer, status=Redemption.Status.ACTIVE
            ).count()
        if used >= promotion.usage_limit_per_customer:
            return refuse("already_used", _("You have already used this code."))
    return OK


def for_chosen_customers(promotion: Promotion) -> bool:
    """Whether only chosen customers may use it (candidates() counts them in its one query)."""
    if not promotion.pk:
        return False
    count = getattr(promotion, "chosen_customers", None)
    return promotion.customers.exists() if count is None else count > 0


def _is_chosen(promotion: Promotion, customer) -> bool:
    mine = getattr(promotion, "chosen_me", None)  # candidates() prefetches only this customer's row
    if mine is None:
        return promotion.customers.filter(pk=customer.pk).exists()
    return bool(mine)


def _has_ordered(customer) -> bool:
    from shop.orders.models import PAID_STATES, Order, S

    return Order.objects.filter(user=customer, status__in=[*PAID_STATES, S.REFUNDED]).exists()


def eligible_lines(promotion: Promotion, priced) -> list:
    allowed, excluded = _scope(promotion)
    lines = [line for line in priced.lines if line.product.pk not in excluded]
    if promotion.scope == Promotion.Scope.CATEGORIES:
        lines = [line for line in lines if _ancestor_paths(line.product.category.path) & allowed]
    elif promotion.scope == Promotion.Scope.PRODUCTS:
        lines = [line for line in lines if line.product.pk in allowed]
    if promotion.exclude_on_sale:
        lines = [line for line in lines if line.product.compare_at_price is None]
    return lines


def _scope(promotion: Promotion) -> tuple[set, set]:
    """(allowed category paths or product ids, excluded product ids), read once per promotion instance.

    `.all()` reads what candidates() prefetched for every promotion at once (no query
    here); a promotion loaded otherwise (a code's, the admin preview's) reads its own.
    A category covers everything below it: a line is in scope when one of its
    category's ancestor paths (itself included) is chosen.
    """
    cached = getattr(promotion, "_scope_ids", None)
    if cached is None:
        if promotion.scope == Promotion.Scope.CATEGORIES:
            allowed = {category.path for category in promotion.categories.all()}
        elif promotion.scope == Promotion.Scope.PRODUCTS:
            allowed = {product.pk for product in promotion.products.all()}
        else:
            allowed = set()
        cached = promotion._scope_ids = (allowed, {product.pk for product in promotion.excluded_products.all()})
    return cached


def _ancestor_paths(path: str) -> set[str]:
    """ "home/kitchen/pans" -> {"home", "home/kitchen", "home/kitchen/pans"} (paths are chains of slugs)."""
    parts = path.split("/")
    return {"/".join(parts[:depth]) for depth in range(1, len(parts) + 1)}


def candidates(
    *, priced, customer, kinds: set[str], now, code: DiscountCode | None = None, memo: dict | None = None
) -> list[Promotion]:
    """The running automatic promotions that could apply to these lines, found by scope in the index.

    Whole-order promotions, those naming a product in the cart, and those naming a
    category above one: a promotion for other products costs nothing, however many
    there are. The index (marketing/discounts/index.py) holds their scope, read once
    per change to promotions; what changes per order or per customer is read for the
    promotions found here in one query. A `code` on the cart gets its promotion
    prepared in the same query (code.promotion is replaced by the prepared copy). With the
    pricing's `memo`, what was read is declared there (shop.cart.pricing.depends_on): the
    index's version, the live facts' tokens, the next moment a promotion starts or ends.
    """
    if memo is not None:
        depends_on(memo, [index.VERSION_KEY])  # before the index is read
    product_ids = {line.product.pk for line in priced.lines}
    paths = set().union(*(_ancestor_paths(line.product.category.path) for line in priced.lines))
    found = index.current()
    running = [
        p
        for p in found.automatic(product_ids, paths)
        if p.kind in kinds and p.starts_at <= now and (p.ends_at is None or p.ends_at > now)
    ]
    wanted = list(running)
    coded = found.by_id.get(code.promotion_id) if code is not None else None
    if coded is not None and coded not in wanted:
        wanted.append(coded)
    if memo is not None:
        valid_until(memo, found.next_change(now))
        if customer is not None and any(p.segment for p in wanted):
            # A segment's test (segments.register) reads facts about the customer: those replace their token.
            depends_on(memo, [customer_key(customer.pk)])
    ready = {p.pk: p for p in index.prepared(wanted, customer, memo)}
    if coded is not None:
        code.promotion = ready[coded.pk]
    return [ready[p.pk] for p in running]


def compute(promotion: Promotion, lines, remaining: dict, currency: str) -> tuple[Decimal, dict]:
    """The saving on these lines (each line's share), within what each line still costs."""
    shares: dict = {}
    if promotion.kind == Promotion.Kind.PERCENTAGE:
        # Per unit, then times the quantity: each unit costs what its product page said (offers.py
        # prices one unit), so two units cost twice that, not a cent more or less.
        for line in lines:
            unit_share = quantize(line.unit_price.amount * promotion.value / HUNDRED, currency)
            shares[line.line_id] = min(unit_share * line.quantity, line.total.amount)
    elif promotion.kind == Promotion.Kind.FIXED:
        base = {line.line_id: remaining[line.line_id] for line in lines}
        shares = allocate(min(promotion.value, sum(base.values(), Decimal(0))), base, currency)
    elif promotion.kind == Promotion.Kind.BUY_X_GET_Y:
        shares = _buy_x_get_y(promotion, lines, currency)
    shares = {key: min(value, remaining[key]) for key, value in shares.items()}
    shares = {key: value for key, value in shares.items() if value > 0}
    total = sum(shares.values(), Decimal(0))
    cap = quantize(promotion.max_discount, currency) if promotion.max_discount is not None else None
    if cap is not None and total > cap:
        shares = allocate(cap, shares, currency)
        total = cap
    return total, shares


def _buy_x_get_y(promotion: Promotion, lines, currency: str) -> dict:
    # Dearest first; in every group of X + Y units the Y cheapest get the discount.
    units = sorted(
        ((line.unit_price.amount, line.line_id) for line in lines for _ in range(line.quantity)), reverse=True
    )
    size = promotion.buy_quantity + promotion.get_quantity
    raw: dict = {}
    for start in range(0, len(units) - size + 1, size):
        for price, line_id in units[start + promotion.buy_quantity : start + size]:
            raw[line_id] = raw.get(line_id, Decimal(0)) + price * promotion.value / HUNDRED
    return {line_id: quantize(amount, currency) for line_id, amount in raw.items()}


def evaluate(
    *,
    priced,
    customer,
    code: DiscountCode | None,
    kinds: set[str],
    shipping: Decimal = Decimal(0),
    now=None,
    found: list[Promotion] | None = None,
) -> tuple[list[Applied], Verdict]:
    """The promotions that apply (automatic ones and the cart's code), in priority order.

    Returns what applies and the code's own verdict (why it does not apply, for the customer).
    Stacking: promotions go by priority; one that does not combine applies only if nothing applied
    before it, and then nothing after it does.
    """
    now = now or timezone.now()
    if found is None:  # the adjusters pass what they read once per pricing (candidates())
        found = candidates(priced=priced, customer=customer, kinds=kinds, now=now, code=code) if priced.lines else []
    if code is not None and code.promotion.kind in kinds:
        # A code may also name an automatic promotion: it is still one promotion, applied once.
        found = [p for p in found if p.pk != code.promotion_id] + [code.promotion]
    return apply_in_order(found, priced=priced, customer=customer, code=code, shipping=shipping, now=now)


def apply_in_order(
    candidates: list[Promotion],
    *,
    priced,
    customer=None,
    code: DiscountCode | None = None,
    shipping: Decimal = Decimal(0),
    now=None,
) -> tuple[list[Applied], Verdict]:
    """Apply candidates by priority with the stacking rule; see evaluate()."""
    now = now or timezone.now()
    candidates = sorted(candidates, key=lambda p: (-p.priority, p.pk))
    remaining = {line.line_id: line.total.amount for line in priced.lines}
    applied: list[Applied] = []
    code_verdict = OK
    exclusive = False
    for promotion in candidates:
        this_code = code if code is not None and promotion.pk == code.promotion_id else None
        verdict = check(promotion, priced=priced, customer=customer, code=this_code, now=now)
        if verdict.ok and (exclusive or (not promotion.stackable and applied)):
            verdict = refuse("not_combinable", _("This code cannot be combined with the offer already applied."))
        if this_code is not None:
            code_verdict = verdict
        if not verdict.ok:
            continue
        if promotion.kind == Promotion.Kind.FREE_SHIPPING:
            cap = promotion.max_discount if promotion.max_discount is not None else shipping
            amount, shares = min(shipping, cap), {}
            shipping = Decimal(0)  # shipping is free once
        else:
            amount, shares = compute(promotion, eligible_lines(promotion, priced), remaining, priced.currency)
        if amount <= 0:
            if this_code is not None:
                code_verdict = refuse("no_discount", _("This code gives no discount on your cart."))
            continue
        for line_id, share in shares.items():
            remaining[line_id] -= share
        applied.append(Applied(promotion, this_code, Money(amount, priced.currency), shares))
        exclusive = exclusive or not promotion.stackable
    return applied, code_verdict
